"""Consistency checks between SQLite and the derived FAISS/BM25 files, and their repair."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.indexer import commit_snapshot, require_writable
from index.store.database import DB_NAME, Store
from index.store.lock import WriterLock
from index.store.snapshot import Snapshot, SnapshotError, rebuild

REPAIR_HINT = "run `newsdesk doctor --repair` to rebuild the FAISS and BM25 files from the database"


def problems(data_dir: Path) -> list[str]:
    """What is wrong with the index in `data_dir` (empty when SQLite, FAISS and BM25 agree)."""
    found, _ = _diagnose(Path(data_dir))
    return found


def check(data_dir: Path, *, repair: bool = False) -> list[str]:
    """`problems()`, and how to repair them; with `repair`, rebuild the derived files from SQLite
    when that can mend them. Lines starting "repaired: " report what was mended."""
    data_dir = Path(data_dir)
    found, rebuildable = _diagnose(data_dir)
    if not found or not rebuildable:
        return found
    if not repair:
        return [*found, REPAIR_HINT]
    rebuild_files(data_dir)
    still = problems(data_dir)
    return [f"repaired: {p}" for p in found] + [f"still wrong: {p}" for p in still]


def _diagnose(data_dir: Path) -> tuple[list[str], bool]:
    """The problems, and whether rebuilding FAISS and BM25 from SQLite would mend them."""
    if not (data_dir / DB_NAME).is_file():
        return [f"no index in {data_dir}"], False
    store = Store.for_reading(data_dir)
    try:
        integrity = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            return [f"SQLite database damaged: {integrity}"], False
        try:
            snapshot = Snapshot.load(data_dir, store.generation)
        except SnapshotError as exc:
            return [exc.problem], True
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
        return found, True
    finally:
        store.close()


def rebuild_files(data_dir: Path) -> Snapshot:
    """Rebuild FAISS and BM25 from SQLite as a new generation (under the writer lock)."""
    require_writable(data_dir, "repair the index")
    with WriterLock(data_dir):
        store = Store(data_dir)
        try:
            snapshot = rebuild(store)
            commit_snapshot(store, snapshot, data_dir)
            return snapshot
        finally:
            store.close()
