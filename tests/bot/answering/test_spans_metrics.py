"""Span decoding and SQuAD metrics: the arithmetic the reader and `newsdesk eval` rely on."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answering.answerers.reader import _trim
from bot.answering.answerers.spans import best_spans
from bot.evaluation.metrics import best_em_f1, exact_match, normalize_answer, token_f1


def test_normalisation_drops_case_punctuation_and_articles():
    assert normalize_answer("The  Kingdom of Jordan!") == "kingdom of jordan"


def test_exact_match_and_f1():
    assert exact_match("the Jordan", "Jordan") == 1.0
    assert token_f1("King Abdullah II", "Abdullah") == pytest.approx(0.5)
    assert token_f1("Amman", "Jordan") == 0.0
    em, f1 = best_em_f1("650,000 refugees", ["650,000", "more than 650,000"])
    assert (em, f1) == (0.0, pytest.approx(2 / 3))
    assert best_em_f1("anything", []) == (0.0, 0.0)


def _offsets(n_question: int, n_context: int):
    return [None] * (n_question + 2) + [(i * 5, i * 5 + 4) for i in range(n_context)] + [None]


def test_best_span_is_the_highest_start_plus_end_inside_the_context():
    offsets = _offsets(3, 6)
    start = np.full(len(offsets), -5.0)
    end = np.full(len(offsets), -5.0)
    start[0] = end[0] = 1.0  # [CLS]: the "no answer" score
    start[1] = end[1] = 50.0  # a question token: never an answer
    start[6], end[7] = 4.0, 3.0
    (span,) = best_spans(start, end, offsets)
    assert (span.start_char, span.end_char) == (offsets[6][0], offsets[7][1])
    assert span.score == pytest.approx(7.0)
    assert span.null_score == pytest.approx(2.0)
    # score - log_partition is the span's log-probability over the context tokens
    context = [i for i, o in enumerate(offsets) if o is not None]
    expected = np.log(np.exp(start[context]).sum()) + np.log(np.exp(end[context]).sum())
    assert span.log_partition == pytest.approx(expected)
    assert span.score - span.log_partition < 0


def test_spans_never_end_before_they_start_or_run_too_long():
    offsets = _offsets(1, 40)
    start = np.zeros(len(offsets))
    end = np.zeros(len(offsets))
    start[30], end[5] = 9.0, 9.0  # the two peaks are in the wrong order
    start[4], end[38] = 8.0, 8.0  # 35 tokens apart: longer than allowed
    for span in best_spans(start, end, offsets, max_answer_tokens=10, top_n=50):
        assert span.end_char > span.start_char
        assert span.end_char - span.start_char <= 10 * 5


def test_no_context_tokens_means_no_span():
    assert best_spans(np.zeros(4), np.zeros(4), [None] * 4) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [('"Jordan",', "Jordan"), ("(650,000)", "650,000"), ("U.S.", "U.S"), ("Amman", "Amman")],
)
def test_spans_lose_hanging_quotes_and_punctuation(text, expected):
    start, end = _trim(text, 0, len(text))
    assert text[start:end] == expected
