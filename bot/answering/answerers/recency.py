"""Questions about the latest figure: reading publication dates and preferring newer articles."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

_T = TypeVar("_T")
_FORMATS = ("%d-%b-%Y %H:%M:%S", "%d-%b-%Y", "%a, %d %b %Y %H:%M:%S %z", "%d %B %Y",
            "%B %d, %Y", "%Y/%m/%d", "%d/%m/%Y")  # fmt: skip


def parse_date(value: str | None) -> datetime | None:
    """A publication date from ISO 8601 or the common wire formats; None when unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        pass
    text = re.sub(r"\.\d+$", "", text)
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=None)
        except ValueError:
            continue
    return None


def newest_near_best(
    options: Sequence[_T],
    score: Callable[[_T], float],
    published: Callable[[_T], str | None],
    slack: float,
) -> _T | None:
    """Among the options scoring within `slack` of the best, the one from the newest dated
    article (ties: the better score); the best option when none of those is dated."""
    if not options:
        return None
    best = max(options, key=score)
    near = [
        (date, score(o), i, o)
        for i, o in enumerate(options)
        if score(o) >= score(best) - slack and (date := parse_date(published(o))) is not None
    ]
    if not near:
        return best
    return max(near, key=lambda t: (t[0], t[1], -t[2]))[3]


def as_of_date(published: str | None) -> str | None:
    """The date to show in "as of <date>": ISO day when it can be read, else the raw value."""
    date = parse_date(published)
    if date is not None:
        return date.date().isoformat()
    return published.strip()[:40] if published and published.strip() else None
