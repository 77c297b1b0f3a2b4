"""The dense index past FLAT_LIMIT: the switch to IVF, stable ids, removal, recall, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from index.search import dense
from index.search.dense import DenseIndex

DIM = 32


@pytest.fixture(autouse=True)
def small_flat_limit(monkeypatch):
    monkeypatch.setattr(dense, "FLAT_LIMIT", 200)


class Corpus:
    """Clustered unit vectors (50 topics) under sparse, non-contiguous int64 ids."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.centers = self._unit(self.rng.normal(size=(50, DIM)))
        self.next_id = 0

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        topics = self.rng.integers(0, len(self.centers), size=n)
        vectors = self._unit(self.centers[topics] + 0.35 * self.rng.normal(size=(n, DIM)))
        ids = 10**12 + 7 * np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        return ids, vectors


def grow(index: DenseIndex, corpus: Corpus, n: int, kept: dict[int, np.ndarray], step=500):
    for start in range(0, n, step):
        ids, vectors = corpus.batch(min(step, n - start))
        index.add(ids, vectors)
        kept.update(zip(ids.tolist(), vectors, strict=True))


def ivf_shape(index: DenseIndex) -> tuple[int, int] | None:
    ivf = index._ivf()
    return None if ivf is None else (int(ivf.nlist), int(ivf.nprobe))


def assert_holds_exactly(index: DenseIndex, kept: dict[int, np.ndarray]) -> None:
    assert len(index) == len(kept)
    assert set(index.ids().tolist()) == set(kept)
    ids = sorted(kept)
    np.testing.assert_array_equal(index.vectors(ids), np.stack([kept[i] for i in ids]))
    stored_ids, stored_vectors = index.contents()
    np.testing.assert_array_equal(stored_vectors, np.stack([kept[int(i)] for i in stored_ids]))


def test_adding_past_the_limit_switches_to_ivf_with_the_same_ids_and_vectors():
    corpus, kept = Corpus(), {}
    index = DenseIndex.empty(DIM)
    grow(index, corpus, 150, kept)
    assert index.describe() == "IndexIDMap2(IndexFlatIP)" and ivf_shape(index) is None
    grow(index, corpus, 100, kept)  # 250 > 200
    assert index.describe().startswith("IndexIVFFlat(") and ivf_shape(index) == (16, 16)
    assert_holds_exactly(index, kept)
    for chunk_id in list(kept)[::25]:  # every stored vector finds itself first, score 1
        (best, score), *_ = index.search(kept[chunk_id], 3)
        assert best == chunk_id and score == pytest.approx(1.0, abs=1e-5)


def test_removed_ids_are_never_returned_and_the_rest_is_kept():
    corpus, kept = Corpus(), {}
    index = DenseIndex.empty(DIM)
    grow(index, corpus, 600, kept)
    assert ivf_shape(index) is not None
    removed = list(kept)[::4]
    assert index.remove(np.array(removed)) == len(removed)
    assert index.remove(np.array(removed)) == 0  # gone already
    vectors = {i: kept.pop(i) for i in removed}
    assert_holds_exactly(index, kept)
    grow(index, corpus, 600, kept)  # 1,050 > 4 * 16**2: retrained from what is stored
    assert ivf_shape(index)[0] == 32
    assert_holds_exactly(index, kept)
    for chunk_id, vector in list(vectors.items())[::5]:
        found = {i for i, _ in index.search(vector, 50)}
        assert chunk_id not in found and found <= set(kept)


def test_recall_at_10_against_exact_search_on_clustered_vectors():
    corpus, kept = Corpus(seed=11), {}
    index = DenseIndex.empty(DIM)
    shapes = []
    for _ in range(18):
        grow(index, corpus, 1000, kept, step=1000)
        shapes.append(ivf_shape(index))
    # retrained as it grew 4x: 16 lists at first, then 32 (past 1,024), 64 (4,096), 128 (16,384)
    assert [s[0] for s in dict.fromkeys(shapes)] == [32, 64, 128]
    nlist, nprobe = shapes[-1]
    assert nprobe < nlist  # the search is approximate now: not every list is read
    assert_holds_exactly(index, kept)
    ids = np.array(list(kept), dtype=np.int64)
    matrix = np.stack([kept[i] for i in ids.tolist()])
    _, queries = Corpus(seed=99).batch(200)
    queries = corpus._unit(queries)
    exact = np.argsort(-(queries @ matrix.T), axis=1)[:, :10]
    hits = 0
    for query, truth in zip(queries, exact, strict=True):
        found = {i for i, _ in index.search(query, 10)}
        hits += len(found & set(ids[truth].tolist()))
    recall = hits / (10 * len(queries))
    print(f"recall@10 {recall:.3f} with nlist={nlist}, nprobe={nprobe}")
    assert recall >= 0.95, recall


def test_save_and_load_keep_the_ivf_index_its_nprobe_ids_and_removals(tmp_path):
    corpus, kept = Corpus(), {}
    index = DenseIndex.empty(DIM)
    grow(index, corpus, 1200, kept)
    removed = list(kept)[:100]
    index.remove(np.array(removed))
    for i in removed:
        del kept[i]
    path = tmp_path / "dense.faiss"
    index.save(path)
    loaded = DenseIndex.load(path)
    assert loaded.describe() == index.describe() and ivf_shape(loaded) == ivf_shape(index)
    assert_holds_exactly(loaded, kept)
    _, queries = Corpus(seed=5).batch(20)
    for query in queries:
        assert loaded.search(query, 10) == index.search(query, 10)
    # the loaded index still removes by id and reconstructs by id (the direct map was saved)
    gone = list(kept)[:10]
    assert loaded.remove(np.array(gone)) == 10
    for i in gone:
        del kept[i]
    assert_holds_exactly(loaded, kept)


def test_the_flat_index_round_trips_too(tmp_path):
    corpus, kept = Corpus(), {}
    index = DenseIndex.empty(DIM)
    grow(index, corpus, 120, kept)
    index.save(tmp_path / "flat.faiss")
    loaded = DenseIndex.load(tmp_path / "flat.faiss")
    assert loaded.describe() == "IndexIDMap2(IndexFlatIP)"
    assert_holds_exactly(loaded, kept)
