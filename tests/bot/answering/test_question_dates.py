"""Dates in a question become a publication-date window: a hard filter when anchored to today,
a preference when they name a calendar period, nothing when a year is only part of a name."""

from __future__ import annotations

from datetime import date

import pytest

from bot.answering.question_dates import dates_in_question

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("what did the Fed decide last week?", date(2026, 11, 23), date(2026, 11, 29)),
        ("what happened yesterday?", date(2026, 12, 1), date(2026, 12, 1)),
        ("what was announced this year?", date(2026, 1, 1), TODAY),  # not past today
        ("any news from last month?", date(2026, 11, 1), date(2026, 11, 30)),
        ("what did he say in the past 3 days?", date(2026, 11, 29), TODAY),
        ("what happened 2 days ago?", date(2026, 11, 30), date(2026, 11, 30)),
    ],
)
def test_words_anchored_to_today_are_a_hard_filter(question, since, until):
    found = dates_in_question(question, TODAY)
    assert found is not None and found.hard
    assert (found.since, found.until) == (since, until)


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("who won in 2018?", date(2018, 1, 1), date(2018, 12, 31)),
        ("what happened between 2015 and 2017?", date(2015, 1, 1), date(2017, 12, 31)),
        ("what has changed since March?", date(2026, 3, 1), None),
        ("How much did the Fed raise rates in June 2022?", date(2022, 6, 1), date(2022, 6, 30)),
        ("who led the party before 2020?", None, date(2019, 12, 31)),
        ("what happened after 2019?", date(2020, 1, 1), None),
    ],
)
def test_calendar_dates_after_a_preposition_are_a_preference(question, since, until):
    found = dates_in_question(question, TODAY)
    assert found is not None and not found.hard
    assert (found.since, found.until) == (since, until)


@pytest.mark.parametrize(
    "question",
    [
        "who won the 2022 World Cup?",
        "May I ask who hosts 650,000 refugees?",
        "What share of voters backed Leave in the Brexit referendum?",
        "When does the Brexit transition period end?",
        "who scored in the final?",
        "Whose wall has fragments visible in places around Newcastle even today?",  # XQuAD
    ],
)
def test_ordinary_questions_name_no_dates(question):
    assert dates_in_question(question, TODAY) is None


def test_the_window_is_described_for_the_reply():
    found = dates_in_question("who won in 2018?", TODAY)
    assert found.describe() == "from 2018-01-01 to 2018-12-31"
