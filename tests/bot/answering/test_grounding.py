"""Years a question names must be in the article read, or the reply says none mentions them."""

from __future__ import annotations

import json

import pytest

from bot.answering.grounding import grounded, mentions_year, question_years
from bot.answering.service import Newsdesk
from index.models import Hit
from index.settings import Settings


def hit(text: str, *, published: str | None = None, title: str = "t", before: str = "") -> Hit:
    return Hit(1, "a", text, 0, len(text), title, published=published, before=before)


def test_the_years_a_question_names():
    assert question_years("who won the 2030 World Cup?") == {"2030"}
    assert question_years("what changed between 1999 and 2004?") == {"1999", "2004"}
    assert question_years("how many people live there?") == set()
    # decades, amounts and other numbers are not years
    assert question_years("what was popular in the 1990s or the 1980's?") == set()
    assert question_years("who paid $2000 or 1850.5 euros or 2010% more?") == set()


def test_an_article_mentions_a_year_in_its_text_headline_date_or_the_text_before():
    assert mentions_year(hit("Argentina won in 2022."), {"2022"})
    assert mentions_year(hit("Argentina won.", published="2022-12-18"), {"2022"})
    assert mentions_year(hit("Argentina won.", title="World Cup 2022 final"), {"2022"})
    assert mentions_year(hit("Argentina won.", before="The 2022 final in Qatar."), {"2022"})
    assert not mentions_year(hit("Argentina won in 2022.", published="2022-12-18"), {"2030"})
    assert mentions_year(hit("anything"), set())


def test_the_whole_article_counts_when_the_store_gives_it():
    passage = hit("Norman returned two interceptions for touchdowns.")
    assert not mentions_year(passage, {"2015"})
    assert mentions_year(passage, {"2015"}, body="In the 2015 season ... " + passage.text)
    hits = [passage, hit("The 2015 season began.")]
    bodies = {"a": "The Panthers' 2015 season. Norman returned two interceptions."}
    assert grounded("how many interceptions in 2015?", hits[:1], 3, bodies.get) == ([0], {"2015"})
    assert grounded("how many interceptions in 2015?", hits[:1], 3) == ([], {"2015"})


def test_only_the_passages_the_answerer_reads_are_kept_and_none_promoted():
    hits = [hit("a 2022 final"), hit("no year"), hit("the 2030 targets"), hit("2030 again")]
    assert grounded("who won the 2030 World Cup?", hits, 3) == ([2], {"2030"})
    assert grounded("who won the 2030 World Cup?", hits[:2], 3) == ([], {"2030"})
    assert grounded("who won the World Cup?", hits, 3) == ([0, 1, 2, 3], set())


@pytest.fixture(scope="module")
def samples(sample_data, embedder):
    return Newsdesk(Settings(data_dir=sample_data, answerer="reader"), embedder=embedder)


def test_a_year_no_article_read_mentions_is_refused_and_the_reply_says_why(samples):
    answer = samples.ask("who won the 2030 World Cup?")
    assert not answer.found
    assert "2030" in answer.note
    first = answer.sources[0]  # what it did find is still shown
    assert first.article_id.startswith("file:argentina-win-world-cup-final")


def test_a_year_the_article_is_dated_in_is_answered(samples):
    answer = samples.ask("who won the 2022 World Cup?")
    assert answer.found and answer.note is None
    assert answer.source.article_id.startswith("file:argentina-win-world-cup-final")


def test_the_service_finds_the_year_anywhere_in_the_article(embedder, tmp_path):
    filler = " ".join(
        f"Paragraph {n} is about the harbour's cranes and its ferries." for n in range(40)
    )
    body = (
        "Ana Lopez won the Harbour Prize on Sunday for her study of the port's tides.\n\n"
        + filler
        + "\n\nThe prize was first awarded in 1998."
    )
    source = tmp_path / "prize.jsonl"
    source.write_text(json.dumps({"id": "prize", "title": "Harbour Prize", "text": body}) + "\n")
    # what is under test is where the year is looked for, not how sure the reader is that a prize
    # "first awarded in 1998" was won by her that year: any confident-enough span is answered
    settings = Settings(data_dir=tmp_path / "data", answerer="reader", min_confidence=0.05)
    desk = Newsdesk(settings, embedder=embedder)
    assert desk.index_paths([str(source)]).ok
    passage = desk.ask("who won the Harbour Prize?").sources[0]
    assert "1998" not in passage.text + passage.before  # the year is only further down
    found = desk.ask("who won the Harbour Prize in 1998?")
    assert found.note is None and found.found and found.text == "Ana Lopez"
    assert "2011" in desk.ask("who won the Harbour Prize in 2011?").note
