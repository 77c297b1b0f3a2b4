"""The filter commands of a conversation (`newsdesk chat` and Telegram): /since, /until, /source,
/filters. One function turns a command into the chat's new filter and a line to show; front ends
only store the filter and print the line.

    /since DATE      only articles published on or after DATE (2024-01-31, March 2020, last week)
    /until DATE      only articles published on or before DATE
    /source NAME     only articles from this outlet (again to add another); /source off: any
    /filters         show the filter;  /filters off: clear it (also /since off, /until off)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from index.search.filters import Filter, FilterError, parse_bound

FILTER_COMMANDS = ("/since", "/until", "/source", "/filters")
OFF = {"off", "none", "clear", "all", "any"}
HELP_LINES = (
    ("since DATE", "only articles from DATE on (2024-01-31, March 2020, last week)"),
    ("until DATE", "only articles up to DATE"),
    ("source NAME", "only this outlet (again to add one; /source off for all)"),
    ("filters", "show the filter; /filters off clears it"),
)


def describe(flt: Filter) -> str:
    return f"Filter: {flt.describe()}." if flt.active else "No filter: every article is searched."


def apply_filter_command(
    command: str,
    argument: str,
    current: Filter,
    *,
    today: date,
    check: Callable[[Filter], Filter],
) -> tuple[Filter, str]:
    """(the new filter, what to say); FilterError, with the line to show, when it cannot be.
    `check` resolves outlet names against the index (FilterError for an unknown one)."""
    command = command.lower().split("@")[0]
    argument = " ".join(argument.split())
    off = argument.lower() in OFF
    if command == "/filters":
        if off:
            return Filter(), "Filter cleared: every article is searched."
        if argument:
            raise FilterError("/filters takes nothing or 'off'")
        return current, describe(current)
    if command in ("/since", "/until"):
        end = command == "/until"
        name = "until" if end else "since"
        if not argument:
            raise FilterError(f"{command} needs a date, e.g. {command} 2024-01-31 (or 'off')")
        bound = None if off else parse_bound(argument, today, end=end)
        updated = current.with_changes(**{name: bound})
        return updated, describe(updated)
    if command == "/source":
        if not argument:
            raise FilterError("/source needs an outlet name, e.g. /source Reuters (or 'off')")
        if off:
            updated = current.with_changes(sources=())
        else:
            updated = check(current.with_changes(sources=(*current.sources, argument)))
        return updated, describe(updated)
    raise FilterError(f"unknown filter command {command}")
