"""Incremental indexing into Milvus: the local indexer's run (what is new, changed, a duplicate,
pruned), with each batch written by `MilvusStore.write_batch` instead of a SQLite transaction and
a new generation of files."""

from __future__ import annotations

from index.indexer import Indexer, IndexReport, _Run
from index.store.milvus import MilvusTarget
from index.store.milvus_copies import MilvusCopyIndex
from index.store.milvus_store import MilvusStore

FLUSH_CHARS = 1000 * 600  # about 1,000 chunks a batch (no files are rewritten per batch here)


class MilvusIndexer(Indexer):
    """`Indexer` on the Milvus backend; the writer lock stays in the data directory."""

    def _open_store(self) -> MilvusStore:  # type: ignore[override]
        store = MilvusStore(MilvusTarget.from_settings(self.settings))
        store.finish_pending()  # what a killed run left half written
        return store

    def _new_run(self, store, report: IndexReport, on_progress) -> _Run:  # type: ignore[override]
        return _MilvusRun(self, store, report, on_progress)


class _MilvusRun(_Run):
    def __init__(self, owner, store, report: IndexReport, on_progress) -> None:
        super().__init__(owner, store, report, on_progress)
        # copies across runs: the signatures live in Milvus (index/store/milvus_copies.py); the
        # local migration (signing stored bodies) has nothing to read here: Milvus keeps no bodies
        self.copies = MilvusCopyIndex(store.db)
        self._signed = True

    def _flush_chars(self) -> int:
        return FLUSH_CHARS

    def flush(self) -> None:
        if not self.pending and not self.pending_deletes:
            return
        owner, settings = self.owner, self.owner.settings
        chunks = [owner.chunker.chunk(a) for a in self.pending]
        texts = [c.embed_text if settings.embed_headline else c.text for cs in chunks for c in cs]
        vectors = self._embed(texts) if texts else None
        batch, offset = [], 0
        for article, article_chunks in zip(self.pending, chunks, strict=True):
            block = vectors[offset : offset + len(article_chunks)] if vectors is not None else []
            offset += len(article_chunks)
            batch.append((article, article_chunks, block))
        dim = int(vectors.shape[1]) if vectors is not None and len(vectors) else None
        meta = {}
        if dim is not None:
            meta = {
                "embedding_model": settings.embedding_model,
                "embed_headline": str(int(settings.embed_headline)),
                "dimension": str(dim),
            }
        signatures = {a.id: self.copies.signature_of(a.id) for a in self.pending}
        self.store.write_batch(
            batch, sorted(self.pending_deletes), dim=dim, meta=meta, signatures=signatures
        )
        self._committed(len(texts))
