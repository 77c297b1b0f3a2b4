"""Consistency checks between SQLite and the derived FAISS/BM25 files, and their repair."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.indexer import commit_snapshot
from index.lock import WriterLock
from index.snapshot import Snapshot, SnapshotError, rebuild
from index.store import DB_NAME, Store


def problems(data_dir: Path) -> list[str]:
    """What is wrong with the index in `data_dir` (empty when SQLite, FAISS and BM25 agree)."""
    if not (data_dir / DB_NAME).is_file():
        return [f"no index in {data_dir}"]
    store = Store(data_dir)
    try:
        integrity = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            return [f"SQLite database damaged: {integrity}"]
        try:
            snapshot = Snapshot.load(data_dir, store.generation)
        except SnapshotError as exc:
            return [str(exc)]
        rows = np.array(
            [r[0] for r in store.db.execute("SELECT id FROM chunks ORDER BY id")], dtype=np.int64
        )
        found = []
        lexical_ids = np.sort(snapshot.lexical.chunk_ids)
        if not np.array_equal(rows, lexical_ids):
            found.append(f"BM25 holds {len(lexical_ids)} chunks, SQLite {len(rows)}")
        dense_ids = (
            np.sort(snapshot.dense.ids()) if snapshot.dense is not None else np.zeros(0, np.int64)
        )
        if not np.array_equal(rows, dense_ids):
            found.append(f"FAISS holds {len(dense_ids)} vectors, SQLite {len(rows)} chunks")
        return found
    finally:
        store.close()


def check(data_dir: Path, *, repair: bool = False) -> list[str]:
    """`problems()`, and with `repair` rebuild the derived files from SQLite when there are any."""
    found = problems(Path(data_dir))
    if found and repair and (Path(data_dir) / DB_NAME).is_file():
        rebuild_files(Path(data_dir))
        still = problems(Path(data_dir))
        return [f"repaired: {p}" for p in found] + [f"still wrong: {p}" for p in still]
    return found


def rebuild_files(data_dir: Path) -> Snapshot:
    """Rebuild FAISS and BM25 from SQLite as a new generation (under the writer lock)."""
    with WriterLock(data_dir):
        store = Store(data_dir)
        try:
            snapshot = rebuild(store)
            commit_snapshot(store, snapshot, data_dir)
            return snapshot
        finally:
            store.close()
