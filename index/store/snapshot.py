"""One generation of the derived indexes (FAISS and BM25), saved beside the SQLite store.

A writer saves generation g+1 under new file names, then commits g+1 to SQLite in the same
transaction as the rows it describes. A crash at any point leaves generation g complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import faiss
import numpy as np

from index.atomic import write_atomic
from index.search.dense import DenseIndex
from index.search.lexical import LexicalIndex
from index.store.database import Store
from index.tokenize import tokenize

_GEN_FILE = re.compile(r"^(dense|lexical)\.(\d+)\.(faiss|npz)$")
_T = TypeVar("_T")


class SnapshotError(RuntimeError):
    """A derived index file is missing or damaged (`newsdesk doctor --repair` rebuilds it)."""

    @property
    def problem(self) -> str:
        """What is wrong, without the advice."""
        return super().__str__()

    def __str__(self) -> str:
        return f"{self.problem}; run `newsdesk doctor --repair` to rebuild it from the database"


def dense_path(data_dir: Path, generation: int) -> Path:
    return data_dir / f"dense.{generation}.faiss"


def lexical_path(data_dir: Path, generation: int) -> Path:
    return data_dir / f"lexical.{generation}.npz"


@dataclass
class Snapshot:
    generation: int
    dense: DenseIndex | None  # None until the first chunk fixes the embedding dimension
    lexical: LexicalIndex

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(0, None, LexicalIndex.empty())

    @classmethod
    def load(cls, data_dir: Path, generation: int) -> Snapshot:
        if generation == 0:
            return cls.empty()
        lexical = _read(lexical_path(data_dir, generation), LexicalIndex.load, "BM25")
        path = dense_path(data_dir, generation)
        if path.exists():
            dense = _read(path, DenseIndex.load, "FAISS")
        elif len(lexical):  # every stored chunk has a vector, so FAISS must hold them
            raise SnapshotError(f"index file missing: {path}")
        else:
            dense = None
        if dense is not None and len(dense) != len(lexical):
            raise SnapshotError(
                f"index files disagree: {len(dense)} vectors but {len(lexical)} BM25 entries"
            )
        return cls(generation, dense, lexical)

    def save(self, data_dir: Path, generation: int) -> None:
        """Write both files; an OSError (disk full, read-only) names the file it was writing."""
        _write(lexical_path(data_dir, generation), self.lexical.save)
        if self.dense is not None:
            _write(dense_path(data_dir, generation), partial(_save_dense, self.dense))
        self.generation = generation


def _read(path: Path, load: Callable[[Path], _T], kind: str) -> _T:
    """`load(path)`, with a missing or damaged file reported as a SnapshotError naming it."""
    try:
        return load(path)
    except FileNotFoundError as exc:
        raise SnapshotError(f"index file missing: {path}") from exc
    except OSError:
        raise  # permissions, I/O errors: not damage that a rebuild would mend
    except Exception as exc:  # numpy, zipfile and faiss each raise their own kinds
        raise SnapshotError(f"index file damaged: {path} cannot be read as a {kind} index") from exc


def _write(path: Path, save: Callable[[Path], None]) -> None:
    """`save(path)`, with an OSError naming `path` rather than a temporary file (or nothing)."""
    try:
        save(path)
    except OSError as exc:
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _save_dense(dense: DenseIndex, path: Path) -> None:
    """`DenseIndex.save` through a Python file, so that a failed write is an OSError: FAISS's own
    writer makes it a RuntimeError, and ignores one that only shows when the file is closed."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            faiss.write_index(dense.index, faiss.PyCallbackIOWriter(handle.write))

    write_atomic(path, write)


def remove_other_generations(data_dir: Path, keep: set[int]) -> None:
    """Delete derived files of generations not in `keep` (and leftovers of killed writers)."""
    for path in data_dir.iterdir():
        match = _GEN_FILE.match(path.name)
        if (match and int(match.group(2)) not in keep) or ".tmp-" in path.name:
            path.unlink(missing_ok=True)


def rebuild(store: Store) -> Snapshot:
    """Derived indexes rebuilt from SQLite alone: stored embeddings and re-tokenised text."""
    lexical = LexicalIndex.empty()
    dense: DenseIndex | None = None
    for chunks, vectors in store.iter_chunks(batch_size=20000):
        if dense is None:
            dense = DenseIndex.empty(vectors.shape[1])
        dense.add(np.array([c.id for c in chunks], dtype=np.int64), vectors)
        lexical = lexical.updated([(c.id, tokenize(f"{c.title}\n{c.text}")) for c in chunks])
    return Snapshot(store.generation, dense, lexical)
