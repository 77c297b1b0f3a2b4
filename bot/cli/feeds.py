"""`newsdesk feeds add|remove|list`, `newsdesk update` and `newsdesk watch [--every 15m]`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """Seconds in `90`, `30s`, `15m`, `1h30m` or `1d`; argparse error when it is not one."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
        if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smhd])", "", text).strip():
            raise argparse.ArgumentTypeError(f"not an interval: {text!r} (try 30s, 15m or 1h)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 10:
        raise argparse.ArgumentTypeError("the interval must be at least 10 seconds")
    return seconds


def register(sub) -> None:
    """Add the feed commands to the `newsdesk` subparsers."""
    p = sub.add_parser("feeds", help="list, add or remove the feeds `update` polls")
    feeds = p.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    from bot.cli.main import with_data_dir_option  # (bot.cli.main loads this module: import late)

    with_data_dir_option(feeds)  # `feeds add|remove|list` are nested: they need it too
    a = feeds.add_parser("add", help="add feed URLs to the feeds file in the data directory")
    a.add_argument("urls", nargs="+", metavar="URL")
    a.set_defaults(func=run_feeds_add)
    r = feeds.add_parser("remove", help="remove feed URLs (their articles stay indexed)")
    r.add_argument("urls", nargs="+", metavar="URL")
    r.set_defaults(func=run_feeds_remove)
    ls = feeds.add_parser("list", help="the feeds, where they are configured, last poll")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_feeds_list)

    u = sub.add_parser("update", help="poll every feed once and index new or changed entries")
    u.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    u.add_argument("--quiet", action="store_true", help="print nothing unless something failed")
    u.set_defaults(func=run_update)

    w = sub.add_parser("watch", help="poll the feeds again and again (Ctrl-C stops)")
    w.add_argument(
        "--every", type=parse_interval, default=parse_interval("15m"), metavar="INTERVAL",
        help="time between polls: 30s, 15m (default), 1h",
    )  # fmt: skip
    w.add_argument("--json", action="store_true", help="one JSON summary per poll")
    w.add_argument("--quiet", action="store_true", help="print only polls that changed something")
    w.set_defaults(func=run_watch)


def _settings(args):
    from bot.cli.main import settings_from

    return settings_from(args)


def run_feeds_add(args) -> int:
    from bot.cli.errors import CliError
    from index.ingest.feeds import add_feeds

    settings = _settings(args)
    try:
        added = add_feeds(settings.data_dir, args.urls)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    for url in added:
        print(f"added {url}")
    for url in dict.fromkeys(u.strip() for u in args.urls):
        if url not in added:
            print(f"already there: {url}")
    return 0


def run_feeds_remove(args) -> int:
    from index.ingest.feeds import remove_feeds

    settings = _settings(args)
    removed = remove_feeds(settings.data_dir, args.urls)
    for url in removed:
        print(f"removed {url} (its articles stay indexed)")
    status = 0
    for url in args.urls:
        if url.strip() not in removed:
            where = " (it is set in NEWSDESK_FEEDS)" if url.strip() in settings.feeds else ""
            print(f"not in the feeds file: {url}{where}", file=sys.stderr)
            status = 1
    return status


def run_feeds_list(args) -> int:
    from index.ingest.feed_state import FeedState
    from index.ingest.feeds import load_feed_list

    settings = _settings(args)
    in_file = load_feed_list(settings.data_dir)
    state = FeedState.load(settings.data_dir)
    rows = []
    for url in dict.fromkeys([*settings.feeds, *in_file]):
        record = state.feeds.get(url, {})
        entries = record.get("entries", {}).values()
        rows.append(
            {
                "url": url,
                "configured_in": "NEWSDESK_FEEDS" if url in settings.feeds else "feeds file",
                "title": record.get("title"),
                "last_checked": record.get("checked"),
                "status": record.get("status"),
                "error": record.get("error"),
                "entries": len(record.get("entries", {})),
                "indexed": sum(e.get("status") == "indexed" for e in entries),
                "duplicates": sum(e.get("status") == "duplicate" for e in entries),
            }
        )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("no feeds yet: add one with `newsdesk feeds add URL` or set NEWSDESK_FEEDS")
        return 0
    for row in rows:
        title = f" — {row['title']}" if row["title"] else ""
        print(f"{row['url']}{title}")
        if row["last_checked"]:
            line = f"  checked {row['last_checked']}: {row['status']}, {row['entries']} entries"
            copies = f", {row['duplicates']} copies of other stories" if row["duplicates"] else ""
            line += f" ({row['indexed']} indexed{copies})"
            print(line + (f"; error: {row['error']}" if row["error"] else ""))
        else:
            print("  never polled")
        print(f"  from {row['configured_in']}")
    return 0


def _print_update(update, as_json: bool, quiet: bool) -> None:
    from bot.cli.main import print_report

    report, summary = update.report, update.summary
    if as_json:
        print(json.dumps({**report.as_dict(), "feeds": summary.as_dict()}), flush=True)
        return
    if quiet and report.ok:
        return
    print(summary.line())
    print_report(report)
    sys.stdout.flush()


def run_update(args) -> int:
    from bot.answering.service import Newsdesk
    from index.ingest.feeds import poll_feeds

    settings = _settings(args)
    update = poll_feeds(Newsdesk(settings), settings)
    _print_update(update, args.json, args.quiet)
    return 0 if update.report.ok else 1


def run_watch(args) -> int:
    from bot.answering.service import Newsdesk
    from index.ingest.feeds import poll_feeds
    from index.store.lock import LockedError

    settings = _settings(args)
    service = Newsdesk(settings)  # one service: the model loads once, at the first new entry
    print(f"polling feeds every {_human(args.every)}; Ctrl-C stops", file=sys.stderr)
    try:
        while True:
            started = time.monotonic()
            stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            try:
                update = poll_feeds(service, settings)
            except LockedError as exc:  # another update is running: skip this round
                print(f"{stamp} skipped: {exc}", file=sys.stderr)
            else:
                report = update.report
                changed = report.added or report.updated or not report.ok
                if not args.quiet or changed:
                    if not args.json:
                        print(f"— {stamp}")
                    _print_update(update, args.json, quiet=False)
            time.sleep(max(0.0, args.every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0


def _human(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
