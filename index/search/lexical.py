"""The lexical side: BM25 (rank-bm25's Okapi scoring) over an inverted index of chunk terms.

Postings are kept as CSR arrays (term -> chunk rows, term frequencies), rows ascending within a
term, so that a query touches only the postings of its own terms:

- every chunk that shares a term with the query gets its exact BM25 score from one vectorised pass
  over those postings (no Python loop over chunks), and the best `max_candidates` are then scored by
  rank-bm25's `get_batch_scores` on a per-query view, so the scores are rank-bm25's own;
- the vocabulary is sorted and looked up by binary search, so start-up builds no dict;
- the file is an uncompressed .npz whose arrays are 64-byte aligned and memory-mapped on load, so
  start-up reads nothing but headers and never re-tokenises the corpus;
- `updated()` inserts the new postings into the sorted arrays (one O(postings) pass, no re-sort).
"""

from __future__ import annotations

import struct
import zipfile
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from index.atomic import write_atomic

# k1 1.2 (Lucene's and Elasticsearch's default) rather than rank-bm25's 1.5: measured on both dev
# sets by benchmarks/lexical.py (EVALUATION.md, "BM25")
K1, B, EPSILON = 1.2, 0.75, 0.25
_ALIGN = 64  # numpy pads .npy headers to 64 bytes; the zip entries start on 64 bytes too
_EXACT_UNIQUE_LIMIT = 50_000  # matched postings above which scores accumulate in an N-sized array


class _ArrayLookup:
    """Lets rank-bm25 read `idf.get(term_id)` from a numpy array."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def get(self, key: int, default: float | None = None) -> float | None:
        return float(self.values[key]) if 0 <= key < len(self.values) else default


class Vocabulary(Sequence[bytes]):
    """Sorted terms as one UTF-8 blob and offsets; `id_of` is a binary search (term id = position)."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob, self.offsets = blob, offsets

    @classmethod
    def from_sorted(cls, terms: Sequence[str]) -> Vocabulary:
        encoded = [t.encode() for t in terms]
        lengths = np.fromiter((len(t) for t in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        return self.blob[self.offsets[i] : self.offsets[i + 1]].tobytes()

    def id_of(self, term: str) -> int | None:
        key = term.encode()
        i = bisect_left(self, key)
        return i if i < len(self) and self[i] == key else None

    def terms(self) -> list[str]:
        blob = self.blob.tobytes()
        offsets = self.offsets.tolist()
        return [blob[a:b].decode() for a, b in zip(offsets, offsets[1:], strict=False)]


class LexicalIndex:
    """BM25 over chunks; rows are positions, `chunk_ids[row]` the stable chunk id."""

    def __init__(
        self,
        vocab: Vocabulary,
        chunk_ids: np.ndarray,
        doc_len: np.ndarray,
        indptr: np.ndarray,
        postings: np.ndarray,
        tfs: np.ndarray,
        idf: np.ndarray,
        max_candidates: int = 1000,
    ) -> None:
        self.vocab = vocab
        self.chunk_ids, self.doc_len = chunk_ids, doc_len
        self.indptr, self.postings, self.tfs, self.idf = indptr, postings, tfs, idf
        self.avgdl = float(doc_len.mean()) if len(doc_len) else 0.0
        self.max_candidates = max_candidates

    @classmethod
    def empty(cls) -> LexicalIndex:
        z = np.zeros(0, dtype=np.int64)
        return cls(
            Vocabulary.from_sorted([]),
            z,
            z.astype(np.float64),
            np.zeros(1, np.int64),
            z.astype(np.int32),
            z.astype(np.uint16),
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
        indptr, postings, tfs = self.indptr, self.postings, self.tfs
        keep = None
        if len(removed_ids):
            keep = ~np.isin(self.chunk_ids, removed_ids)
        if keep is not None and not keep.all():
            new_row = (np.cumsum(keep) - 1).astype(np.int32)
            live = keep[postings]
            seen = np.concatenate([[0], np.cumsum(live)])
            indptr = seen[indptr].astype(np.int64)
            postings, tfs = new_row[postings[live]], tfs[live]
            chunk_ids, doc_len = self.chunk_ids[keep], self.doc_len[keep]
        else:
            chunk_ids, doc_len = self.chunk_ids, self.doc_len
        first_row = len(chunk_ids)

        # the added postings, grouped by term (sorted), rows ascending within a term
        counts = [Counter(tokens) for _, tokens in added]
        new_terms = sorted({t for c in counts for t in c})
        local = {t: i for i, t in enumerate(new_terms)}
        term_col = np.fromiter(
            (local[t] for c in counts for t in c), dtype=np.int64, count=sum(map(len, counts))
        )
        tf_col = np.fromiter((n for c in counts for n in c.values()), np.int64, len(term_col))
        row_col = np.repeat(
            np.arange(first_row, first_row + len(added), dtype=np.int64), [len(c) for c in counts]
        )
        order = np.lexsort((row_col, term_col))
        term_col, row_col, tf_col = term_col[order], row_col[order], tf_col[order]

        # where each new term sits in the old (sorted) vocabulary, and whether it is already there
        old = self.vocab
        where = np.array([bisect_left(old, t.encode()) for t in new_terms], dtype=np.int64)
        present = np.array(
            [i < len(old) and old[i] == t.encode() for i, t in zip(where, new_terms, strict=True)],
            dtype=bool,
        )
        # insert each new posting at the end of its term's run (or where a new term's run goes)
        at = np.where(present, indptr[np.minimum(where + 1, len(indptr) - 1)], indptr[where])
        postings = np.insert(postings, at[term_col], row_col.astype(np.int32))
        tf_dtype = (
            np.uint16 if tf_col.max(initial=0) < 2**16 and tfs.dtype == np.uint16 else np.int32
        )
        tfs = np.insert(tfs.astype(tf_dtype, copy=False), at[term_col], tf_col.astype(tf_dtype))

        # the merged vocabulary: old term i moves up by the new terms inserted before it
        fresh = np.flatnonzero(~present)
        fresh_where = where[fresh]
        old_ids = np.arange(len(old), dtype=np.int64)
        new_id_of_old = old_ids + np.searchsorted(fresh_where, old_ids, side="right")
        new_id_of_fresh = fresh_where + np.arange(len(fresh), dtype=np.int64)
        size = len(old) + len(fresh)
        df = np.zeros(size, dtype=np.int64)
        df[new_id_of_old] = np.diff(indptr)
        new_id_of_local = np.empty(len(new_terms), dtype=np.int64)
        new_id_of_local[present] = new_id_of_old[where[present]]
        new_id_of_local[fresh] = new_id_of_fresh
        df += np.bincount(new_id_of_local[term_col], minlength=size)
        indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
        vocab = _merge_vocab(old, [new_terms[i] for i in fresh], fresh_where)

        chunk_ids = np.concatenate([chunk_ids, np.array([c for c, _ in added], dtype=np.int64)])
        lengths = np.array([len(tokens) for _, tokens in added], dtype=np.float64)
        doc_len = np.concatenate([doc_len, lengths])
        idf = _rank_bm25_idf(len(chunk_ids), df)
        return LexicalIndex(
            vocab, chunk_ids, doc_len, indptr, postings, tfs, idf, self.max_candidates
        )

    # --- querying ---------------------------------------------------------------------------
    def search(
        self, query_terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the k best chunks that share a term with the query; with
        `allowed` (a boolean mask over rows), only those rows are candidates."""
        looked_up = (self.vocab.id_of(t) for t in query_terms)
        query = [t for t in looked_up if t is not None]
        if not query or not len(self) or k <= 0:
            return []
        rows, scores = self._exact_scores(Counter(query))
        if allowed is not None:
            inside = allowed[rows]
            rows, scores = rows[inside], scores[inside]
        if not len(rows):
            return []
        keep = min(len(rows), max(k, self.max_candidates))
        if keep < len(rows):
            top = np.argpartition(-scores, keep - 1)[:keep]
            rows = np.sort(rows[top])
        scorer = BM25Okapi.__new__(BM25Okapi)  # rank-bm25's scoring on a per-query view
        scorer.k1, scorer.b, scorer.epsilon, scorer.avgdl = K1, B, EPSILON, self.avgdl
        scorer.idf, scorer.doc_freqs = _ArrayLookup(self.idf), self._views(rows, set(query))
        scorer.doc_len = np.asarray(self.doc_len[rows])
        final = np.asarray(scorer.get_batch_scores(query, list(range(len(rows)))))
        best = np.argsort(-final, kind="stable")[:k]
        return [(int(self.chunk_ids[rows[i]]), float(final[i])) for i in best]

    def _exact_scores(self, query: Counter) -> tuple[np.ndarray, np.ndarray]:
        """Every row sharing a term with the query (ascending) and its BM25 score, vectorised."""
        row_parts, score_parts = [], []
        for term, times in query.items():
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            rows = np.asarray(self.postings[start:end])
            tf = np.asarray(self.tfs[start:end], dtype=np.float64)
            norm = K1 * (1 - B + B * np.asarray(self.doc_len[rows]) / self.avgdl)
            row_parts.append(rows)
            score_parts.append(times * float(self.idf[term]) * (tf * (K1 + 1)) / (tf + norm))
        rows, contrib = np.concatenate(row_parts), np.concatenate(score_parts)
        if len(rows) <= _EXACT_UNIQUE_LIMIT:
            unique, inverse = np.unique(rows, return_inverse=True)
            return unique, np.bincount(inverse, weights=contrib, minlength=len(unique))
        totals = np.bincount(rows, weights=contrib, minlength=len(self))
        matched = np.zeros(len(self), dtype=bool)
        matched[rows] = True
        unique = np.flatnonzero(matched)
        return unique, totals[unique]

    def _views(self, rows: np.ndarray, terms: set[int]) -> list[dict[int, int]]:
        """{term id: tf} of the query terms for each row (rows ascending); binary searches only."""
        views: list[dict[int, int]] = [{} for _ in range(len(rows))]
        for term in terms:
            start, end = int(self.indptr[term]), int(self.indptr[term + 1])
            term_rows = self.postings[start:end]
            pos = np.searchsorted(term_rows, rows)
            inside = pos < len(term_rows)
            hit = np.zeros(len(rows), dtype=bool)
            hit[inside] = term_rows[pos[inside]] == rows[inside]
            found = np.flatnonzero(hit)
            for i, tf in zip(found.tolist(), self.tfs[start:end][pos[found]].tolist(), strict=True):
                views[i][term] = tf
        return views

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        arrays = {
            "vocab": self.vocab.blob, "vocab_offsets": self.vocab.offsets,
            "chunk_ids": self.chunk_ids, "doc_len": self.doc_len, "indptr": self.indptr,
            "postings": self.postings, "tfs": self.tfs, "idf": self.idf,
        }  # fmt: skip
        write_atomic(path, lambda tmp: _write_aligned_npz(tmp, arrays))

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        data = _map_npz(path)
        if "vocab_offsets" not in data:  # written before the vocabulary was sorted
            return cls._from_unsorted(data)
        return cls(
            Vocabulary(data["vocab"], data["vocab_offsets"]), data["chunk_ids"], data["doc_len"],
            data["indptr"], data["postings"], data["tfs"], data["idf"],
        )  # fmt: skip

    @classmethod
    def _from_unsorted(cls, data: dict[str, np.ndarray]) -> LexicalIndex:
        """An index from the older file layout: newline-joined terms in insertion order."""
        blob = data["vocab"].tobytes().decode()
        terms = blob.split("\n") if blob else []
        order = sorted(range(len(terms)), key=terms.__getitem__)
        perm = np.array(order, dtype=np.int64)
        old_ptr = data["indptr"]
        lengths = np.diff(old_ptr)[perm]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = np.repeat(old_ptr[:-1][perm] - indptr[:-1], lengths) + np.arange(indptr[-1])
        return cls(
            Vocabulary.from_sorted([terms[i] for i in order]), data["chunk_ids"], data["doc_len"],
            indptr, data["postings"][gather], data["tfs"][gather], data["idf"][perm],
        )  # fmt: skip


def _merge_vocab(old: Vocabulary, fresh: list[str], where: np.ndarray) -> Vocabulary:
    """`old` with the sorted `fresh` terms inserted before old positions `where`."""
    if not fresh:
        return old
    encoded = [t.encode() for t in fresh]
    cut = old.offsets[where].tolist()
    blob = old.blob.tobytes()
    pieces, last = [], 0
    for position, term in zip(cut, encoded, strict=True):
        pieces += [blob[last:position], term]
        last = position
    pieces.append(blob[last:])
    lengths = np.diff(old.offsets)
    fresh_lengths = np.array([len(t) for t in encoded], dtype=np.int64)
    merged = np.insert(lengths, where, fresh_lengths)
    offsets = np.concatenate([[0], np.cumsum(merged)]).astype(np.int64)
    return Vocabulary(np.frombuffer(b"".join(pieces), dtype=np.uint8), offsets)


def _rank_bm25_idf(corpus_size: int, doc_freq: np.ndarray) -> np.ndarray:
    """rank-bm25's Okapi idf (negative values floored at epsilon x the mean), per term id."""
    scorer = BM25Okapi.__new__(BM25Okapi)
    scorer.corpus_size, scorer.epsilon, scorer.idf = corpus_size, EPSILON, {}
    present = np.flatnonzero(doc_freq)
    if len(present):
        scorer._calc_idf(dict(zip(present.tolist(), doc_freq[present].tolist(), strict=True)))
    idf = np.zeros(len(doc_freq), dtype=np.float64)
    if scorer.idf:
        idf[np.fromiter(scorer.idf.keys(), np.int64)] = np.fromiter(scorer.idf.values(), float)
    return idf


# --- an .npz whose arrays can be memory-mapped -----------------------------------------------
def _write_aligned_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A plain, uncompressed .npz (np.load reads it) with each array's data 64-byte aligned."""
    with open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # local header: 30 bytes + name + our padding field (4 + n) + zip64 field (20)
            used = handle.tell() + 30 + len(info.filename.encode()) + 4 + 20
            pad = -used % _ALIGN
            info.extra = struct.pack("<HH", 0x4E44, pad) + b"\0" * pad
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def _map_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed .npz, memory-mapped read-only (copied when not possible)."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as handle:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as member:
                    out[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            handle.seek(info.header_offset)
            header = handle.read(30)
            if header[:4] != b"PK\x03\x04":
                raise ValueError(f"bad zip entry {info.filename}")
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            handle.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            if fortran or dtype.hasobject:
                raise ValueError(f"unexpected array layout in {info.filename}")
            offset = handle.tell()
            if int(np.prod(shape)) == 0:
                out[name] = np.zeros(shape, dtype=dtype)
            elif offset % dtype.alignment:
                handle.seek(offset)
                out[name] = np.fromfile(handle, dtype=dtype, count=int(np.prod(shape)))
            else:
                mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
                out[name] = mapped.view(np.ndarray)
    return out
