"""One generation of the derived indexes (FAISS and BM25), saved beside the SQLite store.

A writer saves generation g+1 under new file names, then commits g+1 to SQLite in the same
transaction as the rows it describes. A crash at any point leaves generation g complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.dense import DenseIndex
from index.lexical import LexicalIndex
from index.store import Store
from index.tokenize import tokenize

_GEN_FILE = re.compile(r"^(dense|lexical)\.(\d+)\.(faiss|npz)$")


class SnapshotError(RuntimeError):
    """A derived index file is missing or damaged (`newsdesk doctor --repair` rebuilds it)."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()}; run `newsdesk doctor --repair` to rebuild it from the database"
        )


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
        try:
            lexical = LexicalIndex.load(lexical_path(data_dir, generation))
            path = dense_path(data_dir, generation)
            dense = DenseIndex.load(path) if path.exists() else None
        except FileNotFoundError as exc:
            raise SnapshotError(f"index file missing: {exc.filename}") from exc
        except Exception as exc:  # numpy, zipfile and faiss each raise their own kinds
            raise SnapshotError(f"index file damaged ({type(exc).__name__}: {exc})") from exc
        if dense is not None and len(dense) != len(lexical):
            raise SnapshotError(
                f"index files disagree: {len(dense)} vectors but {len(lexical)} BM25 entries"
            )
        return cls(generation, dense, lexical)

    def save(self, data_dir: Path, generation: int) -> None:
        self.lexical.save(lexical_path(data_dir, generation))
        if self.dense is not None:
            self.dense.save(dense_path(data_dir, generation))
        self.generation = generation


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
