"""Terminal rendering: the answer is marked inside its sentence without disturbing the spacing."""

from __future__ import annotations

import io

from bot.cli.render import Style, best_sentence, mark_span


def test_the_mark_keeps_punctuation_attached_and_squashes_whitespace():
    plain = Style(io.StringIO())  # not a terminal: ** marks
    text = "Jordan's army chief,\n Gen. Yousef Huneiti, received  Habib."
    a = text.index("Gen.")
    b = a + len("Gen. Yousef Huneiti")
    assert mark_span(text, a, b, plain) == (
        "Jordan's army chief, **Gen. Yousef Huneiti**, received Habib."
    )
    assert mark_span("Jordan hosts refugees.", 0, 6, plain) == "**Jordan** hosts refugees."


def test_the_sentence_sharing_most_question_terms_is_the_one_emphasised():
    text = (
        "Storms closed schools in the north. Jordan hosts more than 650,000 Syrian refugees. "
        "Aid agencies say Jordan needs more money."
    )
    a, b = best_sentence("who hosts 650,000 refugees?", text)
    assert text[a:b] == "Jordan hosts more than 650,000 Syrian refugees."


def test_no_sentence_is_emphasised_on_one_shared_word_or_in_a_one_sentence_passage():
    text = "Storms closed schools in the north. Aid agencies say Jordan needs more money."
    assert best_sentence("who is Jordan's army chief?", text) is None  # only "jordan" shared
    assert best_sentence("Jordan refugees", "Jordan hosts refugees.") is None
    assert best_sentence("", text) is None
