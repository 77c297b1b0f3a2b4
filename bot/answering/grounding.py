"""Years the question names must be in the article read: "who won the 2030 World Cup?" is not
answered from a report of the 2022 final.

A reader scores how well a span answers the question's shape, and a passage about the 2022 final
answers "who won the ... World Cup?" perfectly well, whatever year the question names. So before
reading, `grounded` keeps those of the passages the answerer would read whose article mentions
one of the years the question names (anywhere in its text, its headline or its publication
date). When none does, the reply says which year they do not mention instead of guessing.

Only four-digit years (1800-2099) count; decades ("the 1990s", "the 1980's") and other numbers do
not, since articles write them in too many ways ("$1.2bn", "1.2 billion") for a literal match to be
fair.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.answering.question_dates import YEAR
from index.models import Hit

# a year standing alone: not part of an amount ("$2000", "1850.5", "2010%") nor a decade ("1980's")
_YEAR = re.compile(rf"(?<![\d.,$£€])\b({YEAR})\b(?![.,]\d|%|['’]s\b)")


def question_years(question: str) -> set[str]:
    """The years a question names ("the 2030 World Cup" -> {"2030"})."""
    return set(_YEAR.findall(question))


def mentions_year(hit: Hit, years: set[str], body: str | None = None) -> bool:
    """Whether the hit's article mentions one of `years`: in `body` (the article's whole text,
    when the store can give it), else in what the hit carries (its text and the text before it),
    or in its headline or publication date."""
    if not years:
        return True
    if hit.published and hit.published[:4] in years:
        return True
    texts = (hit.title or "", body) if body is not None else (hit.title or "", hit.text, hit.before)
    return any(set(_YEAR.findall(text)) & years for text in texts)


def grounded(
    question: str,
    hits: Sequence[Hit],
    window: int,
    body: Callable[[str], str | None] | None = None,
) -> tuple[list[int], set[str]]:
    """The indices of the best `window` hits (those the answerer reads) whose article mentions a
    year the question names, and those years; every index when the question names no year. Hits
    further down are not promoted: a passage that mentions 2030 but not the World Cup answers
    nothing. `body(article_id)` gives an article's whole text (None: unknown)."""
    years = question_years(question)
    if not years:
        return list(range(len(hits))), years
    bodies: dict[str, str | None] = {}
    kept = []
    for i, hit in enumerate(hits[:window]):
        if body is not None and hit.article_id not in bodies:
            bodies[hit.article_id] = body(hit.article_id)
        if mentions_year(hit, years, bodies.get(hit.article_id)):
            kept.append(i)
    return kept, years


def ungrounded_note(years: set[str]) -> str:
    """The reply when no passage found mentions the question's year(s)."""
    listed = " or ".join(sorted(years))
    return f"I couldn't find that: none of the articles found mentions {listed}."
