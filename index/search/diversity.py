"""Other articles among the passages shown: the best ones stay first for the reader, the rest of
the list makes room for articles it would otherwise crowd out."""

from __future__ import annotations

from collections.abc import Sequence

from index.models import Hit


def spread(hits: Sequence[Hit], k: int, head: int) -> list[Hit]:
    """The first `head` hits as ranked (what the reader reads), then up to `k` in all, taking next
    the best passage of each article not yet in the list, and only then more passages of the
    articles already there (in rank order)."""
    chosen = list(hits[: min(head, k)])
    seen = {hit.article_id for hit in chosen}
    rest = list(hits[len(chosen) :])
    fresh, again = [], []
    for hit in rest:
        (again if hit.article_id in seen else fresh).append(hit)
        seen.add(hit.article_id)
    chosen += (fresh + again)[: max(0, k - len(chosen))]
    return chosen
