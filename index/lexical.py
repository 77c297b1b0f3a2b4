"""The lexical side: BM25 (rank-bm25's Okapi scoring) over an inverted index of chunk terms.

Postings are kept as CSR arrays (term -> chunk rows, term frequencies) so that a query touches only
the chunks that contain its terms, and so that start-up loads arrays instead of re-tokenising the
corpus. rank-bm25 scores the candidates with `get_batch_scores` on a per-query view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from index.files import write_atomic

K1, B, EPSILON = 1.5, 0.75, 0.25


class _ArrayLookup:
    """Lets rank-bm25 read `idf.get(term_id)` from a numpy array."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def get(self, key: int, default: float | None = None) -> float | None:
        return float(self.values[key]) if 0 <= key < len(self.values) else default


class LexicalIndex:
    """BM25 over chunks; rows are positions, `chunk_ids[row]` the stable chunk id."""

    def __init__(
        self,
        terms: list[str],
        chunk_ids: np.ndarray,
        doc_len: np.ndarray,
        indptr: np.ndarray,
        postings: np.ndarray,
        tfs: np.ndarray,
        idf: np.ndarray,
        max_candidates: int = 4000,
    ) -> None:
        self.terms = terms
        self.term_ids = {t: i for i, t in enumerate(terms)}
        self.chunk_ids, self.doc_len = chunk_ids, doc_len
        self.indptr, self.postings, self.tfs, self.idf = indptr, postings, tfs, idf
        self.avgdl = float(doc_len.mean()) if len(doc_len) else 0.0
        self.max_candidates = max_candidates

    @classmethod
    def empty(cls) -> LexicalIndex:
        z = np.zeros(0, dtype=np.int64)
        return cls(
            [],
            z,
            z.astype(np.float64),
            np.zeros(1, np.int64),
            z.astype(np.int32),
            z.astype(np.int32),
            z.astype(np.float64),
        )

    def __len__(self) -> int:
        return len(self.chunk_ids)

    # --- building ---------------------------------------------------------------------------
    def updated(
        self, added: Sequence[tuple[int, Sequence[str]]], removed: Iterable[int] = ()
    ) -> LexicalIndex:
        """A new index with `added` (chunk id, terms) and without the `removed` chunk ids."""
        removed_ids = np.fromiter(removed, dtype=np.int64)
        keep = (
            ~np.isin(self.chunk_ids, removed_ids) if len(removed_ids) else np.ones(len(self), bool)
        )
        new_row = np.cumsum(keep) - 1
        term_of = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.indptr))
        live = keep[self.postings] if len(self.postings) else np.zeros(0, bool)
        terms_col = [term_of[live]]
        rows_col = [new_row[self.postings[live]]]
        tfs_col = [self.tfs[live].astype(np.int32)]

        vocab, term_ids = list(self.terms), dict(self.term_ids)
        first_row = int(keep.sum())
        lengths = []
        for offset, (_, tokens) in enumerate(added):
            counts = Counter(tokens)
            lengths.append(len(tokens))
            ids = []
            for term in counts:
                tid = term_ids.get(term)
                if tid is None:
                    tid = term_ids[term] = len(vocab)
                    vocab.append(term)
                ids.append(tid)
            terms_col.append(np.array(ids, dtype=np.int64))
            rows_col.append(np.full(len(ids), first_row + offset, dtype=np.int64))
            tfs_col.append(np.fromiter(counts.values(), dtype=np.int32, count=len(counts)))

        term_arr, row_arr, tf_arr = (np.concatenate(c) for c in (terms_col, rows_col, tfs_col))
        order = np.lexsort((row_arr, term_arr))
        counts_per_term = np.bincount(term_arr, minlength=len(vocab))
        indptr = np.concatenate([[0], np.cumsum(counts_per_term)]).astype(np.int64)
        chunk_ids = np.concatenate(
            [self.chunk_ids[keep], np.array([cid for cid, _ in added], dtype=np.int64)]
        )
        doc_len = np.concatenate([self.doc_len[keep], np.array(lengths, dtype=np.float64)])
        idf = _rank_bm25_idf(len(chunk_ids), counts_per_term)
        return LexicalIndex(
            vocab, chunk_ids, doc_len, indptr, row_arr[order].astype(np.int32),
            tf_arr[order].astype(np.int32), idf, self.max_candidates,
        )  # fmt: skip

    # --- querying ---------------------------------------------------------------------------
    def search(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the k best chunks that share a term with the query."""
        query = [self.term_ids[t] for t in query_terms if t in self.term_ids]
        if not query or not len(self) or k <= 0:
            return []
        unique = list(dict.fromkeys(query))
        slices = [(t, self.indptr[t], self.indptr[t + 1]) for t in unique]
        total = sum(int(e - s) for _, s, e in slices)
        if total <= self.max_candidates:
            candidates = np.unique(np.concatenate([self.postings[s:e] for _, s, e in slices]))
        else:  # too many: keep the chunks that match the rarest terms best
            weight = np.zeros(len(self), dtype=np.float64)
            for t, s, e in slices:
                weight[self.postings[s:e]] += max(self.idf[t], 1e-3)
            top = np.argpartition(-weight, self.max_candidates - 1)[: self.max_candidates]
            candidates = np.sort(top[weight[top] > 0])
        views: list[dict[int, int]] = [{} for _ in range(len(candidates))]
        for t, s, e in slices:
            rows = self.postings[s:e]
            pos = np.searchsorted(candidates, rows)
            pos[pos == len(candidates)] = 0
            hit = candidates[pos] == rows
            for p, tf in zip(pos[hit].tolist(), self.tfs[s:e][hit].tolist(), strict=True):
                views[p][t] = tf
        scorer = BM25Okapi.__new__(BM25Okapi)  # rank-bm25's scoring on a per-query view
        scorer.k1, scorer.b, scorer.epsilon, scorer.avgdl = K1, B, EPSILON, self.avgdl
        scorer.idf, scorer.doc_freqs = _ArrayLookup(self.idf), views
        scorer.doc_len = self.doc_len[candidates]
        scores = np.asarray(scorer.get_batch_scores(query, list(range(len(candidates)))))
        best = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.chunk_ids[candidates[i]]), float(scores[i])) for i in best]

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        vocab = np.frombuffer("\n".join(self.terms).encode(), dtype=np.uint8)
        arrays = {
            "vocab": vocab, "chunk_ids": self.chunk_ids, "doc_len": self.doc_len,
            "indptr": self.indptr, "postings": self.postings, "tfs": self.tfs, "idf": self.idf,
        }  # fmt: skip

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        write_atomic(path, write)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        with np.load(path, allow_pickle=False) as data:
            blob = data["vocab"].tobytes().decode()
            terms = blob.split("\n") if blob else []
            return cls(
                terms, data["chunk_ids"], data["doc_len"], data["indptr"], data["postings"],
                data["tfs"], data["idf"],
            )  # fmt: skip


def _rank_bm25_idf(corpus_size: int, doc_freq: np.ndarray) -> np.ndarray:
    """rank-bm25's Okapi idf (negative values floored at epsilon x the mean), per term id."""
    scorer = BM25Okapi.__new__(BM25Okapi)
    scorer.corpus_size, scorer.epsilon, scorer.idf = corpus_size, EPSILON, {}
    present = np.flatnonzero(doc_freq)
    if len(present):
        scorer._calc_idf(dict(zip(present.tolist(), doc_freq[present].tolist(), strict=True)))
    idf = np.zeros(len(doc_freq), dtype=np.float64)
    for term, value in scorer.idf.items():
        idf[term] = value
    return idf
