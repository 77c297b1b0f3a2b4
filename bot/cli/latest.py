"""`newsdesk latest`: the newest headlines with date, outlet and link (a digest of the index)."""

from __future__ import annotations

import argparse
import json

from bot.cli.scope import add_filter_options, filter_from_args

MAX_HEADLINES = 200


def headline_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_HEADLINES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_HEADLINES}, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latest", help="the newest headlines, with date, outlet and link")
    p.add_argument("-n", type=headline_count, default=10, help="how many (default 10)")
    add_filter_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per headline")
    p.set_defaults(func=run)


def format_latest(rows: list[dict]) -> str:
    if not rows:
        return "No dated articles."
    lines = []
    for row in rows:
        meta = " · ".join(p for p in (row["date"], row["outlet"], row["url"]) if p)
        lines.append(f"{row['title']}\n    {meta}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from bot.cli.main import service_from

    service = service_from(args)
    flt = filter_from_args(args, service)
    rows = service.latest(args.n, flt if flt.active else None)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(format_latest(rows))
    return 0
