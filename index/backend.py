"""The backend chosen by NEWSDESK_BACKEND: local files (SQLite + FAISS + BM25) or Milvus.

Front ends never import a backend: they get the indexer, searcher, stats and checks from here.
With the backend unset (local) these are exactly the objects and functions used before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.embedding import Embedder
from index.indexer import Indexer
from index.search.searcher import Searcher
from index.settings import Backend, Settings


def is_milvus(settings: Settings) -> bool:
    return settings.backend is Backend.MILVUS


def open_indexer(settings: Settings, embedder: Embedder | None = None) -> Indexer:
    if is_milvus(settings):
        from index.milvus_indexer import MilvusIndexer

        return MilvusIndexer(settings, embedder)
    return Indexer(settings, embedder)


def open_searcher(settings: Settings, embedder: Embedder | None = None) -> Searcher:
    if is_milvus(settings):
        from index.search.milvus_searcher import MilvusSearcher

        return MilvusSearcher(settings, embedder)
    return Searcher(settings, embedder)


def milvus_stats(settings: Settings, *, verify: bool = False) -> dict[str, Any]:
    """`Newsdesk.stats()` on the Milvus backend (the same keys; sizes are Milvus's business)."""
    from bot.answering.digest import overview
    from index.search.milvus_catalog import load_catalog
    from index.store.milvus import MilvusTarget
    from index.store.milvus_store import MilvusStore

    target = MilvusTarget.from_settings(settings)
    store = MilvusStore(target)
    try:
        if not store.indexed:
            return {
                "data_dir": str(settings.data_dir),
                "articles": 0,
                "chunks": 0,
                "indexed": False,
            }
        articles, chunks = store.counts()
        kind = "Milvus Lite" if target.is_lite else "Milvus"
        info: dict[str, Any] = {
            "data_dir": str(settings.data_dir),
            "indexed": True,
            "backend": "milvus",
            "milvus": f"{kind} at {target.describe()}, collections {target.prefix}_*",
            "articles": articles,
            "chunks": chunks,
            "newest_published": store.newest_published(),
            "embedding_model": store.meta("embedding_model") or settings.embedding_model,
            "dimension": int(store.meta("dimension") or 0),
            "generation": 0,
            "index_type": f"{kind} {store.db.describe_dense_index()} + BM25"
            " (Milvus's, over Newsdesk's terms)",
            "bytes": {"sqlite": 0, "faiss": 0, "bm25": 0, "total": _lite_bytes(target)},
        }
        info.update(overview(load_catalog(store)))  # outlets and dates, as on the local backend
        if verify:
            stray = len(store.stray_chunks())
            info.update(
                {
                    "faiss_vectors": chunks,  # one row holds a chunk's vector and its terms
                    "bm25_chunks": chunks,
                    "stray_chunks": stray,
                    "consistent": stray == 0,
                }
            )
        return info
    finally:
        store.close()


def _lite_bytes(target: Any) -> int:
    if not target.is_lite or not Path(target.uri).exists():
        return 0
    return sum(p.stat().st_size for p in Path(target.uri).rglob("*") if p.is_file())


def milvus_check(settings: Settings, *, repair: bool = False) -> list[str]:
    """`newsdesk doctor` on the Milvus backend: chunks that no article holds (left by a killed
    run) and article rows whose chunk count disagrees; `repair` deletes the stray chunks."""
    from index.store.lock import WriterLock
    from index.store.milvus import MilvusTarget
    from index.store.milvus_store import MilvusStore

    target = MilvusTarget.from_settings(settings)
    store = MilvusStore(target)
    try:
        if not store.indexed:
            return [f"no index in Milvus at {target.describe()} (collections {target.prefix}_*)"]
        found = _milvus_problems(store)
        if not found or not repair:
            return found + (["run `newsdesk doctor --repair` to delete them"] if found else [])
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        with WriterLock(Path(settings.data_dir)):
            store.finish_pending()
            stray = store.stray_chunks()
            store.db.delete_in(store.db.chunks, "id", stray)
        still = _milvus_problems(store)
        return [f"repaired: {p}" for p in found] + [f"still wrong: {p}" for p in still]
    finally:
        store.close()


def _milvus_problems(store: Any) -> list[str]:
    found = []
    stray = store.stray_chunks()
    if stray:
        found.append(f"{len(stray)} chunks in Milvus belong to no article (a killed indexing run)")
    db = store.db
    expected = sum(int(r["chunks"]) for r in db.scan(db.articles, ["chunks"]))
    held = db.count(db.chunks) - len(stray)
    if held != expected:
        found.append(f"articles list {expected} chunks, Milvus holds {held}")
    return found
