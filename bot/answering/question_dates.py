"""Dates in a question ("in 2018", "last week", "since March") as a publication-date window.

Two kinds, treated differently:

- **Anchored to today** ("yesterday", "this week/month/year", "last week/month/year", "in the past
  3 days", "2 weeks ago"): they can only mean when the news appeared, so they are a hard filter,
  like `--since/--until`. Not "today": it mostly means "nowadays" ("fragments visible even today",
  XQuAD), and a question about today's news is answered by the newest articles anyway.
- **Calendar dates after a preposition** ("in 2018", "in June 2022", "since March", "before 2020",
  "between 2015 and 2017", "from 2015 to 2017"): often the time of the event, which need not be the
  time of the article ("how long was the crossing closed before it reopened in 2018?" is answered
  by a 2021 article). They are a *preference*: the articles of that window are searched first, and
  when none of them gives a confident answer, every article is.

A bare year without a preposition ("who won the 2022 World Cup?") is not a date filter at all.
Periods are resolved with dateparser (`index.search.filters.parse_period`) against the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from index.search.filters import Filter, FilterError, parse_period

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
YEAR = r"(?:1[89]|20)\d{2}"  # a year, 1800-2099 (also grounding.py's)
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|(?:\d{{1,2}}(?:st|nd|rd|th)? (?:of )?)?{_MONTH}"
    rf"(?: \d{{1,2}}(?:st|nd|rd|th)?)?(?:,? {YEAR})?|{YEAR})"
)
_FLAGS = re.IGNORECASE
_BETWEEN = re.compile(rf"\b(?:between|from) ({_DATE}) (?:and|to|until|till) ({_DATE})\b", _FLAGS)
_SINCE = re.compile(rf"\b(since|after|before|until|till|in|during) ({_DATE})\b", _FLAGS)
_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
_ANCHORED = re.compile(
    r"\b(yesterday|this (?:week|month|year)|last (?:week|month|year)|"
    r"(?:in )?the (?:past|last) (?:(\d+|few|couple of) )?(day|week|month|year)s?|"
    r"(\d+) (day|week|month)s? ago)\b",
    _FLAGS,
)
_FEW = {"few": 3, "couple of": 2}


@dataclass(frozen=True, slots=True)
class QuestionDates:
    """The window a question's words name, the words, and whether it is a hard filter."""

    since: date | None
    until: date | None
    phrase: str
    hard: bool

    def as_filter(self, base: Filter | None = None) -> Filter:
        """`base` (outlets) with this window."""
        base = base or Filter()
        return base.with_changes(since=self.since, until=self.until)

    def describe(self) -> str:
        if self.since and self.until:
            return f"from {self.since.isoformat()} to {self.until.isoformat()}"
        if self.since:
            return f"since {self.since.isoformat()}"
        return f"until {self.until.isoformat()}" if self.until else ""


def dates_in_question(question: str, today: date) -> QuestionDates | None:
    """The date window the question names, or None when it names none."""
    text = " ".join(question.split())
    found = _anchored(text, today)
    if found is not None:
        return found
    try:
        return _calendar(text, today)
    except FilterError:  # words that looked like a date but are not one
        return None


def _anchored(text: str, today: date) -> QuestionDates | None:
    match = _ANCHORED.search(text)
    if match is None:
        return None
    phrase = match.group(1).lower()
    if match.group(5):  # "3 days ago": that day (a week or month ago: that period)
        amount, unit = int(match.group(4)), match.group(5).lower()
        day = today - timedelta(days=amount * _UNITS[unit])
        if unit == "day":
            return QuestionDates(day, day, match.group(1), True)
        since, until = parse_period(f"{amount} {unit}s ago", today)
        return QuestionDates(since, until, match.group(1), True)
    if match.group(3):  # "the past 3 days": from then up to today
        count = match.group(2) or "1"
        amount = _FEW.get(count.lower()) or int(count)
        days = amount * _UNITS[match.group(3).lower()]
        return QuestionDates(today - timedelta(days=days), today, match.group(1), True)
    since, until = parse_period(phrase, today)  # yesterday, this/last week|month|year
    return QuestionDates(since, min(until, today), match.group(1), True)


def _calendar(text: str, today: date) -> QuestionDates | None:
    match = _BETWEEN.search(text)
    if match is not None:
        first, _ = parse_period(match.group(1), today)
        _, last = parse_period(match.group(2), today)
        if last < first:
            return None
        return QuestionDates(first, last, match.group(0), False)
    match = _SINCE.search(text)
    if match is None:
        return None
    word, when = match.group(1).lower(), match.group(2)
    if word in ("in", "during") and not re.search(rf"{YEAR}|{_MONTH}", when, _FLAGS):
        return None
    first, last = parse_period(when, today)
    if word == "since":
        return QuestionDates(first, None, match.group(0), False)
    if word == "after":
        return QuestionDates(last + timedelta(days=1), None, match.group(0), False)
    if word == "before":
        return QuestionDates(None, first - timedelta(days=1), match.group(0), False)
    if word in ("until", "till"):
        return QuestionDates(None, last, match.group(0), False)
    return QuestionDates(first, last, match.group(0), False)
