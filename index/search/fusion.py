"""Reciprocal-rank fusion of several ranked lists of chunk ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[tuple[int, float]]],
    weights: Mapping[str, float],
    k: int = 60,
) -> list[tuple[int, float, dict[str, int]]]:
    """(chunk id, fused score, {retriever: 1-based rank}) best first; score = sum w / (k + rank)."""
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (k + rank)
            ranks.setdefault(chunk_id, {})[name] = rank
    order = sorted(scores, key=lambda cid: (-scores[cid], min(ranks[cid].values())))
    return [(cid, scores[cid], ranks[cid]) for cid in order]
