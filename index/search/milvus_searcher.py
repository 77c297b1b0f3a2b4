"""`Searcher` on the Milvus backend: the same `search()` (Newsdesk's fusion, near-duplicate
collapse and, above it, the reader), with Milvus answering the dense and BM25 look-ups.

The dense and BM25 sides are views with the methods `Searcher.search` calls on FAISS and on the
local BM25 index, so the retrieval code above them is the local backend's own.

Filters (date, outlet; index/search/filters.py): the searcher's catalog is the articles
collection's (index/search/milvus_catalog.py), and a filter's selection is a Milvus filter
expression that the searcher hands both views where the local backend hands chunk ids and a BM25
row mask. The views also take `allowed_ids` (chunk ids) and `expression` directly.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.embedding import Embedder
from index.search.milvus_catalog import MilvusCatalogCache, MilvusSelection
from index.search.searcher import NoIndexError, Searcher
from index.settings import Settings
from index.store.milvus import Milvus, MilvusTarget, bm25_text, quote
from index.store.milvus_store import MilvusStore


def milvus_filter(allowed_ids: Collection[int] | None = None, expression: str = "") -> str:
    """One Milvus filter expression from a set of allowed chunk ids and/or an expression."""
    parts = [f"({expression})"] if expression else []
    if allowed_ids is not None:
        parts.append(f"id in [{', '.join(quote(int(i)) for i in sorted(allowed_ids))}]")
    return " and ".join(parts)


def _both(first: str, second: str) -> str:
    return " and ".join(f"({e})" for e in (first, second) if e)


class MilvusDense:
    """The dense side, as `DenseIndex` looks to the searcher."""

    def __init__(self, db: Milvus) -> None:
        self.db = db

    def __len__(self) -> int:
        return self.db.count(self.db.chunks)

    def search(
        self,
        vector: np.ndarray,
        k: int,
        allowed: Collection[int] | None = None,
        *,
        allowed_ids: Collection[int] | None = None,
        expression: str = "",
    ) -> list[tuple[int, float]]:
        """As `DenseIndex.search`: `allowed` (chunk ids, or a filter's selection) restricts it."""
        if isinstance(allowed, MilvusSelection):
            expression = _both(expression, allowed.expression)
            if not len(allowed):
                return []
        elif allowed is not None:
            allowed_ids = allowed
        if k <= 0 or (allowed_ids is not None and not len(allowed_ids)):
            return []
        return self.db.dense_search(vector, k, milvus_filter(allowed_ids, expression))

    def vectors(self, ids: list[int]) -> np.ndarray:
        found = self.db.vectors(ids)
        if not ids:
            return np.zeros((0, 0), np.float32)
        dim = next(iter(found.values())).shape[0] if found else 0
        return np.stack([found.get(int(i), np.zeros(dim, np.float32)) for i in ids])


class MilvusLexical:
    """The BM25 side, as `LexicalIndex` looks to the searcher (Newsdesk's terms, Milvus's BM25)."""

    chunk_ids = None  # what the searcher hands a selection's `row_mask` (Milvus needs no rows)

    def __init__(self, db: Milvus) -> None:
        self.db = db

    def __len__(self) -> int:
        return self.db.count(self.db.chunks)

    def search(
        self,
        terms: Sequence[str],
        k: int,
        rows: MilvusSelection | None = None,
        *,
        allowed_ids: Collection[int] | None = None,
        expression: str = "",
    ) -> list[tuple[int, float]]:
        """As `LexicalIndex.search`; a filter's selection stands for its row mask."""
        if rows is not None:
            if not isinstance(rows, MilvusSelection):
                raise TypeError("a row mask has no meaning on Milvus: pass a MilvusSelection")
            if not len(rows):
                return []
            expression = _both(expression, rows.expression)
        if k <= 0 or not terms or (allowed_ids is not None and not len(allowed_ids)):
            return []
        return self.db.bm25_search(bm25_text(terms), k, milvus_filter(allowed_ids, expression))


@dataclass
class MilvusSnapshot:
    """What `Searcher.search` reads from `self.snapshot`: always the live collections."""

    generation: int
    dense: MilvusDense | None
    lexical: MilvusLexical


class MilvusSearcher(Searcher):
    """`search(query, k) -> list[Hit]` over Milvus; sees other processes' writes at once."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        target = MilvusTarget.from_settings(settings)
        self.store = MilvusStore(target)  # type: ignore[assignment]
        if not self.store.indexed:
            self.store.close()
            raise NoIndexError(
                f"no index in Milvus at {target.describe()} (collections {target.prefix}_*) yet:"
                " run `newsdesk index PATH...` first"
            )
        self.embedder = embedder or Embedder(
            settings.embedding_model, settings.device, settings.batch_size
        )
        self._lock = threading.Lock()
        self.catalogs = MilvusCatalogCache()  # type: ignore[assignment]
        db = self.store.db
        self.snapshot = MilvusSnapshot(0, MilvusDense(db), MilvusLexical(db))  # type: ignore[assignment]

    def refresh(self) -> bool:
        """Nothing to load: every search reads the collections as they are."""
        return False
