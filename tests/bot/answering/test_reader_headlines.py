"""Headlines as evidence: the reader also reads each article's headline, and an answer read there
is shown in the article's own sentence that says it, or not at all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.answering.answerers.headlines import headline_sources, place
from bot.answering.answerers.reader import load_reader
from index.models import Hit
from index.settings import Settings

HEADLINE = "Argentina beat France on penalties to win the World Cup"
FIRST = (
    "In the shootout, goalkeeper Emiliano Martinez saved from Kingsley Coman, and Gonzalo Montiel "
    "scored the winning kick for Argentina."
)
SECOND = (
    "Lionel Messi finally lifted the World Cup on Sunday as Argentina beat France 4-2 in a penalty "
    "shootout after a 3-3 draw at Lusail Stadium in Qatar."
)


def hit(chunk_id: int, article_id: str, text: str, title: str = HEADLINE, start: int = 0) -> Hit:
    return Hit(chunk_id, article_id, text, start, start + len(text), title)


def test_each_article_with_a_headline_is_read_once_from_its_first_hit():
    hits = [
        hit(1, "a", FIRST),
        hit(2, "b", SECOND, title="  "),
        hit(3, "a", SECOND),
        hit(4, "c", FIRST),
    ]
    assert headline_sources(hits) == [0, 3]


def test_a_headline_answer_is_placed_in_the_sentence_closest_to_the_headline():
    hits = [hit(1, "a", FIRST), hit(2, "a", SECOND, start=500)]
    index, start, end = place("Argentina", hits, "a")
    assert index == 1 and hits[1].text[start:end] == "Argentina"  # "... as Argentina beat France"


def test_placing_matches_whole_words_in_any_case_and_only_in_its_own_article():
    hits = [hit(1, "other", "Argentina won."), hit(2, "a", "The argentinians cheered ARGENTINA.")]
    index, start, end = place("Argentina", hits, "a")
    assert index == 1 and hits[1].text[start:end] == "ARGENTINA"
    assert place("Brazil", hits, "a") is None
    assert place("  ", hits, "a") is None


@pytest.fixture(scope="module")
def reader():
    shipped = load_reader(Settings().reader_model)
    assert shipped is not None
    return shipped


def with_headlines(reader, on: bool):
    copy = load_reader(reader.folder)
    copy.config = replace(reader.config, headlines=on)
    return copy


def test_the_headline_answers_and_the_evidence_is_the_articles_sentence(reader):
    hits = [hit(1, "final", FIRST), hit(2, "final", SECOND, start=400)]
    question = "who beat France on penalties?"  # the passages alone read "Lionel Messi"
    assert with_headlines(reader, False).answer(question, hits).text != "Argentina"
    span = with_headlines(reader, True).answer(question, hits)
    assert span is not None and span.text == "Argentina"
    source = hits[span.hit_index]
    assert source.text[span.start - source.start : span.end - source.start] == "Argentina"
    assert (
        "beat France"
        in source.text[span.evidence_start - source.start : span.evidence_end - source.start]
    )


def test_a_headline_answer_no_passage_repeats_is_not_given(reader):
    passage = "The match was played at Lusail Stadium in Qatar on Sunday in front of 88,966 fans."
    hits = [hit(1, "final", passage)]
    on = with_headlines(reader, True).read_hits("who won the World Cup?", hits)
    assert all("Argentina" not in c.answer(hits[c.hit_index].text) for c in on)
    assert all(c.hit_index == 0 and c.text is None for c in on)


def test_without_headlines_only_the_passages_are_read(reader):
    hits = [hit(1, "final", FIRST), hit(2, "final", SECOND, start=400)]
    off = with_headlines(reader, False).read_hits("who won the World Cup?", hits)
    on = with_headlines(reader, True).read_hits("who won the World Cup?", hits)
    assert {(c.hit_index, c.start, c.end) for c in off} <= {
        (c.hit_index, c.start, c.end) for c in on
    }
    assert len(on) > len(off)  # the headline's own readings, moved into the passages
