"""Terminal rendering: the answer is marked inside its sentence without disturbing the spacing."""

from __future__ import annotations

import io

from bot.render import Style, mark_span


def test_the_mark_keeps_punctuation_attached_and_squashes_whitespace():
    plain = Style(io.StringIO())  # not a terminal: ** marks
    text = "Jordan's army chief,\n Gen. Yousef Huneiti, received  Habib."
    a = text.index("Gen.")
    b = a + len("Gen. Yousef Huneiti")
    assert mark_span(text, a, b, plain) == (
        "Jordan's army chief, **Gen. Yousef Huneiti**, received Habib."
    )
    assert mark_span("Jordan hosts refugees.", 0, 6, plain) == "**Jordan** hosts refugees."
