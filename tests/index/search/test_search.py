"""Hybrid retrieval over real news and Wikipedia articles, and its building blocks."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.indexer import Indexer
from index.ingest.files import read_paths
from index.search.fusion import reciprocal_rank_fusion
from index.search.lexical import K1, B, LexicalIndex
from index.search.searcher import Searcher
from index.settings import SearchMode, Settings
from index.tokenize import tokenize

SEED_QUESTION = "who hosts 650,000 refugees?"


@pytest.fixture(scope="module")
def searcher(shared_data, embedder, tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("corpus"))
    files = [shared_data / "seed" / "articles.jsonl", shared_data / "quail_news" / "articles.jsonl",
             shared_data / "xquad_en" / "articles.jsonl"]  # fmt: skip
    report = Indexer(settings, embedder).index(read_paths([str(f) for f in files]))
    assert report.ok and report.added == 79
    searcher = Searcher(settings, embedder)
    yield searcher
    searcher.close()


@pytest.mark.parametrize("mode", list(SearchMode))
def test_the_seed_question_finds_the_seed_article_first(searcher, mode):
    hits = searcher.search(SEED_QUESTION, 5, mode)
    assert hits[0].article_id == "seed"
    assert any("650,000" in h.text for h in hits if h.article_id == "seed")


def test_hits_carry_article_metadata_offsets_and_ranks(searcher):
    timings: dict[str, float] = {}
    hits = searcher.search("Nassib border crossing reopened", 3, SearchMode.HYBRID, timings)
    top = hits[0]
    article = searcher.store.article(top.article_id)
    assert article.text[top.start : top.end] == top.text
    assert top.title == article.title and set(top.ranks) <= {"dense", "bm25"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {"embed_ms", "dense_ms", "bm25_ms", "fusion_ms"} <= set(timings)


def test_near_identical_passages_are_collapsed(searcher):
    hits = searcher.search("Syrian refugees kingdom Western ally", 10, SearchMode.HYBRID)
    texts = [" ".join(h.text.split()).casefold() for h in hits]
    assert len(texts) == len(set(texts))


def test_bm25_scores_equal_plain_rank_bm25_over_the_same_tokens():
    docs = [
        "the cat sat on the mat",
        "dogs chase cats",
        "a cat and a dog",
        "refugees in Jordan",
        "mat cat mat",
    ]
    tokens = [tokenize(d) for d in docs]
    index = LexicalIndex.empty().updated(list(enumerate(tokens, start=100)))
    query = tokenize("cat mat")
    reference = BM25Okapi(tokens, k1=K1, b=B).get_scores(query)
    ours = dict(index.search(query, 10))
    for i, score in enumerate(reference):
        if score > 0:
            assert ours[100 + i] == pytest.approx(score)
    assert 103 not in ours  # shares no term with the query: never a candidate


def test_bm25_candidates_are_capped_to_the_chunks_matching_rare_terms_best():
    tokens = [["common", f"w{i}"] for i in range(50)] + [["common", "rare"]]
    index = LexicalIndex.empty().updated(list(enumerate(tokens)))
    index.max_candidates = 5
    results = index.search(["common", "rare"], 3)
    assert results[0][0] == 50


def test_reciprocal_rank_fusion_adds_weighted_reciprocal_ranks():
    fused = reciprocal_rank_fusion({"dense": [(1, 0.9), (2, 0.8)], "bm25": [(2, 7.0), (3, 1.0)]},
                                   {"dense": 1.0, "bm25": 2.0}, k=10)  # fmt: skip
    scores = {cid: score for cid, score, _ in fused}
    assert scores[2] == pytest.approx(1 / 12 + 2 / 11)
    assert scores[1] == pytest.approx(1 / 11) and scores[3] == pytest.approx(2 / 12)
    assert [cid for cid, _, _ in fused] == [2, 3, 1]
    assert fused[0][2] == {"dense": 2, "bm25": 1}


def test_a_removed_chunk_never_comes_back_from_faiss():
    from index.search.dense import DenseIndex

    dense = DenseIndex.empty(4)
    vectors = np.eye(4, dtype=np.float32)
    dense.add(np.array([10, 20, 30, 40]), vectors)
    dense.remove(np.array([20]))
    assert [cid for cid, _ in dense.search(vectors[1], 4)] != [20]
    assert 20 not in dense.ids() and len(dense) == 3
    assert dense.search(vectors[2], 1)[0][0] == 30
