"""A reader span's fit to the answer type the question asks for, and readings adding up."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.answering.answerers.aggregate import answer_key, combine
from bot.answering.answerers.answer_type import TypeFit

TEXT = (
    "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees, "
    "according to the United Nations. Syria's defense minister met Gen. Yousef Huneiti in "
    "Amman on 14 March 2021, and the talks cost $1.5 billion."
)


def fit(question: str, piece: str) -> float:
    start = TEXT.index(piece)
    return TypeFit.of(question).fit(TEXT, start, start + len(piece))


def test_a_name_fits_who_better_than_a_clause_or_a_description():
    name = fit("who hosts refugees?", "Jordan")
    clause = fit("who hosts refugees?", "The kingdom hosts more than 650,000 Syrian refugees")
    description = fit("who met the defense minister?", "Syria's defense minister")
    person = fit("who met the defense minister?", "Yousef Huneiti")
    assert 0.0 <= clause < name <= 1.0
    assert description < person
    assert person > 0.5


@pytest.mark.parametrize(
    ("question", "right", "wrong"),
    [
        ("when did they meet?", "14 March 2021", "Amman"),
        ("how many refugees does the kingdom host?", "650,000", "Syrian refugees"),
        ("how much did the talks cost?", "$1.5 billion", "Amman"),
        ("where did they meet?", "Amman", "14 March 2021"),
        ("which city hosted the talks?", "Amman", "650,000"),
    ],
)
def test_the_asked_type_fits_better_than_another(question, right, wrong):
    assert fit(question, right) > fit(question, wrong)


@pytest.mark.parametrize(
    "question", ["what did the ministers agree?", "why did they meet?", "how did they travel?"]
)
def test_a_question_that_asks_no_type_fits_every_span(question):
    assert fit(question, "Amman") == fit(question, "The kingdom hosts more than") == 1.0


@dataclass(frozen=True)
class Reading:
    text: str
    margin: float
    log_p: float
    fit: float = 1.0
    votes: int = 1


def test_readings_of_one_answer_add_up_and_the_best_one_shows_it():
    readings = [
        Reading("United Nations", 2.0, -1.0),
        Reading("the United Nations", 3.0, -0.7),
        Reading("Jordan", 4.0, -0.4),
    ]
    combined = combine(readings, lambda r: r.text, lambda r: r.margin)
    assert [r.text for r in combined] == ["the United Nations", "Jordan"]
    united = combined[0]
    assert united.votes == 2
    assert united.margin > 3.0 and united.log_p > -0.7  # more evidence than either reading
    assert united.log_p <= 0.0
    assert combined[1] == readings[2]  # a lone reading is unchanged


def test_answer_keys_ignore_case_articles_and_punctuation():
    assert answer_key("The United Nations,") == answer_key("united nations")
    assert answer_key("Jordan") != answer_key("Jordanian")
