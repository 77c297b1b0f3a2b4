"""A relative date in an answer is made absolute against its article's publication date."""

from __future__ import annotations

import pytest

from bot.answering.answer_dates import date_answer

PUBLISHED = "2020-01-31"  # a Friday


@pytest.mark.parametrize(
    ("answer", "text", "resolved"),
    [
        (
            "11pm London time on Friday",
            "11pm London time on Friday (31 January 2020)",
            "2020-01-31",
        ),
        ("on Wednesday", "on Wednesday (29 January 2020)", "2020-01-29"),  # the latest Wednesday
        ("next Friday", "next Friday (7 February 2020)", "2020-02-07"),
        ("last Friday", "last Friday (24 January 2020)", "2020-01-24"),
        ("yesterday", "yesterday (30 January 2020)", "2020-01-30"),
        ("tomorrow morning", "tomorrow (1 February 2020) morning", "2020-02-01"),
        ("last month", "last month (December 2019)", "2019-12"),
        ("this year", "this year (2020)", "2020"),
        ("last week", "last week (the week of 20 January 2020)", "2020-01-20"),
    ],
)
def test_relative_dates_in_the_answer_get_the_absolute_date(answer, text, resolved):
    dated = date_answer("when?", answer, None, PUBLISHED)
    assert dated is not None
    assert (dated.text, dated.resolved) == (text, resolved)


def test_a_when_question_takes_the_date_from_the_evidence_when_the_answer_has_none():
    dated = date_answer(
        "when did it close?", "11pm", "It closed at 11pm on Friday, officials said.", PUBLISHED
    )
    assert dated is not None and dated.text == "11pm (on Friday, 31 January 2020)"
    assert dated.from_evidence
    assert date_answer("who closed it?", "the mayor", "on Friday, the mayor...", PUBLISHED) is None


@pytest.mark.parametrize(
    ("answer", "published"),
    [
        ("on Friday", None),  # no publication date: nothing to resolve against
        ("on Friday", "sometime"),
        ("Friday 31 January 2020", PUBLISHED),  # already absolute
        ("Jordan", PUBLISHED),
    ],
)
def test_nothing_is_added_without_a_date_to_resolve_against_or_a_relative_one(answer, published):
    assert date_answer("when?", answer, None, published) is None
