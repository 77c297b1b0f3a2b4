"""Questions about the latest figure: the newest article that answers wins, and says its date."""

from __future__ import annotations

import io

import pytest

from bot.answering.answerers.recency import as_of_date, newest_near_best, parse_date
from bot.answering.service import Newsdesk
from bot.cli.render import Style
from bot.cli.reply import format_answer
from index.models import Article
from index.settings import Settings

ARTICLES = [
    Article("jobs-2023", "Freedonia's jobless rate edges up",
            "Freedonia's unemployment rate rose to 5.1 percent in January, the statistics office "
            "said on Friday. Economists had expected a smaller rise. Manufacturing shed 4,000 jobs "
            "over the month, while services added 1,500.", published="2023-02-03"),
    Article("jobs-2024", "Freedonia's jobless rate falls to a record low",
            "Freedonia's unemployment rate fell to 4.2 percent in May, the lowest since records "
            "began, the statistics office said on Friday. Construction and tourism led the hiring. "
            "The finance minister welcomed the figures.", published="2024-06-07"),
    Article("storms", "Storms close schools",
            "Heavy storms closed schools across the northern provinces on Monday. Forecasters "
            "expect the rain to ease by Wednesday.", published="2024-03-01"),
]  # fmt: skip


@pytest.fixture(scope="module")
def desk(embedder, tmp_path_factory):
    # which of the articles' figures is answered is under test, not the reader's confidence
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("latest"), answerer="reader", min_confidence=0.1
    )
    desk = Newsdesk(settings, embedder=embedder)
    assert desk.index_articles(ARTICLES).ok
    if desk.answerer is None or desk.answerer.name != "reader":
        pytest.fail("the shipped reader model did not load")
    return desk


@pytest.mark.parametrize(
    "question",
    ["what is the latest unemployment rate in Freedonia?", "what is Freedonia's jobless rate now?"],
)
def test_the_latest_figure_comes_from_the_newest_article_with_its_date(desk, question):
    answer = desk.ask(question)
    assert {h.article_id for h in answer.sources} >= {"jobs-2023", "jobs-2024"}  # both were read
    assert answer.found and "4.2" in answer.text
    assert answer.source.article_id == "jobs-2024"
    assert answer.as_of == "2024-06-07"
    assert "as of 2024-06-07" in format_answer(answer, Style(io.StringIO()))


def test_a_question_about_a_given_month_is_not_treated_as_latest(desk):
    answer = desk.ask("what was Freedonia's unemployment rate in January?")
    assert answer.found and "5.1" in answer.text
    assert answer.as_of is None


def test_a_newer_option_wins_only_within_the_slack():
    options = [("old", 0.9, "2023-01-01"), ("new", 0.8, "2024-01-01"), ("undated", 0.95, None)]
    pick = lambda slack: newest_near_best(options, lambda o: o[1], lambda o: o[2], slack)  # noqa: E731
    assert pick(0.2)[0] == "new"  # within 0.2 of the best (0.95): both dated ones, newest wins
    assert pick(0.1)[0] == "old"  # "new" is 0.15 below the best: only "old" is near and dated
    assert pick(0.01)[0] == "undated"  # nothing near and dated: the best stays
    assert newest_near_best([], lambda o: 0.0, lambda o: None, 0.1) is None


def test_dates_are_read_and_shown_as_days():
    assert as_of_date("2024-06-07T10:30:00Z") == "2024-06-07"
    assert as_of_date("26-FEB-1987 15:01:01.79") == "1987-02-26"
    assert as_of_date("sometime in spring") == "sometime in spring"
    assert as_of_date(None) is None and parse_date("") is None
