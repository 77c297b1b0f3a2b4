"""Referring expressions resolve to the name they stand for in the sentences before."""

from __future__ import annotations

from bot.answering.answerers.coref import implied_types, resolve

TEXT = "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees."


def at(text: str, word: str) -> tuple[int, int]:
    start = text.index(word)
    return start, start + len(word)


def test_a_description_resolves_to_the_name_before_it():
    referent = resolve(TEXT, *at(TEXT, "kingdom"))
    assert referent is not None
    assert TEXT[referent.start : referent.end] == "Jordan"
    assert referent.sentence_start == 0


def test_a_person_description_skips_names_of_the_wrong_type():
    text = "Talks were held in Geneva. Gen. Yousef Huneiti led them. The general left on Monday."
    referent = resolve(text, *at(text, "The general"))
    assert referent is not None and text[referent.start : referent.end] == "Yousef Huneiti"


def test_names_and_first_sentences_are_not_references():
    assert resolve(TEXT, *at(TEXT, "Jordan")) is None  # a name is already an answer
    first = "The kingdom hosts refugees. Jordan is an ally."
    assert resolve(first, *at(first, "kingdom")) is None  # nothing before it to refer to
    assert (
        implied_types("it") and implied_types("the company") and implied_types("refugees") is None
    )
