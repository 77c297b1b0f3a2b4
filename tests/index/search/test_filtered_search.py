"""Filters are pushed down into both retrievers: nothing outside them is returned, in any mode, and
recall holds inside a narrow window (the one matching chunk is found however many others outrank it).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bot.answering.service import Newsdesk
from index.search import restricted
from index.search.dense import DenseIndex, build_ivf
from index.search.filters import Filter, FilterError
from index.search.lexical import LexicalIndex
from index.settings import SearchMode, Settings

TWO_OUTLETS = Path(__file__).resolve().parents[2] / "data" / "two_outlets.jsonl"
QUESTION = "what did the central bank of Freedonia raise its interest rate to?"


@pytest.fixture(scope="module")
def desk(tmp_path_factory, embedder) -> Newsdesk:
    data_dir = tmp_path_factory.mktemp("two-outlets")
    desk = Newsdesk(Settings(data_dir=data_dir), embedder=embedder, answerer=None)
    assert desk.index_paths([str(TWO_OUTLETS)]).ok
    return desk


def article_ids(desk: Newsdesk, mode: SearchMode, flt: Filter | None) -> list[str]:
    return [h.article_id for h in desk.searcher.search(QUESTION, 5, mode, flt=flt)]


@pytest.mark.parametrize("mode", list(SearchMode))
def test_without_a_filter_the_two_versions_count_as_one_story(desk, mode):
    """They are near-duplicates, so the unfiltered search shows one of them: only a filter can
    say which (the tests below ask for each)."""
    assert len({"wire-rates", "planet-rates"} & set(article_ids(desk, mode, None))) == 1


@pytest.mark.parametrize("mode", list(SearchMode))
@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Filter(sources=("Reuters",)), "wire-rates"),
        (Filter(sources=("dailyplanet.example",)), "planet-rates"),  # outlet from the URL host
        (Filter(since=date(2024, 1, 1)), "wire-rates"),
        (Filter(until=date(2023, 12, 31)), "planet-rates"),
        (Filter(date(2023, 6, 2), date(2023, 6, 2)), "planet-rates"),  # one day
        (Filter(date(2024, 3, 14), date(2024, 3, 14), ("reuters",)), "wire-rates"),
    ],
)
def test_a_filter_returns_only_the_right_version_of_the_story(desk, mode, flt, expected):
    found = article_ids(desk, mode, flt)
    assert found and found[0] == expected
    other = {"wire-rates", "planet-rates"} - {expected}
    assert not other & set(found)
    hits = desk.searcher.search(QUESTION, 5, mode, flt=flt)
    assert all(flt.matches(*_day_outlet(h)) for h in hits)


def _day_outlet(hit):
    from index.search.filters import outlet_of, published_day

    return published_day(hit.published), outlet_of(hit.source, hit.url)


@pytest.mark.parametrize("mode", list(SearchMode))
def test_a_window_with_no_article_returns_nothing(desk, mode):
    assert desk.searcher.search(QUESTION, 5, mode, flt=Filter(since=date(2030, 1, 1))) == []


def test_undated_articles_pass_outlet_filters_but_no_date_window(desk):
    bridge = "new bridge over the river"
    by_outlet = desk.searcher.search(bridge, 3, SearchMode.BM25, flt=Filter(sources=("City Desk",)))
    assert [h.article_id for h in by_outlet] == ["undated-bridge"]
    dated = desk.searcher.search(bridge, 3, SearchMode.BM25, flt=Filter(until=date(2100, 1, 1)))
    assert "undated-bridge" not in {h.article_id for h in dated}


def test_outlets_are_checked_against_the_index(desk):
    assert desk.check_filter(Filter(sources=("REUTERS",))).sources == ("Reuters",)
    with pytest.raises(FilterError, match="'AP'.*Reuters"):
        desk.check_filter(Filter(sources=("AP",)))


def test_the_catalog_counts_outlets_and_dates(desk):
    catalog = desk.catalog()
    assert catalog.outlet_counts() == [
        ("Reuters", 2), ("City Desk", 1), ("dailyplanet.example", 1)
    ]  # fmt: skip
    assert catalog.date_range() == (date(2023, 6, 2), date(2024, 8, 20))
    newest = [catalog.article_ids[i] for i in catalog.newest(10)]
    assert newest == ["wire-harvest", "wire-rates", "planet-rates"]  # undated not listed


# --- each retriever on its own ------------------------------------------------------------------
def test_bm25_scores_every_allowed_chunk_so_a_low_ranked_one_is_still_found():
    docs = [(i, ["rates", "rates", "rates", "bank"]) for i in range(1, 500)]
    docs.append((999, ["rates", "harvest", "wheat", "sylvania", "farmers", "tonnes"]))
    lexical = LexicalIndex.empty().updated(docs)
    lexical.max_candidates = 10  # the unfiltered search would not even score chunk 999
    assert 999 not in {c for c, _ in lexical.search(["rates"], 10)}
    allowed = lexical.chunk_ids == 999
    assert [c for c, _ in lexical.search(["rates"], 10, allowed)] == [999]
    assert lexical.search(["rates"], 10, np.zeros(len(lexical), bool)) == []


def _vectors(n: int, dim: int = 16, seed: int = 7) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _exact(vectors, ids, query, allowed, k):
    inside = np.isin(ids, allowed)
    scores = vectors[inside] @ query
    order = np.argsort(-scores)[:k]
    return ids[inside][order].tolist()


@pytest.mark.parametrize("share", [40, 2000])  # a few gathered; most scored in one pass, masked
def test_dense_flat_search_is_exact_inside_the_selection(share):
    vectors = _vectors(3000)
    ids = np.arange(10, 3010, dtype=np.int64)
    dense = DenseIndex.empty(16)
    dense.add(ids, vectors)
    allowed = np.sort(np.random.default_rng(1).choice(ids, share, replace=False))
    query = _vectors(1, seed=99)[0]
    found = [c for c, _ in dense.search(query, 5, allowed)]
    assert found == _exact(vectors, ids, query, allowed, 5)
    selector = restricted.faiss.SearchParameters(sel=restricted.faiss.IDSelectorBatch(allowed))
    _, by_faiss = dense.index.search(query.reshape(1, -1), 5, params=selector)
    assert found == by_faiss[0].tolist()  # what FAISS's own id selector returns
    dense.remove(allowed[:1])  # the view of the storage follows changes to the index
    dense.add(np.array([5000], dtype=np.int64), query.reshape(1, -1))
    changed = [c for c, _ in dense.search(query, 3, np.append(allowed, 5000))]
    assert changed[0] == 5000 and allowed[0] not in changed


@pytest.mark.parametrize("subset_limit", [restricted.EXACT_SUBSET_LIMIT, 10])
def test_dense_ivf_search_keeps_recall_in_a_narrow_selection(monkeypatch, subset_limit):
    """An IVF index probing one list of 64 would miss most of 40 scattered chunks; the
    restricted search scores them all (or, past the limit, searches with the selector)."""
    monkeypatch.setattr(restricted, "EXACT_SUBSET_LIMIT", subset_limit)
    vectors = _vectors(4000)
    ids = np.arange(1, 4001, dtype=np.int64)
    dense = DenseIndex(build_ivf(ids, vectors, nlist=64))
    allowed = np.sort(np.random.default_rng(2).choice(ids, 40, replace=False))
    query = _vectors(1, seed=5)[0]
    found = [c for c, _ in dense.search(query, 5, allowed)]
    assert set(found) <= set(allowed.tolist())
    if subset_limit >= len(allowed):
        dense._ivf().nprobe = 1
        found = [c for c, _ in dense.search(query, 5, allowed)]
        assert found == _exact(vectors, ids, query, allowed, 5)
    missing = np.array([5000, 5001], dtype=np.int64)  # ids the index does not hold (yet)
    assert dense.search(query, 5, np.concatenate([allowed[:3], missing]))
    assert dense.search(query, 5, np.zeros(0, np.int64)) == []


def test_dense_flat_search_is_exact_when_the_selection_lies_far_from_the_question():
    """Most chunks allowed, but none of the best ones: the quick over-fetch finds too few, and
    every allowed vector is scored instead."""
    vectors = _vectors(3000)
    ids = np.arange(1, 3001, dtype=np.int64)
    dense = DenseIndex.empty(16)
    dense.add(ids, vectors)
    query = _vectors(1, seed=3)[0]
    allowed = np.sort(ids[np.argsort(vectors @ query)[:2000]])  # the 2000 worst matches
    found = [c for c, _ in dense.search(query, 10, allowed)]
    assert found == _exact(vectors, ids, query, allowed, 10)
