"""Other articles among the passages shown: the best ones stay first for the reader, the rest of
the list makes room for articles it would otherwise crowd out."""

from __future__ import annotations

from collections.abc import Sequence

from index.models import Hit


def firsts_read(hits: Sequence[Hit], head: int) -> list[Hit]:
    """`hits` with each retriever's own first choice among the first `head`: one that fell below
    moves up to the last of them (the passages above it keep their places). The fused ranking can
    bury a passage one side is sure of ("left" is not "leave" for BM25, while the dense side ranks
    the passage that answers first); the reader then still gets to read it."""
    if head < 1:
        return list(hits)
    first = [1 in (h.ranks or {}).values() for h in hits]
    below = [row for row in range(head, len(hits)) if first[row]]
    movable = [row for row in range(min(head, len(hits))) if not first[row]]
    n = min(len(below), len(movable))
    if not n:
        return list(hits)
    up, down = below[:n], movable[len(movable) - n :]
    order = [r for r in range(head) if r not in down] + up
    order += down + [r for r in range(head, len(hits)) if r not in up]
    return [hits[r] for r in order]


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
