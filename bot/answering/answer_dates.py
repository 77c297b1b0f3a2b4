"""Relative dates in an answer ("on Friday", "yesterday", "last month") made absolute.

An article says "on Friday" meaning the Friday of the week it was published; a reader a year later
needs "Friday (31 January 2020)". `date_answer` finds the first relative date in the answer (or,
for a "when" question whose answer holds none, in the evidence sentence) and resolves it against
the article's publication date:

- a weekday: the latest such day on or before publication (news reports what happened), "next
  Friday" the first after it, "last Friday" the one before it, "this Friday" the one in its week;
- yesterday / today / tonight / tomorrow: the day before, of, after;
- last / this / next week, month, year: that period ("last month (December 2019)").

Nothing here guesses a date the article does not support: no publication date, no resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from index.search.filters import published_day

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(
    r"\b(?:(last|next|this|on|on this|on last|on next) )?"
    rf"({'|'.join(_WEEKDAYS)})\b"
    r"|\b(yesterday|today|tonight|tomorrow)\b"
    r"|\b(last|this|next) (week|month|year)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(r"^\s*(when|what (day|date|time|month|year)|on what day)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DatedAnswer:
    """The answer with the absolute date added after its relative one, and that date."""

    text: str  # "11pm London time on Friday (31 January 2020)"
    resolved: str  # ISO: "2020-01-31", "2019-12" or "2019"
    phrase: str  # the words resolved: "Friday"
    shown: str  # what was added: "31 January 2020"
    from_evidence: bool


def resolve(phrase: str, published: date) -> tuple[str, str] | None:
    """(ISO value, words to show) of a relative date phrase read on `published`."""
    match = _RELATIVE.fullmatch(" ".join(phrase.split()))
    return _resolve(match, published) if match else None


def _resolve(match: re.Match, published: date) -> tuple[str, str] | None:
    if match.group(2):
        qualifier = (match.group(1) or "").lower().removeprefix("on").strip()
        target = _WEEKDAYS.index(match.group(2).lower())
        back = (published.weekday() - target) % 7
        if qualifier == "next":
            day = published + timedelta(days=(target - published.weekday()) % 7 or 7)
        elif qualifier == "last":
            day = published - timedelta(days=back or 7)
        elif qualifier == "this":
            day = published - timedelta(days=published.weekday()) + timedelta(days=target)
        else:
            day = published - timedelta(days=back)
        return day.isoformat(), _day_words(day)
    if match.group(3):
        shift = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}[match.group(3).lower()]
        day = published + timedelta(days=shift)
        return day.isoformat(), _day_words(day)
    which, unit = match.group(4).lower(), match.group(5).lower()
    step = {"last": -1, "this": 0, "next": 1}[which]
    if unit == "year":
        year = published.year + step
        return str(year), str(year)
    if unit == "month":
        index = published.year * 12 + published.month - 1 + step
        first = date(index // 12, index % 12 + 1, 1)
        return first.strftime("%Y-%m"), first.strftime("%B %Y")
    monday = published - timedelta(days=published.weekday()) + timedelta(weeks=step)
    return monday.isoformat(), f"the week of {_day_words(monday)}"


def _day_words(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def date_answer(
    question: str, answer: str, evidence: str | None, published: str | None
) -> DatedAnswer | None:
    """The answer with its relative date made absolute, or None when there is nothing to do."""
    day = published_day(published)
    if day is None or not answer:
        return None
    if re.search(r"\b\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", answer, re.I):
        return None  # already has a date
    match = _RELATIVE.search(answer)
    from_evidence = False
    if match is None and evidence and _WHEN.search(question):
        match = _RELATIVE.search(evidence)
        from_evidence = True
    if match is None:
        return None
    found = _resolve(match, day)
    if found is None:
        return None
    value, shown = found
    if from_evidence:
        text = f"{answer} ({match.group(0).strip()}, {shown})"
    else:
        text = f"{answer[: match.end()]} ({shown}){answer[match.end() :]}"
    return DatedAnswer(text, value, match.group(0).strip(), shown, from_evidence)
