"""Dense search restricted to a set of chunk ids (a filter's selection), recall kept.

- Exact (flat) index: FAISS searches with an `IDSelectorBatch` of the allowed ids, so the result is
  the exact top k among them however few they are.
- Inverted-file index, few allowed chunks (at most EXACT_SUBSET_LIMIT): their vectors are
  reconstructed by id and scored exactly; an IVF probe of a few lists could hold none of them.
- Inverted-file index, many allowed chunks: IVF search with the selector and the usual nprobe, which
  has the unfiltered search's recall when the selection is a large share of the index.
"""

from __future__ import annotations

import faiss
import numpy as np

EXACT_SUBSET_LIMIT = 20_000


def restricted_search(
    index: faiss.Index, ivf: faiss.IndexIVF | None, query: np.ndarray, k: int, allowed: np.ndarray
) -> list[tuple[int, float]]:
    """(chunk id, score) of the k best chunks among `allowed`, best first."""
    from index.search.dense import one_omp_thread

    allowed = np.ascontiguousarray(allowed, dtype=np.int64)
    if not len(allowed) or k <= 0:
        return []
    k = min(k, len(allowed))
    with one_omp_thread():
        if ivf is not None and len(allowed) <= EXACT_SUBSET_LIMIT:
            return _exact_subset(ivf, query, k, allowed)
        selector = faiss.IDSelectorBatch(allowed)
        if ivf is not None:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, ids = index.search(query, k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def _exact_subset(
    ivf: faiss.IndexIVF, query: np.ndarray, k: int, allowed: np.ndarray
) -> list[tuple[int, float]]:
    ids, vectors = _reconstruct(ivf, allowed)
    if not len(ids):
        return []
    scores = vectors @ query[0]
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top]


def _reconstruct(ivf: faiss.IndexIVF, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids this index holds and their vectors (the database may be a generation ahead)."""
    try:
        return ids, ivf.reconstruct_batch(ids)
    except RuntimeError:  # an id it does not hold: one at a time, skipping those
        kept, vectors = [], []
        for i in ids.tolist():
            try:
                vectors.append(ivf.reconstruct(i))
            except RuntimeError:
                continue
            kept.append(i)
        if not kept:
            return np.zeros(0, np.int64), np.zeros((0, ivf.d), np.float32)
        return np.array(kept, dtype=np.int64), np.stack(vectors)
