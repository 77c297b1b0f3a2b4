"""Retrieval over the current index generation: dense, BM25, or both fused."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from index.embedding import Embedder
from index.models import Hit
from index.search.catalog import CatalogCache
from index.search.diversity import firsts_read, spread
from index.search.filters import Filter, outlet_of, published_day
from index.search.fusion import fuse
from index.settings import SearchMode, Settings
from index.store.database import DB_NAME, Store
from index.store.snapshot import Snapshot, SnapshotError
from index.text import one_line
from index.tokenize import tokenize

NEAR_DUPLICATE = 0.97  # cosine above which two passages count as the same


class NoIndexError(RuntimeError):
    """There is nothing indexed in the data directory yet."""


class Searcher:
    """`search(query, k) -> list[Hit]`; picks up a newer generation written by another process."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        if not (self.data_dir / DB_NAME).is_file():
            raise NoIndexError(
                f"no index in {self.data_dir} yet: run `newsdesk index PATH...` first"
            )
        self.store = Store.for_reading(self.data_dir)  # a read-only folder can be searched
        self.embedder = embedder or Embedder(
            settings.embedding_model, settings.device, settings.batch_size
        )
        self._lock = threading.Lock()
        self.catalogs = CatalogCache()  # articles' days and outlets, for filters
        self.snapshot = Snapshot.empty()
        self.refresh()

    def refresh(self) -> bool:
        """Load the newest committed generation if it changed; True when it did."""
        with self._lock:
            for _ in range(3):
                generation = self.store.generation
                if generation == self.snapshot.generation:
                    return False
                try:
                    self.snapshot = Snapshot.load(self.data_dir, generation)
                    return True
                except SnapshotError:
                    if self.store.generation == generation:  # not a race with a writer: damage
                        raise
            return False

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        timings: dict[str, float] | None = None,
        flt: Filter | None = None,
    ) -> list[Hit]:
        """The k best passages for the query, near-duplicates collapsed; with an active filter,
        only passages of the articles it lets through (both retrievers are restricted to them)."""
        self.refresh()
        k = k or self.settings.top_k
        mode = mode or self.settings.search_mode
        timings = timings if timings is not None else {}
        snapshot = self.snapshot
        fetch = max(self.settings.fetch_k, 2 * k)
        rankings: dict[str, list[tuple[int, float]]] = {}
        allowed = self.catalogs.get(self.store).select(flt) if flt and flt.active else None
        if allowed is not None and not len(allowed):
            return []
        if mode in (SearchMode.DENSE, SearchMode.HYBRID) and snapshot.dense is not None:
            t0 = time.perf_counter()
            vector = self.embedder.encode_query(query)
            t1 = time.perf_counter()
            rankings["dense"] = snapshot.dense.search(
                vector, fetch, None if allowed is None else allowed.chunk_ids
            )
            timings["embed_ms"] = (t1 - t0) * 1000
            timings["dense_ms"] = (time.perf_counter() - t1) * 1000
        if mode in (SearchMode.BM25, SearchMode.HYBRID):
            t0 = time.perf_counter()
            rows = None if allowed is None else allowed.row_mask(snapshot.lexical.chunk_ids)
            rankings["bm25"] = snapshot.lexical.search(tokenize(query), fetch, rows)
            timings["bm25_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        fused = fuse(
            rankings,
            method=self.settings.fusion,
            weights={"dense": self.settings.dense_weight, "bm25": self.settings.bm25_weight},
            rrf_k=self.settings.rrf_k,
            query=query,
            keyword_dense_factor=self.settings.keyword_dense_factor,
            depth=self.settings.fusion_depth,
        )
        top = fused[: 3 * k]
        found = self.store.hits([cid for cid, _, _ in top])
        hits = []
        for cid, score, ranks in top:
            hit = found.get(cid)
            if hit is not None and (flt is None or _passes(flt, hit)):
                hit.score, hit.ranks = score, ranks
                hits.append(hit)
        head = self.settings.reader_passages
        hits = spread(firsts_read(self._collapse(hits, snapshot), head), k, head)
        timings["fusion_ms"] = (time.perf_counter() - t0) * 1000
        return hits

    def _collapse(self, hits: list[Hit], snapshot: Snapshot) -> list[Hit]:
        """Drop passages that repeat a better-ranked one (syndicated copies, repeated wire text)."""
        kept: list[Hit] = []
        seen_text: set[str] = set()
        vectors = snapshot.dense.vectors([h.chunk_id for h in hits]) if snapshot.dense else None
        kept_rows: list[int] = []
        for row, hit in enumerate(hits):
            key = one_line(hit.text).casefold()
            if key in seen_text:
                continue
            if vectors is not None and kept_rows:
                sims = vectors[kept_rows] @ vectors[row]
                if float(np.max(sims)) >= NEAR_DUPLICATE:
                    continue
            seen_text.add(key)
            kept.append(hit)
            kept_rows.append(row)
        return kept

    def close(self) -> None:
        self.store.close()


def _passes(flt: Filter, hit: Hit) -> bool:
    """The filter checked again on the hit as read now (an article re-dated since the catalog)."""
    return flt.matches(published_day(hit.published), outlet_of(hit.source, hit.url))
