"""The dense side: chunk embeddings in FAISS under stable int64 chunk ids."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.files import write_atomic


class DenseIndex:
    """Inner-product search over unit vectors (cosine), keyed by chunk id; removals shift nothing."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def empty(cls, dim: int) -> DenseIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        return cls(faiss.read_index(str(path)))

    def save(self, path: Path) -> None:
        write_atomic(path, lambda tmp: faiss.write_index(self.index, str(tmp)))

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64)
            )

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the k nearest chunks, best first."""
        if not len(self) or k <= 0:
            return []
        scores, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of the given chunk ids (for collapsing near-duplicates)."""
        return (
            np.stack([self.index.reconstruct(int(i)) for i in ids])
            if ids
            else np.zeros((0, self.dim))
        )

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def describe(self) -> str:
        """The FAISS index type, e.g. 'IndexIDMap2(IndexFlatIP)'."""
        outer = faiss.downcast_index(self.index)
        inner = getattr(outer, "index", None)
        name = type(outer).__name__
        return (
            f"{name}({type(faiss.downcast_index(inner)).__name__})" if inner is not None else name
        )
