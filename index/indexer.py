"""Incremental indexing: only new or changed articles are chunked and embedded."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunking import Chunker
from index.embedding import Embedder
from index.ingest.copies import CopyIndex, body_of, put_signature, sign_stored_articles, signature
from index.ingest.files import IngestError
from index.models import Article
from index.search.dense import DenseIndex
from index.settings import Settings
from index.store.database import Store
from index.store.lock import WriterLock
from index.store.snapshot import Snapshot, SnapshotError, rebuild, remove_other_generations
from index.tokenize import tokenize


class IndexMismatchError(RuntimeError):
    """The data directory was built with another embedding model."""


class ReadOnlyError(PermissionError):
    """The data directory cannot be written (a read-only folder or file system)."""


def require_writable(data_dir: Path, action: str) -> None:
    """Refuse to start a write that the data directory cannot take, before any work is done."""
    if not os.access(data_dir, os.W_OK):
        raise ReadOnlyError(f"cannot {action}: the data directory {data_dir} is read-only")


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks embedded in this run
    seconds: float = 0.0
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (id, id it duplicates)
    failed: list[IngestError] = field(default_factory=list)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "duplicates": [{"id": a, "duplicate_of": b} for a, b in self.duplicates],
            "failed": [{"location": e.location, "reason": e.reason} for e in self.failed],
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "chunks_per_second": round(self.chunks_per_second, 1),
        }


class Indexer:
    """Writes articles into one data directory; holds the writer lock while it works."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.embedder = embedder or Embedder(
            settings.embedding_model, settings.device, settings.batch_size
        )
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            budget = min(self.settings.chunk_tokens, self.embedder.max_tokens)
            self._chunker = Chunker(self.embedder.count_tokens, budget, self.settings.chunk_overlap)
        return self._chunker

    def index(
        self,
        items: Iterable[Article | IngestError],
        *,
        prune: Iterable[str] = (),
        on_progress: Callable[[int], None] | None = None,
    ) -> IndexReport:
        """Add new and changed articles; with `prune`, drop stored articles from those paths
        that this run did not see. `on_progress(n)` is called as n more chunks are embedded."""
        report = IndexReport()
        started = time.perf_counter()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        require_writable(self.data_dir, "index")
        with WriterLock(self.data_dir):
            store = self._open_store()
            try:
                self._check_model(store)
                run = self._new_run(store, report, on_progress)
                for item in items:
                    run.take(item)
                run.flush()
                prune_origins = [str(Path(p).resolve()) for p in prune]
                if prune_origins:
                    stale = store.article_ids_from(prune_origins) - run.seen
                    run.delete(stale)
                    run.flush()
            finally:
                store.close()
        report.seconds = time.perf_counter() - started
        return report

    def remove(self, article_ids: Iterable[str]) -> int:
        """Delete articles by id; returns how many existed."""
        report = IndexReport()
        require_writable(self.data_dir, "remove articles")
        with WriterLock(self.data_dir):
            store = self._open_store()
            try:
                run = self._new_run(store, report, None)
                run.delete(set(article_ids))
                run.flush()
            finally:
                store.close()
        return report.removed

    # the backend's store and batch writer (index/milvus_indexer.py overrides both)
    def _open_store(self) -> Store:
        return Store(self.data_dir)

    def _new_run(self, store: Store, report: IndexReport, on_progress) -> _Run:
        return _Run(self, store, report, on_progress)

    def _check_model(self, store: Store) -> None:
        stored = store.meta("embedding_model")
        if stored and stored != self.settings.embedding_model:
            raise IndexMismatchError(
                f"{self.data_dir} was built with embedding model {stored!r}, not "
                f"{self.settings.embedding_model!r}; use another data directory or the same model"
            )
        headline = store.meta("embed_headline")
        if headline is not None and headline != str(int(self.settings.embed_headline)):
            raise IndexMismatchError(
                f"{self.data_dir} was built with NEWSDESK_EMBED_HEADLINE={headline}; "
                "use another data directory or the same setting"
            )


class _Run:
    """The state of one indexing run: pending articles, flushed in batches as generations."""

    def __init__(self, owner: Indexer, store: Store, report: IndexReport, on_progress) -> None:
        self.owner, self.store, self.report, self.on_progress = owner, store, report, on_progress
        self.hashes = store.hashes()
        self.seen: set[str] = set()
        self.batch_hashes: dict[str, str] = {}
        self.pending: list[Article] = []
        self.pending_deletes: set[str] = set()
        self.pending_chars = 0
        self.copies = CopyIndex(store)  # near-identical bodies (syndicated copies), on every path
        self._signed = False  # articles stored before signatures were kept: signed on first use
        self._snapshot: Snapshot | None = None  # loaded by the first flush that writes
        self._stored_chunks: int | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The current generation's FAISS and BM25 indexes, read only when something changes: a
        run that finds nothing new never reads them (1.5 GB of FAISS file at 1M chunks)."""
        if self._snapshot is None:
            try:
                self._snapshot = Snapshot.load(self.owner.data_dir, self.store.generation)
            except SnapshotError:
                self._snapshot = rebuild(self.store)  # derived files damaged: SQLite is the truth
        return self._snapshot

    def take(self, item: Article | IngestError) -> None:
        if isinstance(item, IngestError):
            self.report.failed.append(item)
            return
        if item.id in self.seen:
            self.report.failed.append(
                IngestError(item.origin or item.id, f"id {item.id!r} appears twice; kept the first")
            )
            return
        self.seen.add(item.id)
        digest = item.content_hash
        if self.hashes.get(item.id) == digest:
            self.report.unchanged += 1
            return
        twin = self.batch_hashes.get(digest) or next(
            (i for i in self.store.ids_by_hash(digest) if i != item.id), None
        )
        if twin is not None:
            self.report.duplicates.append((item.id, twin))
            return
        if not self._signed:
            sign_stored_articles(self.store)
            self._signed = True
        sig = signature(body_of(item))
        copy = None if item.id in self.hashes else self.copies.find(item.id, sig)  # not updates
        if copy is not None:
            self.report.duplicates.append((item.id, copy[0]))
            return
        self.copies.add(item.id, sig)
        self.batch_hashes[digest] = item.id
        self.pending.append(item)
        self.pending_chars += len(item.text)
        every = self.owner.settings.commit_every
        if (every and len(self.pending) >= every) or (
            not every and self.pending_chars >= self._flush_chars()
        ):
            self.flush()

    def delete(self, article_ids: set[str]) -> None:
        self.pending_deletes |= {i for i in article_ids if i in self.hashes}

    def _flush_chars(self) -> int:
        """Commit every ~1,000 chunks, or every 1/8 of the index when it is large."""
        if self._snapshot is not None:
            size = len(self._snapshot.lexical)
        else:
            if self._stored_chunks is None:
                self._stored_chunks = self.store.counts()[1]
            size = self._stored_chunks
        return max(1000, size // 8) * 600

    def _embed(self, texts: list[str], step: int = 256) -> np.ndarray:
        """Vectors in `texts` order, encoded longest first in slices of `step` (for progress).

        Sorting the whole flush by length (as `model.encode` does within one call) keeps similar
        lengths in each model batch, so slicing for progress adds no padding: without it the
        indexer's slices of 256 padded more than one raw `encode` over the same chunks.
        """
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: np.ndarray | None = None
        for i in range(0, len(order), step):
            rows = order[i : i + step]
            part = self.owner.embedder.encode([texts[r] for r in rows])
            if vectors is None:
                vectors = np.empty((len(texts), part.shape[1]), dtype=np.float32)
            vectors[rows] = part
            if self.on_progress:
                self.on_progress(len(part))
        assert vectors is not None
        return vectors

    def _committed(self, chunks: int) -> None:
        """Count the batch just committed into the report and start the next one."""
        for article in self.pending:
            if article.id in self.hashes:
                self.report.updated += 1
            else:
                self.report.added += 1
            self.hashes[article.id] = article.content_hash
        self.report.removed += len(self.pending_deletes)
        for gone in self.pending_deletes:
            self.hashes.pop(gone, None)
        self.report.chunks += chunks
        self.pending, self.pending_deletes, self.pending_chars = [], set(), 0
        self.batch_hashes.clear()
        self.copies.committed()

    def flush(self) -> None:
        if not self.pending and not self.pending_deletes:
            return
        owner, store = self.owner, self.store
        chunks = [owner.chunker.chunk(a) for a in self.pending]
        headline = owner.settings.embed_headline
        texts = [c.embed_text if headline else c.text for cs in chunks for c in cs]
        vectors = self._embed(texts) if texts else None
        snapshot = self.snapshot
        replaced = [a.id for a in self.pending if a.id in self.hashes] + sorted(
            self.pending_deletes
        )
        with store.transaction():
            old_chunk_ids = np.array(store.chunk_ids_of(replaced), dtype=np.int64)
            store.delete_articles(replaced)
            new_ids: list[int] = []
            added_terms = []
            offset = 0
            for article, article_chunks in zip(self.pending, chunks, strict=True):
                block = (
                    vectors[offset : offset + len(article_chunks)] if vectors is not None else []
                )
                offset += len(article_chunks)
                ids = store.put_article(article, article_chunks, block)
                put_signature(store, article.id, self.copies.signature_of(article.id))
                new_ids.extend(ids)
                added_terms.extend(
                    (i, tokenize(c.embed_text)) for i, c in zip(ids, article_chunks, strict=True)
                )
            if vectors is not None and len(vectors):
                if snapshot.dense is None:
                    snapshot.dense = DenseIndex.empty(vectors.shape[1])
                    store.set_meta("embedding_model", owner.settings.embedding_model)
                    store.set_meta("embed_headline", str(int(headline)))
                    store.set_meta("dimension", str(vectors.shape[1]))
                snapshot.dense.add(np.array(new_ids, dtype=np.int64), vectors)
            if snapshot.dense is not None:
                snapshot.dense.remove(old_chunk_ids)
            snapshot.lexical = snapshot.lexical.updated(added_terms, old_chunk_ids.tolist())
            commit_snapshot(store, snapshot, owner.data_dir, in_transaction=True)
        self._committed(len(texts))
        remove_other_generations(owner.data_dir, {store.generation, store.generation - 1})


def commit_snapshot(
    store: Store, snapshot: Snapshot, data_dir: Path, *, in_transaction: bool = False
) -> None:
    """Save the snapshot as the next generation and point SQLite at it, atomically."""
    generation = store.generation + 1
    snapshot.save(data_dir, generation)
    if in_transaction:
        _set_generation(store, snapshot, generation)
    else:
        with store.transaction():
            _set_generation(store, snapshot, generation)


def _set_generation(store: Store, snapshot: Snapshot, generation: int) -> None:
    store.set_meta("generation", str(generation))
    if snapshot.dense is not None:
        store.set_meta("dense_index", snapshot.dense.describe())
