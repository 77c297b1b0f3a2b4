"""SQLite storage of articles and chunks: the source of truth every derived index is built from."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from index.models import Article, Chunk, Hit

DB_NAME = "newsdesk.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT,
    published TEXT,
    source TEXT,
    origin TEXT,
    content_hash TEXT NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
CREATE INDEX IF NOT EXISTS articles_origin ON articles(origin);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
-- MinHash signatures of the article bodies and their LSH bands (index/ingest/copies.py)
CREATE TABLE IF NOT EXISTS copy_signatures (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE
        REFERENCES articles(id) ON DELETE CASCADE ON UPDATE CASCADE,
    hashvalues BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS copy_bands (
    band_key INTEGER NOT NULL,
    signature INTEGER NOT NULL REFERENCES copy_signatures(id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, signature)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS copy_bands_signature ON copy_bands(signature);
"""


class StoreError(RuntimeError):
    """The database cannot be opened or written, or is not a Newsdesk database."""


CONTEXT_BEFORE = 400  # characters of the article before a hit, for references back ("the kingdom")


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    article_id: str
    start: int
    end: int
    text: str
    title: str


class Store:
    """Articles and chunks in one SQLite file (WAL mode, so readers never wait for the writer)."""

    def __init__(self, data_dir: Path, *, readonly: bool = False) -> None:
        self.path = Path(data_dir) / DB_NAME
        try:
            if readonly:
                self.db = self._connect_readonly()
            else:
                self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.executescript(SCHEMA)
            self.db.isolation_level = None  # transactions are explicit: see transaction()
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("SELECT count(*) FROM articles").fetchone()
            if not readonly:
                self._migrate_file_ids()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the index database {self.path}: {exc}") from exc

    def _migrate_file_ids(self) -> None:
        """Indexes made before file ids stopped holding the absolute path (`file:/home/...`)
        get the new ids in place: the same articles and chunks, nothing embedded again."""
        from index.ingest.files import file_id

        # a range on the primary key ('/' < '0'): an index look-up, not a scan, on every open
        rows = self.db.execute("SELECT id FROM articles WHERE id >= 'file:/' AND id < 'file:0'")
        old = [r[0] for r in rows]
        if not old:
            return
        with self.transaction():
            self.db.execute("PRAGMA defer_foreign_keys=ON")
            for article_id in old:
                new = file_id(article_id[len("file:") :])
                if self.db.execute("SELECT 1 FROM articles WHERE id = ?", (new,)).fetchone():
                    continue  # an older release indexed it again meanwhile: leave both be
                self.db.execute(
                    "UPDATE chunks SET article_id = ? WHERE article_id = ?", (new, article_id)
                )
                self.db.execute("UPDATE articles SET id = ? WHERE id = ?", (new, article_id))

    @classmethod
    def for_reading(cls, data_dir: Path) -> Store:
        """A store to search or check: read-only where the data directory cannot be written."""
        return cls(data_dir, readonly=not os.access(data_dir, os.W_OK))

    def _connect_readonly(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
        try:
            db.execute("SELECT count(*) FROM meta").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            wal = self.path.with_name(f"{DB_NAME}-wal")
            if os.access(self.path.parent, os.W_OK) or wal.exists():
                raise
        # WAL mode needs a -shm file beside the database, which a read-only folder cannot hold; no
        # writer can work there either, so SQLite may read the database as immutable.
        return sqlite3.connect(f"{uri}&immutable=1", uri=True, check_same_thread=False)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:  # a failed COMMIT (disk full) leaves it open
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):  # disk full, I/O error, ...
                raise StoreError(f"cannot write the index database {self.path}: {exc}") from exc
            raise

    # --- meta -------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.meta("generation", "0") or 0)

    # --- articles ---------------------------------------------------------------------------
    def hashes(self) -> dict[str, str]:
        """article id -> content hash, for every stored article."""
        return dict(self.db.execute("SELECT id, content_hash FROM articles"))

    def ids_by_hash(self, content_hash: str) -> list[str]:
        rows = self.db.execute("SELECT id FROM articles WHERE content_hash = ?", (content_hash,))
        return [r[0] for r in rows]

    def article_ids_from(self, origins: Iterable[str]) -> set[str]:
        """Ids of the articles read from files at or under the given paths."""
        ids: set[str] = set()
        for origin in origins:
            prefix = origin.rstrip("/") + "/"
            rows = self.db.execute(
                "SELECT id FROM articles WHERE origin = ? OR substr(origin, 1, ?) = ?",
                (origin, len(prefix), prefix),
            )
            ids.update(r[0] for r in rows)
        return ids

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute(
            "SELECT id, title, text, url, published, source, origin FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        return Article(*row) if row else None

    def put_article(
        self, article: Article, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> list[int]:
        """Insert or replace an article and its chunks; returns the new chunk ids, in order."""
        self.delete_articles([article.id])
        self.db.execute(
            "INSERT INTO articles (id, title, text, url, published, source, origin, content_hash,"
            " indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id, article.title, article.text, article.url, article.published,
                article.source, article.origin, article.content_hash, time.time(),
            ),
        )  # fmt: skip
        ids = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            cur = self.db.execute(
                "INSERT INTO chunks (article_id, ordinal, start, end, embedding) VALUES (?,?,?,?,?)",
                (article.id, chunk.ordinal, chunk.start, chunk.end, vector.astype("<f4").tobytes()),
            )
            ids.append(int(cur.lastrowid))
        return ids

    def chunk_ids_of(self, article_ids: Iterable[str]) -> list[int]:
        ids: list[int] = []
        for batch in _batches(list(article_ids)):
            marks = ",".join("?" * len(batch))
            rows = self.db.execute(f"SELECT id FROM chunks WHERE article_id IN ({marks})", batch)
            ids.extend(r[0] for r in rows)
        return ids

    def delete_articles(self, article_ids: Iterable[str]) -> int:
        deleted = 0
        for batch in _batches(list(article_ids)):
            marks = ",".join("?" * len(batch))
            self.db.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", batch)
            deleted += self.db.execute(
                f"DELETE FROM articles WHERE id IN ({marks})", batch
            ).rowcount
        return deleted

    # --- chunks -----------------------------------------------------------------------------
    def hits(self, chunk_ids: Sequence[int]) -> dict[int, Hit]:
        """Hits (text and article metadata, no score) for the chunk ids that still exist."""
        found: dict[int, Hit] = {}
        for batch in _batches(list(chunk_ids)):
            marks = ",".join("?" * len(batch))
            rows = self.db.execute(
                "SELECT c.id, c.article_id, substr(a.text, c.start + 1, c.end - c.start), c.start,"
                " c.end, a.title, a.published, a.url, a.source,"
                " substr(a.text, max(1, c.start + 1 - ?), min(c.start, ?)) FROM chunks c"
                f" JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
                [CONTEXT_BEFORE, CONTEXT_BEFORE, *batch],
            )
            for row in rows:
                found[row[0]] = Hit(*row[:9], before=row[9])
        return found

    def iter_chunks(self, batch_size: int = 2000) -> Iterator[tuple[list[StoredChunk], np.ndarray]]:
        """Every chunk with its text and stored embedding, in id order, in batches."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT c.id, c.article_id, c.start, c.end,"
                " substr(a.text, c.start + 1, c.end - c.start), a.title, c.embedding"
                " FROM chunks c JOIN articles a ON a.id = c.article_id"
                " WHERE c.id > ? ORDER BY c.id LIMIT ?",
                (last, batch_size),
            ).fetchall()
            if not rows:
                return
            chunks = [StoredChunk(*row[:6]) for row in rows]
            vectors = np.stack([np.frombuffer(row[6], dtype="<f4") for row in rows])
            yield chunks, vectors
            last = rows[-1][0]

    def counts(self) -> tuple[int, int]:
        articles = self.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(articles), int(chunks)

    def newest_published(self) -> str | None:
        row = self.db.execute("SELECT max(published) FROM articles").fetchone()
        return row[0] if row else None


def _batches(items: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
