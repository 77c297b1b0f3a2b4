"""`--since/--until/--source` for `ask` and `chat`, and the chat's filter commands."""

from __future__ import annotations

import argparse

from bot.answering.filter_commands import apply_filter_command
from index.search.filters import Filter, FilterError, build_filter


def add_filter_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--since", metavar="DATE", help="only articles published on or after DATE (2024-01-31, "
        "'March 2020', 2018, 'last week')",
    )  # fmt: skip
    p.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")
    p.add_argument(
        "--source", dest="sources", action="append", default=[], metavar="NAME",
        help="only articles from this outlet (repeatable; `newsdesk stats` lists them)",
    )  # fmt: skip


def filter_from_args(args: argparse.Namespace, service) -> Filter:
    """The filter the options ask for, outlets checked against the index; CliError (exit 2)
    when it cannot be applied."""
    from bot.cli.errors import CliError

    try:
        flt = build_filter(args.since, args.until, args.sources, today=service.today())
        return service.check_filter(flt) if flt.sources else flt
    except FilterError as exc:
        raise CliError(f"bad filter: {exc}", 2) from None


def chat_filter_command(line: str, current: Filter, service) -> tuple[Filter, str]:
    """A /since, /until, /source or /filters line: the new filter and what to print."""
    command, _, argument = line.partition(" ")
    try:
        return apply_filter_command(
            command, argument, current, today=service.today(), check=service.check_filter
        )
    except FilterError as exc:
        return current, f"Sorry: {exc}."
