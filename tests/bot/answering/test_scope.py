"""Answering within a scope, on the bundled samples with the shipped reader: the person's filter,
the dates the question names, and relative dates in answers made absolute."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.answering.scope import scope_lines
from bot.answering.service import Newsdesk
from index.search.filters import Filter
from index.settings import Settings, SettingsError

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "articles"


@pytest.fixture(scope="module")
def desk(embedder, tmp_path_factory) -> Newsdesk:
    data_dir = tmp_path_factory.mktemp("scope-samples")
    # a low threshold: these tests are about the scope searched and the dates, not the reader's
    # confidence (the shipped reader reads "Laurent Fabius" for the Paris question at 0.17)
    env = {
        "NEWSDESK_DATA_DIR": str(data_dir),
        "NEWSDESK_TODAY": "2020-02-03",  # a Monday
        "NEWSDESK_MIN_CONFIDENCE": "0.1",
    }
    service = Newsdesk(Settings.load(env=env, dotenv=None), embedder=embedder)
    assert service.index_paths([str(SAMPLES)]).ok
    return service


def test_when_did_britain_leave_the_eu_names_31_january_2020(desk):
    answer = desk.ask("when did Britain leave the EU?")
    assert answer.found and "Friday" in answer.text
    assert "31 January 2020" in answer.dated_text
    assert answer.resolved_date == "2020-01-31"
    reply = answer.as_dict()
    assert reply["resolved_date"] == "2020-01-31" and "31 January 2020" in reply["answer_dated"]
    assert reply["answer"] == answer.text  # the span itself is unchanged (eval scores it)


def test_a_year_that_is_part_of_a_name_is_no_filter(desk):
    answer = desk.ask("who won the 2022 World Cup?")
    # answered from the World Cup story (which span is right, "Argentina", is the reader's
    # business: issue #13), with no date filter or assumption taken from "2022"
    assert answer.found and "argentina-win-world-cup-final" in answer.source.article_id
    assert answer.filter is None and answer.assumed is None


def test_a_calendar_date_is_searched_first_and_the_reply_says_so(desk):
    answer = desk.ask("Who chaired the Paris climate conference in 2015?")
    assert answer.found and "Fabius" in answer.text
    assert answer.assumed == "searched articles from 2015-01-01 to 2015-12-31"
    assert all(h.published.startswith("2015") for h in answer.sources)
    assert scope_lines(answer) == ["(searched articles from 2015-01-01 to 2015-12-31)"]


def test_when_nothing_in_the_window_answers_every_date_is_searched(desk):
    """The crossing was captured in 2015, but the articles that say so are from 2018 and 2021."""
    answer = desk.ask("Who captured the Nassib crossing in 2015?")
    assert answer.found and "Rebels" in answer.text
    assert answer.filter is None
    assert answer.assumed == (
        "nothing from 2015-01-01 to 2015-12-31 answered it, so all dates were searched"
    )


def test_last_week_is_a_hard_filter_against_the_clock(desk):
    answer = desk.ask("who left the European Union last week?")
    assert answer.filter == {"since": "2020-01-27", "until": "2020-02-02", "sources": []}
    assert {h.article_id for h in answer.sources} == {"sample-uk-leaves-eu"}
    assert "United Kingdom" in (answer.text or "")


def test_an_explicit_filter_wins_over_the_questions_dates(desk):
    flt = Filter(since=date(2016, 1, 1), until=date(2016, 12, 31))
    answer = desk.ask("who left the European Union last week?", flt=flt)
    assert answer.filter["since"] == "2016-01-01"
    assert all(h.published.startswith("2016") for h in answer.sources)
    assert scope_lines(answer)[0] == "filtered: from 2016-01-01 to 2016-12-31"


def test_a_filter_that_matches_no_article_says_so(desk):
    answer = desk.ask("who hosts 650,000 refugees?", flt=Filter(since=date(2030, 1, 1)))
    assert not answer.found and answer.sources == []
    assert answer.note == "No indexed article matches the filter (since 2030-01-01)."
    assert answer.filter_articles == 0


def test_a_bad_clock_setting_is_a_clear_error(desk):
    broken = Newsdesk(replace(desk.settings, today="someday"), embedder=desk.embedder)
    with pytest.raises(SettingsError, match="NEWSDESK_TODAY"):
        broken.today()


def test_an_index_without_dates_ignores_the_questions_dates(embedder, tmp_path):
    undated = tmp_path / "undated.jsonl"
    undated.write_text(
        '{"id": "u", "title": "Wall", "text": "The wall was built in 2018 by the city council."}\n'
    )
    env = {"NEWSDESK_DATA_DIR": str(tmp_path / "data"), "NEWSDESK_TODAY": "2020-02-03"}
    service = Newsdesk(Settings.load(env=env, dotenv=None), embedder=embedder)
    assert service.index_paths([str(undated)]).ok
    for question in ("who built the wall in 2018?", "who built the wall last week?"):
        answer = service.ask(question)
        assert answer.filter is None and answer.assumed is None and answer.note is None
        assert [h.article_id for h in answer.sources] == ["u"]
