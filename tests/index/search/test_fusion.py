"""Fusion: score-keeping options (convex, DBSF), reciprocal ranks, and keyword-like questions."""

import pytest

from index.models import Hit
from index.search.diversity import firsts_read, spread
from index.search.fusion import fuse, keyword_like, score_fusion
from index.settings import FusionMethod, Settings, SettingsError

DENSE = [(1, 0.62), (2, 0.60), (3, 0.30)]  # a near tie at the top, then a clear miss
BM25 = [(2, 30.0), (4, 6.0), (1, 5.0)]  # one confident hit far ahead of the rest


def order(fused):
    return [cid for cid, _, _ in fused]


def test_convex_keeps_how_sure_each_side_is():
    # Dense min-max: 1 → 1.0, 2 → 0.9375, 3 → 0. BM25 over its best (its scores start at 0):
    # 2 → 1.0, 4 → 0.2, 1 → 1/6: a runner-up at a sixth of the leader stays far behind.
    fused = score_fusion(
        {"dense": DENSE, "bm25": BM25}, {"dense": 1, "bm25": 1}, FusionMethod.CONVEX
    )
    assert order(fused) == [2, 1, 4, 3]
    scores = {cid: score for cid, score, _ in fused}
    assert scores[2] == pytest.approx((0.9375 + 1.0) / 2)
    assert scores[1] == pytest.approx((1.0 + 1 / 6) / 2)
    assert scores[4] == pytest.approx(0.2 / 2)
    assert scores[3] == pytest.approx(0.0)
    assert dict(fused[0][2]) == {"dense": 2, "bm25": 1}  # each retriever's rank is kept


def test_bm25_scores_close_to_the_best_stay_close_after_normalising():
    # Min-max would put the last of three near-equal BM25 hits at 0 and let a dense near-miss win;
    # divided by the best, all three keep ~0.95 and the passage both sides like comes first.
    dense = [(9, 0.80), (3, 0.78), (1, 0.40)]
    bm25 = [(1, 10.0), (2, 9.8), (3, 9.5)]
    fused = score_fusion(
        {"dense": dense, "bm25": bm25}, {"dense": 1, "bm25": 1}, FusionMethod.CONVEX
    )
    assert order(fused)[0] == 3


def test_only_the_top_of_each_list_counts_and_the_rest_follows():
    dense = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    bm25 = [(5, 9.0), (3, 8.0), (6, 1.0), (4, 0.5)]
    fused = fuse({"dense": dense, "bm25": bm25}, method=FusionMethod.CONVEX, weights={}, depth=2)
    # In the fusion: dense 1, 2 and BM25 5, 3; chunk 3 counts for BM25 only (dense rank 3 > 2).
    assert sorted(order(fused)[:4]) == [1, 2, 3, 5]
    assert order(fused)[4:] == [6, 4]  # unscored, by best rank (6: BM25 3rd; 4: 4th in both)
    assert [s for _, s, _ in fused[4:]] == [0.0, 0.0]
    assert dict(fused[order(fused).index(3)][2]) == {"dense": 3, "bm25": 2}  # true ranks kept
    assert fuse({"bm25": bm25}, method=FusionMethod.CONVEX, weights={}, depth=10) == fuse(
        {"bm25": bm25}, method=FusionMethod.CONVEX, weights={}
    )


def test_rank_fusion_cannot_tell_a_near_tie_from_a_clear_lead():
    # The same lists fused by ranks alone: chunk 1 (dense first, BM25 third) ties with chunk 2
    # (dense second, BM25 first) up to 1/61 vs 1/63, whatever the score gaps were.
    fused = fuse({"dense": DENSE, "bm25": BM25}, method=FusionMethod.RRF, weights={}, rrf_k=60)
    scores = {cid: score for cid, score, _ in fused}
    assert scores[2] == pytest.approx(1 / 62 + 1 / 61)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 63)


def test_weights_are_relative_and_a_side_with_nothing_does_not_dilute():
    a = score_fusion(
        {"dense": DENSE, "bm25": BM25}, {"dense": 0.4, "bm25": 0.6}, FusionMethod.CONVEX
    )
    b = score_fusion({"dense": DENSE, "bm25": BM25}, {"dense": 4, "bm25": 6}, FusionMethod.CONVEX)
    assert a == b
    only = score_fusion({"dense": [], "bm25": BM25}, {"dense": 1, "bm25": 1}, FusionMethod.CONVEX)
    assert [(cid, round(s, 3)) for cid, s, _ in only] == [(2, 1.0), (4, 0.2), (1, 0.167)]


def test_dbsf_normalises_over_three_standard_deviations():
    fused = score_fusion({"bm25": BM25}, {"bm25": 1}, FusionMethod.DBSF)
    scores = [score for _, score, _ in fused]
    assert order(fused) == [2, 4, 1]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert 0.5 < scores[0] < 1.0  # not stretched to 1 as min-max would
    same = score_fusion({"bm25": [(7, 3.0), (8, 3.0)]}, {"bm25": 1}, FusionMethod.DBSF)
    assert [s for _, s, _ in same] == [1.0, 1.0]  # no spread: equal, not a division by zero


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("who won the 2022 world cup?", True),
        ('what does "safe haven" mean here?', True),
        ("how many refugees does Jordan host?", True),
        ("who hosts refugees?", False),
        ("Who is the army chief?", False),  # a capital at the start is not a name
    ],
)
def test_keyword_like_questions(question, expected):
    assert keyword_like(question) is expected


def test_keyword_like_question_leans_on_bm25():
    dense = [(1, 0.9), (2, 0.5)]
    bm25 = [(2, 10.0), (1, 2.0)]
    weights = {"dense": 0.6, "bm25": 0.4}
    options = {"method": FusionMethod.CONVEX, "weights": weights, "keyword_dense_factor": 0.25}
    plain = fuse({"dense": dense, "bm25": bm25}, query="who hosts refugees?", **options)
    keyword = fuse({"dense": dense, "bm25": bm25}, query="who hosts 650,000 refugees?", **options)
    assert order(plain) == [1, 2]
    assert order(keyword) == [2, 1]
    assert weights == {"dense": 0.6, "bm25": 0.4}  # the caller's weights are not changed


def test_fusion_setting_is_an_enum_with_a_clear_error():
    assert Settings.load({"NEWSDESK_FUSION": " DBSF "}, dotenv=None).fusion is FusionMethod.DBSF
    with pytest.raises(
        SettingsError, match=r"unknown fusion method 'sum' \(choose convex, dbsf, rrf\)"
    ):
        Settings.load({"NEWSDESK_FUSION": "sum"}, dotenv=None)


def test_the_default_is_convex_fusion_with_bm25_leading():
    settings = Settings.load({}, dotenv=None)
    assert settings.fusion is FusionMethod.CONVEX
    assert settings.bm25_weight > settings.dense_weight
    assert settings.fusion_depth < settings.fetch_k  # fetched candidates beyond it still follow


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSDESK_FUSION_DEPTH": "0"}, "at least 1 candidate"),
        ({"NEWSDESK_DENSE_WEIGHT": "-0.5"}, "NEWSDESK_DENSE_WEIGHT=-0.5 is not a valid value"),
        ({"NEWSDESK_BM25_WEIGHT": "nan"}, "a fusion weight is a number of at least 0"),
    ],
)
def test_bad_fusion_settings_are_refused_clearly(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(env, dotenv=None)


def _hits(*articles):
    return [Hit(i, a, f"passage {i} of {a}", 0, 1, f"story {a}") for i, a in enumerate(articles)]


def test_sources_offer_other_articles_after_the_readers_passages():
    hits = _hits("a", "a", "a", "a", "b", "a", "c", "b")
    shown = spread(hits, k=5, head=3)
    assert [h.chunk_id for h in shown] == [0, 1, 2, 4, 6]  # the reader's three, then b and c
    assert [h.chunk_id for h in spread(hits, k=8, head=3)] == [0, 1, 2, 4, 6, 3, 5, 7]
    assert [h.chunk_id for h in spread(hits, k=2, head=3)] == [0, 1]
    one_article = _hits("a", "a", "a", "a")
    assert spread(one_article, k=4, head=1) == one_article  # nothing else to offer: unchanged


def _ranked(*ranks):
    hits = _hits(*"abcdefgh"[: len(ranks)])
    for hit, r in zip(hits, ranks, strict=True):
        hit.ranks = r
    return hits


def test_a_passage_one_retriever_ranks_first_is_read_even_when_fused_lower():
    # Fused order: BM25's first, then two more, and the dense side's first only fifth.
    hits = _ranked(
        {"bm25": 1, "dense": 7}, {"bm25": 2}, {"bm25": 3, "dense": 4}, {"bm25": 5}, {"dense": 1}
    )
    read = firsts_read(hits, head=3)
    assert [h.chunk_id for h in read] == [0, 1, 4, 2, 3]  # it takes the third place, the rest move
    assert firsts_read(hits, head=5) == hits  # already among the passages read: unchanged
    assert firsts_read(hits[:4], head=3) == hits[:4]  # no first choice below: unchanged


def test_first_choices_already_read_are_never_pushed_out():
    hits = _ranked({"bm25": 1}, {"dense": 1}, {"bm25": 2}, {"bm25": 3})
    assert firsts_read(hits, head=2) == hits
    assert firsts_read(hits, head=0) == hits
