"""Fusing the ranked lists of the retrievers (dense, BM25) into one ranking of chunk ids.

Three ways, chosen with NEWSDESK_FUSION (EVALUATION.md compares them on the dev sets):

- `convex` (the default): each list's scores normalised, then a weighted sum (a candidate a
  retriever did not return scores 0 there). BM25 scores are divided by the best one: they start at
  zero for a passage sharing nothing with the question, so the ratio to the best says how close a
  runner-up comes. Cosine scores have no such zero (unrelated passages still score 0.1-0.3), so
  they are min-max normalised over the candidates. Keeps how sure each side is: a BM25 hit far ahead
  of its runners-up on a name or a number is not outvoted by a dense near-miss.
- `dbsf`: distribution-based score fusion: each list's scores mapped to [0, 1] over
  mean ± 3 standard deviations of that list, then a weighted sum.
- `rrf`: reciprocal-rank fusion, score = sum of weight / (k + rank); ranks only.

Each list counts only its first `depth` candidates (the rest score 0 from it but stay in the
ranking, behind): far down a list the scores say little, and on the dev sets fusing the top 20 of
each ranked better than fusing all 50.

For a keyword-like question (a number, a quoted phrase, a name inside it) the dense weight is
multiplied by `keyword_dense_factor`: exact terms are what BM25 is good at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from index.settings import FusionMethod

Ranking = Sequence[tuple[int, float]]  # (chunk id, retriever score) best first
Fused = list[tuple[int, float, dict[str, int]]]  # (chunk id, fused score, {retriever: rank})


_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{2,})[\"“”«»]")
_NUMBER = re.compile(r"\d")
_NAME = re.compile(r"(?<=\s)[A-Z][\w'’-]+")  # a capitalised word after the first one


def keyword_like(query: str) -> bool:
    """Whether the question hinges on exact terms: a digit, a quoted phrase or a proper name."""
    return bool(_NUMBER.search(query) or _QUOTED.search(query) or _NAME.search(query.strip()))


def _ranks(rankings: Mapping[str, Ranking]) -> dict[int, dict[str, int]]:
    ranks: dict[int, dict[str, int]] = {}
    for name, ranking in rankings.items():
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            ranks.setdefault(chunk_id, {})[name] = rank
    return ranks


def _ordered(scores: dict[int, float], ranks: dict[int, dict[str, int]]) -> Fused:
    order = sorted(scores, key=lambda cid: (-scores[cid], min(ranks[cid].values()), cid))
    return [(cid, scores[cid], ranks[cid]) for cid in order]


def reciprocal_rank_fusion(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float], k: int = 60
) -> Fused:
    """(chunk id, fused score, {retriever: 1-based rank}) best first; score = sum w / (k + rank)."""
    ranks = _ranks(rankings)
    scores: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (k + rank)
    return _ordered(scores, ranks)


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values)
    return (values - low) / (high - low)


def _by_max(values: np.ndarray) -> np.ndarray:
    high = float(values.max())
    if high <= 1e-9:
        return np.ones_like(values)
    return np.clip(values / high, 0.0, 1.0)


def _three_sigma(values: np.ndarray) -> np.ndarray:
    mean, std = float(values.mean()), float(values.std())
    if std < 1e-9:
        return np.ones_like(values)
    return np.clip((values - (mean - 3 * std)) / (6 * std), 0.0, 1.0)


def _normaliser(method: FusionMethod, retriever: str):
    if method is FusionMethod.DBSF:
        return _three_sigma
    return _by_max if retriever == "bm25" else _min_max


def score_fusion(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float], method: FusionMethod
) -> Fused:
    """Weighted sum of the normalised scores (`convex` or `dbsf`), best first."""
    ranks = _ranks(rankings)
    scores: dict[int, float] = {}
    total = sum(weights.get(name, 1.0) for name, ranking in rankings.items() if ranking) or 1.0
    for name, ranking in rankings.items():
        if not ranking:
            continue
        weight = weights.get(name, 1.0) / total
        normalised = _normaliser(method, name)(
            np.array([score for _, score in ranking], dtype=np.float64)
        )
        for (chunk_id, _), value in zip(ranking, normalised, strict=True):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * float(value)
    return _ordered(scores, ranks)


def fuse(
    rankings: Mapping[str, Ranking],
    *,
    method: FusionMethod,
    weights: Mapping[str, float],
    rrf_k: int = 60,
    query: str = "",
    keyword_dense_factor: float = 1.0,
    depth: int | None = None,
) -> Fused:
    """One ranking from the retrievers' lists, by `method`; see the module docstring."""
    deep = depth is not None and depth > 0
    scored = {name: ranking[:depth] for name, ranking in rankings.items()} if deep else rankings
    weights = dict(weights)
    if keyword_dense_factor != 1.0 and "dense" in weights and keyword_like(query):
        weights["dense"] *= keyword_dense_factor
    if method is FusionMethod.RRF:
        fused = reciprocal_rank_fusion(scored, weights, rrf_k)
    else:
        fused = score_fusion(scored, weights, method)
    return _behind(fused, rankings) if deep else fused


def _behind(fused: Fused, rankings: Mapping[str, Ranking]) -> Fused:
    """`fused` with every candidate's true ranks, then the candidates beyond the depth, by their
    best rank (score 0)."""
    ranks = _ranks(rankings)
    seen = {cid for cid, _, _ in fused}
    tail = sorted((c for c in ranks if c not in seen), key=lambda c: (min(ranks[c].values()), c))
    return [(cid, s, ranks[cid]) for cid, s, _ in fused] + [(cid, 0.0, ranks[cid]) for cid in tail]
