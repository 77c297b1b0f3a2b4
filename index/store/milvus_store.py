"""Articles and chunks in Milvus, behind the methods the indexer and the searcher call on `Store`.

On the Milvus backend Milvus holds everything (article metadata, chunk text, vectors, BM25 terms),
so that several bot replicas can share one server or cluster; SQLite is not used.

Milvus has no transaction across rows, so a batch is written in an order that keeps every article
at its old or its new version for readers:

1. `pending:<digest>` -> article id rows in meta (a journal of the batch);
2. the new chunks (new stable ids, tagged with the new content hash);
3. the article rows (their content hash switches readers to the new chunks: a hit counts only
   when its chunk's hash equals its article's), or their deletion;
4. the old chunks deleted, then the journal rows.

A kill -9 anywhere leaves, at most, chunks that no reader shows (wrong hash, or no article), for
the articles in the journal; the next write (`finish_pending`) deletes them first, and re-running the
batch upserts the same chunk ids again, so nothing is counted twice.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from datasketch import LeanMinHash

from index.models import Article, Chunk, Hit
from index.store.milvus import (
    PLACEHOLDER,
    Milvus,
    MilvusTarget,
    article_key,
    bm25_text,
    chunk_id,
    fit,
    quote,
)  # fmt: skip
from index.store.milvus_copies import delete_signatures, signature_rows
from index.tokenize import tokenize

PENDING = "pending:"


class MilvusStore:
    """The `Store` methods the indexer and searcher use, over the three Milvus collections."""

    def __init__(self, target: MilvusTarget) -> None:
        self.db = Milvus(target)
        self.target = target

    def close(self) -> None:
        self.db.close()

    @property
    def indexed(self) -> bool:
        return self.db.exists()

    @property
    def generation(self) -> int:
        """Milvus is searched live: there are no generations of files to switch between."""
        return 0

    # --- meta -------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        value = self.db.meta(key)
        return default if value is None else value

    # --- articles ---------------------------------------------------------------------------
    def hashes(self) -> dict[str, str]:
        if not self.indexed:
            return {}
        rows = self.db.scan(self.db.articles, ["id", "content_hash"])
        return {r["id"]: r["content_hash"] for r in rows}

    def ids_by_hash(self, content_hash: str) -> list[str]:
        if not self.indexed:
            return []
        rows = self.db.query(self.db.articles, f"content_hash == {quote(content_hash)}", ["id"])
        return [r["id"] for r in rows]

    def article_ids_from(self, origins: Iterable[str]) -> set[str]:
        """Ids of the articles read from files at or under the given paths."""
        if not self.indexed:
            return set()
        ids: set[str] = set()
        for origin in origins:
            prefix = origin.rstrip("/") + "/"
            # LIKE's wildcards (% and _) and their escaping differ between Milvus versions: ask for
            # the prefix up to the first of them (a superset) and test the exact prefix here
            plain = re.split(r"[%_\\]", prefix, maxsplit=1)[0]
            expression = f"origin == {quote(origin)} or origin like {quote(plain + '%')}"
            for row in self.db.scan(self.db.articles, ["id", "origin"], expression):
                if row["origin"] == origin or row["origin"].startswith(prefix):
                    ids.add(row["id"])
        return ids

    def counts(self) -> tuple[int, int]:
        return self.db.count(self.db.articles), self.db.count(self.db.chunks)

    def newest_published(self) -> str | None:
        return self.meta("newest_published") or None

    # --- chunks -----------------------------------------------------------------------------
    def hits(self, chunk_ids: Sequence[int]) -> dict[int, Hit]:
        """Hits for the chunk ids whose article holds them now (same content hash)."""
        if not chunk_ids:
            return {}
        fields = ["id", "article_id", "content_hash", "text", "start", "end"]
        chunks = self.db.query_in(self.db.chunks, "id", list(chunk_ids), fields)
        article_ids = sorted({c["article_id"] for c in chunks})
        fields = ["id", "title", "published", "url", "source", "content_hash"]
        articles = {
            a["id"]: a for a in self.db.query_in(self.db.articles, "id", article_ids, fields)
        }
        found: dict[int, Hit] = {}
        for c in chunks:
            a = articles.get(c["article_id"])
            if a is None or a["content_hash"] != c["content_hash"]:
                continue  # left by a batch that was killed: not part of the index
            found[int(c["id"])] = Hit(
                int(c["id"]), c["article_id"], c["text"], int(c["start"]), int(c["end"]),
                a["title"], a["published"] or None, a["url"] or None, a["source"] or None,
            )  # fmt: skip
        return found

    # --- writing ----------------------------------------------------------------------------
    def write_batch(
        self,
        articles: Sequence[tuple[Article, Sequence[Chunk], np.ndarray]],
        deletes: Sequence[str],
        *,
        dim: int | None,
        meta: dict[str, str],
        signatures: Mapping[str, LeanMinHash | None] | None = None,
    ) -> int:
        """Add or replace `articles` (with their chunks and vectors) and delete `deletes`, in the
        crash-safe order of the module docstring. Returns how many chunks were written."""
        db = self.db
        if dim is not None:
            db.create(dim)  # (the copies collection too, if missing)
        if not db.exists():
            return 0  # nothing ever stored: deleting needs nothing
        ids = [a.id for a, _, _ in articles] + list(deletes)
        db.upsert_meta({_pending_key(i): i for i in ids} | meta)
        rows = []
        for article, chunks, vectors in articles:
            digest = article.content_hash
            for chunk, vector in zip(chunks, vectors, strict=True):
                rows.append(
                    {
                        "id": chunk_id(article.id, digest, chunk.ordinal),
                        "article_id": article.id,
                        "content_hash": digest,
                        "ordinal": chunk.ordinal,
                        "start": chunk.start,
                        "end": chunk.end,
                        "text": fit(chunk.text),
                        "terms": fit(bm25_text(tokenize(chunk.embed_text))),
                        "vector": np.asarray(vector, dtype=np.float32).tolist(),
                    }
                )
        db.upsert(db.chunks, rows)
        signatures = signatures or {}
        if db.has(db.copies):  # (an index made before signatures were kept: made on a write
            db.upsert(db.copies, signature_rows({i: s for i, s in signatures.items() if s}))
        delete_signatures(db, [i for i, s in signatures.items() if s is None])
        now = time.time()
        db.upsert(
            db.articles,
            [
                {
                    "key": article_key(a.id), "id": a.id, "title": fit(a.title), "url": fit(a.url), "origin": fit(a.origin),
                    "published": fit(a.published, 1024), "source": fit(a.source, 1024),
                    "content_hash": a.content_hash, "chunks": len(chunks), "indexed_at": now,
                    "placeholder": PLACEHOLDER,
                }
                for a, chunks, _ in articles
            ],
        )  # fmt: skip
        db.delete_in(db.articles, "id", list(deletes))
        delete_signatures(db, list(deletes))
        self._update_newest([a for a, _, _ in articles], bool(deletes))
        self.finish_pending()
        return len(rows)

    def finish_pending(self) -> int:
        """Delete the chunks that no article holds, for the articles of a batch in flight (or
        killed); returns how many articles were tidied."""
        db = self.db
        if not db.exists():
            return 0
        rows = list(db.scan(db.meta_name, ["key", "value"], _PENDING_KEYS))
        pending = [r["value"] for r in rows]
        if not pending:
            return 0
        current = {
            a["id"]: a["content_hash"]
            for a in db.query_in(db.articles, "id", pending, ["id", "content_hash"])
        }
        fields = ["id", "article_id", "content_hash"]
        stale = [
            int(c["id"])
            for c in db.query_in(db.chunks, "article_id", pending, fields, batch=100)
            if current.get(c["article_id"]) != c["content_hash"]
        ]
        db.delete_in(db.chunks, "id", stale)
        delete_signatures(db, [i for i in pending if i not in current])
        db.delete_in(db.meta_name, "key", [r["key"] for r in rows])
        return len(pending)

    def _update_newest(self, added: Sequence[Article], deleted: bool) -> None:
        newest = self.newest_published() or ""
        dates = [a.published for a in added if a.published]
        if dates and max(dates) > newest:
            newest = max(dates)
        elif deleted and newest and not self._has_published(newest):  # the newest is gone
            rows = self.db.scan(self.db.articles, ["published"], 'published != ""')
            newest = max((r["published"] for r in rows), default="")
        # a new revision on every write: readers' catalogs (filters, stats) are read again
        self.db.upsert_meta({"newest_published": newest, "revision": uuid.uuid4().hex})

    def _has_published(self, date: str) -> bool:
        return bool(self.db.query(self.db.articles, f"published == {quote(date)}", ["id"], limit=1))

    # --- checks -----------------------------------------------------------------------------
    def stray_chunks(self) -> list[int]:
        """Chunks that no article holds (every chunk read: for `doctor`)."""
        db = self.db
        current = {r["id"]: r["content_hash"] for r in db.scan(db.articles, ["id", "content_hash"])}
        return [
            int(c["id"])
            for c in db.scan(db.chunks, ["id", "article_id", "content_hash"])
            if current.get(c["article_id"]) != c["content_hash"]
        ]


_PENDING_KEYS = f'key like "{PENDING}%"'


def _pending_key(article_id: str) -> str:
    """A journal key free of quotes (the value holds the article id itself)."""
    return PENDING + hashlib.blake2b(article_id.encode(), digest_size=16).hexdigest()
