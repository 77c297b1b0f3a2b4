"""What a search may return: a publication-date window and a set of outlets.

A `Filter` is pushed down into both retrievers (see `index.search.catalog` for how it becomes a set
of chunk ids), so nothing outside it is ever returned. Dates are whole days: `since` and `until`
are both inclusive. An article without a readable publication date matches no date window.

Date words are read with dateparser against a clock (`today`), so "2018", "March 2020", "last
month", "3 days ago" and "2024-01-31" all work; each names a period, and a bound takes the start of
that period (`since`) or its end (`until`): `--until 2018` means up to 2018-12-31.

The outlet of an article is its `source` field (the outlet or feed name) when it has one, else the
host of its URL without "www." (`reuters.com`). Outlet names match case-insensitively.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit


class FilterError(ValueError):
    """A filter that cannot be applied: a date that does not parse, an empty or reversed window,
    an outlet the index does not know. The message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Filter:
    """Publication dates `since`..`until` (inclusive, either open) and outlets (any of them)."""

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise FilterError(
                f"until {self.until.isoformat()} is before since {self.since.isoformat()}: "
                "no article can match"
            )
        names = tuple(dict.fromkeys(s.strip() for s in self.sources if s and s.strip()))
        object.__setattr__(self, "sources", names)

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources)

    def with_changes(self, **changes: Any) -> Filter:
        return replace(self, **changes)

    def matches(self, published: date | None, outlet: str | None) -> bool:
        """Does an article with this date and outlet pass?"""
        if self.sources and (outlet is None or outlet_key(outlet) not in self.source_keys):
            return False
        if self.since or self.until:
            if published is None:
                return False
            if self.since and published < self.since:
                return False
            if self.until and published > self.until:
                return False
        return True

    @property
    def source_keys(self) -> frozenset[str]:
        return frozenset(outlet_key(s) for s in self.sources)

    def describe(self) -> str:
        """'Reuters, since 2024-01-01', 'from 2018-01-01 to 2018-12-31', 'AP, until 2020-05-01'."""
        parts = [", ".join(self.sources)] if self.sources else []
        if self.since and self.until:
            parts.append(f"from {self.since.isoformat()} to {self.until.isoformat()}")
        elif self.since:
            parts.append(f"since {self.since.isoformat()}")
        elif self.until:
            parts.append(f"until {self.until.isoformat()}")
        return ", ".join(parts) if parts else "none"

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "sources": list(self.sources),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Filter:
        """A filter saved by `as_dict` (an unreadable record gives the empty filter)."""
        if not isinstance(data, dict):
            return cls()
        try:
            since = date.fromisoformat(data["since"]) if data.get("since") else None
            until = date.fromisoformat(data["until"]) if data.get("until") else None
            sources = tuple(str(s) for s in data.get("sources") or ())
            return cls(since, until, sources)
        except (TypeError, ValueError):
            return cls()


# --- dates ---------------------------------------------------------------------------------------
def parse_period(text: str, today: date) -> tuple[date, date]:
    """The days a date phrase names: '2018' -> the whole year, 'March 2020' -> that month,
    'last week' -> Monday to Sunday of it, '2024-01-31' or 'yesterday' -> one day."""
    phrase = " ".join(str(text).split())
    if not phrase:
        raise FilterError("an empty date")
    if re.fullmatch(r"\d{4}", phrase):  # a bare year: dateparser would give December of it
        year = int(phrase)
        return date(year, 1, 1), date(year, 12, 31)
    try:
        day = date.fromisoformat(phrase)
        return day, day
    except ValueError:
        pass
    data = _date_parser(today).get_date_data(phrase)
    if data is None or data.date_obj is None:
        raise FilterError(
            f"cannot read {phrase!r} as a date (try 2024-01-31, 'March 2020', 2018, 'last week')"
        )
    found = data.date_obj.date()
    period = data.period or "day"
    if period == "year":
        return date(found.year, 1, 1), date(found.year, 12, 31)
    if period == "month":
        last = calendar.monthrange(found.year, found.month)[1]
        return date(found.year, found.month, 1), date(found.year, found.month, last)
    if period == "week":
        monday = found - timedelta(days=found.weekday())
        return monday, monday + timedelta(days=6)
    return found, found


def parse_bound(text: str, today: date, *, end: bool) -> date:
    """A `since` (start of the named period) or `until` (its end) bound."""
    first, last = parse_period(text, today)
    return last if end else first


def _date_parser(today: date):
    from dateparser.date import DateDataParser

    base = datetime(today.year, today.month, today.day, 12)
    return DateDataParser(
        languages=["en"],
        settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past", "DATE_ORDER": "DMY"},
    )


def build_filter(
    since: str | None, until: str | None, sources: Iterable[str] = (), *, today: date
) -> Filter:
    """A Filter from the words a person typed (FilterError when they cannot make one)."""
    return Filter(
        parse_bound(since, today, end=False) if since else None,
        parse_bound(until, today, end=True) if until else None,
        tuple(sources),
    )


# --- outlets -------------------------------------------------------------------------------------
def outlet_of(source: str | None, url: str | None) -> str | None:
    """The outlet an article is from: its `source`, else its URL's host without 'www.'."""
    if source and source.strip():
        return " ".join(source.split())
    if url:
        try:
            host = (urlsplit(url.strip()).hostname or "").lower()
        except ValueError:
            return None
        host = host.removeprefix("www.")
        return host or None
    return None


def outlet_key(name: str) -> str:
    """How outlet names compare: case and spacing ignored."""
    return " ".join(name.split()).casefold()


_WIRE_FORMATS = ("%d-%b-%Y %H:%M:%S", "%d-%b-%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y",
                 "%b %d, %Y", "%Y/%m/%d", "%d/%m/%Y", "%d.%m.%Y")  # fmt: skip


def published_day(value: str | None) -> date | None:
    """The day of a stored publication date (ISO 8601, RFC 2822 or a common wire format)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    if match:
        try:
            return date(*map(int, match.groups()))
        except ValueError:
            return None
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in _WIRE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
