"""Date and outlet filters, stats and the latest headlines on the Milvus backend.

The catalog (each article's day and outlet, index/search/catalog.py) is read from the articles
collection instead of SQLite, and read again whenever the index's `revision` (a meta row every
write changes) moves, so a replica sees another process's articles. A filter becomes a Milvus
filter expression on the chunks' `article_id` (the articles the catalog lets through), which both
the dense and the BM25 search apply before their top-k cut, as the local backend does.

Limit: the expression lists the allowed article ids, so a filter that lets through very many
articles (tens of thousands) makes a long expression; a `day`/`outlet` field on every chunk would
avoid that, at the price of a schema change for existing collections.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from index.search.catalog import Catalog
from index.search.filters import Filter
from index.store.milvus import quote
from index.store.milvus_store import MilvusStore

SELECTIONS_KEPT = 32


@dataclass(frozen=True)
class MilvusSelection:
    """What a filter lets through on Milvus: a filter expression over chunks, and how many
    articles it admits (`len`: 0 means nothing can match). It stands where the local backend
    passes chunk ids (dense) and a BM25 row mask, so `Searcher.search` runs unchanged."""

    expression: str
    articles: int

    def __len__(self) -> int:
        return self.articles

    @property
    def chunk_ids(self) -> MilvusSelection:  # what the dense view is handed
        return self

    def row_mask(self, _lexical_chunk_ids: object) -> MilvusSelection:  # what the BM25 view is
        return self


class MilvusCatalog(Catalog):
    """A catalog of the articles collection (no chunk arrays: Milvus filters the chunks)."""

    revision = ""  # the index's revision it was read at

    def select(self, flt: Filter) -> MilvusSelection:  # type: ignore[override]
        with self._lock:
            found = self._selections.get(flt)
            if found is not None:
                return found  # type: ignore[return-value]
        ids = [self.article_ids[i] for i in self.article_mask(flt).nonzero()[0]]
        selection = MilvusSelection(
            f"article_id in [{', '.join(quote(i) for i in ids)}]" if ids else "", len(ids)
        )
        with self._lock:
            self._selections[flt] = selection  # type: ignore[assignment]
            while len(self._selections) > SELECTIONS_KEPT:
                self._selections.popitem(last=False)
        return selection


def load_catalog(store: MilvusStore, revision: str = "") -> MilvusCatalog:
    db = store.db
    rows = []
    if store.indexed:
        fields = ["id", "published", "source", "url", "title"]
        rows = [
            (r["id"], r["published"] or None, r["source"] or None, r["url"] or None, r["title"])
            for r in db.scan(db.articles, fields)
        ]
    catalog = MilvusCatalog.from_rows(0, rows, [])
    catalog.revision = revision
    return catalog


class MilvusCatalogCache:
    """The catalog of the collections as they are now (read again after every write)."""

    def __init__(self) -> None:
        self._catalog: MilvusCatalog | None = None
        self._lock = threading.Lock()

    def get(self, store: MilvusStore) -> MilvusCatalog:
        revision = store.meta("revision") or ""
        with self._lock:
            current = self._catalog
            if current is None or current.revision != revision:
                current = self._catalog = load_catalog(store, revision)
            return current
