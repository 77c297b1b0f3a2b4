"""A reader span is widened to the number, name, word or title it cuts, on real article text."""

from __future__ import annotations

import pytest

from bot.answering.answerers.units import whole_units

POPULATION = (
    "According to the 2011 census the country had a population of 22,338,618, up from "
    "20,152,000 a decade earlier."
)
DEAL = (
    "The deal, worth $1.5 billion, was signed in Amman; inflation stood at 3.5% and "
    "unemployment at 22.8 percent."
)
SEED = (
    "The Hala Akhbar news site, which is linked to Jordan's military, reported that the meeting "
    "between Jordanian Gen. Yousef Huneiti and Syrian Gen. Ali Habib was to increase "
    "coordination. The talks with President Bashar al-Assad's envoys were held at the Bank of "
    "England's old office."
)
FINAL = (
    "Lionel Messi finally lifted the World Cup on Sunday as Argentina beat France 4-2 in a "
    "penalty shootout after a 3-3 draw at Lusail Stadium in Qatar."
)
SONG = 'In 2003 she released "Crazy in Love", and told reporters "we were just having fun".'


def widened(text: str, piece: str, occurrence: int = 0) -> str:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    a, b = whole_units(text, start, start + len(piece))
    return text[a:b]


@pytest.mark.parametrize(
    ("text", "piece", "unit"),
    [
        (POPULATION, "22,338", "22,338,618"),
        (POPULATION, "338,618", "22,338,618"),
        (POPULATION, "152,000", "20,152,000"),
        (DEAL, "1.5", "$1.5 billion"),
        (DEAL, "$1.5", "$1.5 billion"),
        (DEAL, "billion", "$1.5 billion"),
        (DEAL, "3.5", "3.5%"),
        (DEAL, "22.8", "22.8 percent"),
    ],
)
def test_a_number_is_never_cut(text, piece, unit):
    assert widened(text, piece) == unit


@pytest.mark.parametrize(
    ("text", "piece", "unit"),
    [
        (FINAL, "Lionel Mess", "Lionel Messi"),  # a word piece: the whole word
        (FINAL, "Messi", "Lionel Messi"),
        (FINAL, "Lusail", "Lusail Stadium"),
        (SEED, "Huneiti", "Yousef Huneiti"),  # not across the title "Gen."
        (SEED, "Hab", "Ali Habib"),
        (SEED, "Akhbar", "Hala Akhbar"),  # "The" starts the sentence: not part of the name
        (SEED, "England", "Bank of England"),
        (SEED, "Bank", "Bank of England"),
        (SONG, "Crazy", "Crazy in Love"),
        (SONG, "in Love", "Crazy in Love"),
    ],
)
def test_a_name_or_a_quoted_title_is_never_cut(text, piece, unit):
    assert widened(text, piece) == unit


@pytest.mark.parametrize(
    ("text", "piece"),
    [
        (FINAL, "Argentina"),  # "as" before it, "beat" after it: a whole name already
        (FINAL, "Argentina beat France 4-2"),
        (FINAL, "3-3 draw"),
        (SEED, "Jordanian Gen. Yousef Huneiti"),
        (SEED, "Syrian"),  # "Gen." after it is a title, not more of a name
        (SEED, "Bashar"),  # "President" is a title, "al-Assad's" a possessive after a link
        (SEED, "Jordan"),  # of "Jordan's": the possessive is not part of the name
        (SONG, "having fun"),  # quoted speech is not a title
        (DEAL, "Amman"),
        (POPULATION, "2011 census"),
    ],
)
def test_a_span_that_cuts_nothing_is_kept(text, piece):
    assert widened(text, piece) == piece


def test_offsets_outside_the_text_are_returned_unchanged():
    assert whole_units("Amman", 3, 99) == (3, 99)
    assert whole_units("Amman", 2, 2) == (2, 2)
