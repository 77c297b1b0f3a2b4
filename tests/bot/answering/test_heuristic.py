"""The heuristic answerer: typed candidate spans near the question's terms, honest refusals."""

from __future__ import annotations

import pytest

from bot.answering.answerers import calibration
from bot.answering.answerers.candidates import extract, tokenize_passage
from bot.answering.answerers.heuristic import HeuristicAnswerer, parse_date
from bot.answering.answerers.qtype import classify
from bot.answering.conversation import Conversation
from bot.answering.service import Newsdesk
from bot.evaluation.metrics import normalize_answer
from index.models import Hit
from index.settings import Settings


def hit(text: str, *, start: int = 0, article: str = "a1", published: str | None = None) -> Hit:
    return Hit(1, article, text, start, start + len(text), "Title", published=published)


def ask(question: str, *texts: str):
    return HeuristicAnswerer().answer(question, [hit(t) for t in texts])


def test_the_subject_of_the_question_verb_is_found_through_a_description():
    text = (
        "Jordan has taken in more people fleeing the war than almost any other state. "
        "The kingdom hosts more than 650,000 Syrian refugees registered with the UN agency."
    )
    span = ask("who hosts 650,000 refugees?", text)
    assert span is not None and span.text == "Jordan"
    # the evidence runs from the antecedent's sentence to the sentence that matched
    assert text[span.evidence_start : span.evidence_end].startswith("Jordan has taken")
    assert "650,000" in text[span.evidence_start : span.evidence_end]


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        (
            "how many workers lost their jobs?",
            "The plant in Ohio closed in March. About 1,200 workers lost their jobs, the union said.",
            "1,200",
        ),
        (
            "when was the border crossing reopened?",
            "Rebels held it for three years. The border crossing was reopened in 2018 after talks.",
            "2018",
        ),
        (
            "where was the climate summit held?",
            "Ministers from forty countries met on Tuesday. The climate summit was held in Geneva.",
            "Geneva",
        ),
        (
            "who was appointed finance minister?",
            "Parliament met on Monday. Maria Lopez was appointed finance minister after the vote.",
            "Maria Lopez",
        ),
    ],
)
def test_the_answer_has_the_type_the_question_asks_for(question, text, expected):
    span = ask(question, text)
    assert span is not None
    assert normalize_answer(span.text) == normalize_answer(expected)


def test_offsets_point_into_the_article_not_the_chunk():
    body = "Intro paragraph about other things. " * 3
    text = "The climate summit was held in Geneva on Tuesday."
    h = hit(text, start=len(body))
    article = body + text
    span = HeuristicAnswerer().answer("where was the climate summit held?", [h])
    assert span is not None
    assert article[span.start : span.end] == span.text == "Geneva"
    assert article[span.evidence_start : span.evidence_end] == text
    assert 0.0 <= span.confidence <= 1.0


def test_no_span_without_passages_or_question_terms():
    assert HeuristicAnswerer().answer("who hosts 650,000 refugees?", []) is None
    assert ask("who is it?", "Jordan hosts refugees.") is None


def test_an_unrelated_passage_gets_less_confidence_than_a_matching_one():
    question = "how many workers lost their jobs?"
    right = ask(question, "About 1,200 workers lost their jobs when the Ohio plant closed.")
    wrong = ask(question, "The orchestra played 3 concerts in Vienna last spring to full halls.")
    assert right is not None
    assert wrong is None or wrong.confidence < right.confidence


def test_the_latest_figure_prefers_the_newer_article():
    question = "what is the latest unemployment rate?"
    old = hit("The unemployment rate was 5.1 percent.", article="old", published="2023-01-05")
    new = hit("The unemployment rate was 4.2 percent.", article="new", published="2024-06-01")
    span = HeuristicAnswerer().answer(question, [old, new])
    assert span is not None and span.hit_index == 1 and "4.2" in span.text


def test_wire_dates_are_read():
    assert parse_date("2019-03-02T10:00:00Z").year == 2019
    assert parse_date("26-FEB-1987 15:01:01.79").month == 2
    assert parse_date("not a date") is None and parse_date(None) is None


@pytest.mark.parametrize(
    ("question", "wh", "best"),
    [
        ("who hosts 650,000 refugees?", "who", "PERSON"),
        ("Where was the summit held?", "where", "PLACE"),
        ("when was the crossing reopened?", "when", "DATE"),
        ("how many soldiers were killed?", "how many", "NUMBER"),
        ("which country hosts the most refugees?", "which", "PLACE"),
    ],
)
def test_questions_are_typed_by_what_they_ask_for(question, wh, best):
    info = classify(question)
    assert info.wh == wh
    assert max(info.types, key=info.types.get) == best
    assert "refugee" in " ".join(classify("who hosts 650,000 refugees?").terms)


def test_candidates_are_names_numbers_and_dates_with_exact_offsets():
    text = "Jordanian Gen. Yousef Huneiti met Ali Habib in Amman on 3 March 2019 with 1,200 troops."
    tokens, _ = tokenize_passage(text)
    found = {c.text: c.types for c in extract(text, tokens)}
    for cand in extract(text, tokens):
        assert text[cand.start : cand.end] == cand.text
    assert found["Yousef Huneiti"].get("PERSON") == 1.0  # a title makes a person
    assert found["Amman"].get("PLACE", 0) > found["Amman"].get("PERSON", 0)  # "in Amman"
    assert any("1,200" in t for t in found)
    assert any("2019" in t for t in found)


def test_confidence_grows_with_score_and_margin_and_is_fitted_back():
    assert calibration.confidence(0.2, 0.0, 0.3) < calibration.confidence(0.8, 0.0, 0.3)
    assert calibration.confidence(0.5, 0.0, 0.3) < calibration.confidence(0.5, 0.3, 0.3)
    assert 0.0 < calibration.confidence(-50, -50, 0) < 1e-6
    # a logistic fit recovers the direction of a separable toy problem
    rows = [(x / 10, 0.0, 0.0) for x in range(10)]
    coefficients = calibration.fit(rows, [0] * 5 + [1] * 5)
    assert coefficients[1] > 0
    low, high = (calibration.confidence(*r, coefficients=coefficients) for r in (rows[0], rows[-1]))
    assert low < 0.5 < high


# --- through the service, on the seed article and the QuAIL news articles ------------------------
@pytest.fixture(scope="module")
def desk(seed_and_quail, embedder):
    return Newsdesk(Settings(data_dir=seed_and_quail, answerer="heuristic"), embedder=embedder)


def test_the_seed_question_and_its_follow_up(desk):
    chat = Conversation()
    first = desk.ask("who hosts 650,000 refugees?", conversation=chat)
    assert first.answerer == "heuristic" and first.found
    assert normalize_answer(first.text) == "jordan"
    assert first.source.article_id == "seed"
    follow_up = desk.ask("who is its army chief?", conversation=chat)
    assert "Jordan" in follow_up.rewritten_query
    # the rewritten question retrieves the seed article; naming the general from the sentence
    # after the one that matches "army chief" is beyond the heuristic (see EVALUATION.md) and is
    # asserted for the shipped reader in test_reader.py
    assert follow_up.source.article_id == "seed"


def test_a_question_the_articles_cannot_answer_is_refused_with_passages(desk):
    answer = desk.ask("what is the melting point of tungsten in kelvin?")
    assert not answer.found and answer.text is None
    assert answer.sources
