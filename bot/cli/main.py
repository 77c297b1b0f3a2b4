"""The `newsdesk` command line: index, ask, chat, stats, remove, doctor (and plugged-in commands)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from bot.answering.filter_commands import FILTER_COMMANDS
from bot.cli.errors import CliError
from bot.cli.render import Style, format_report, format_sources, format_stats
from bot.cli.reply import format_answer
from bot.cli.scope import add_filter_options, chat_filter_command, filter_from_args
from index.settings import SearchMode, Settings, SettingsError

ANSWERERS = ("auto", "llm", "reader", "heuristic", "none")  # as bot.answering.answerers.METHODS
PLUGINS = ("bot.cli.eval", "bot.cli.feeds", "bot.cli.telegram", "bot.cli.latest")
CHAT_HELP = """Ask a question about the indexed articles; follow-up questions are understood in context.
  /sources  all sources of the last answer      /debug  how the last question was searched
  /reset    forget the conversation             /help   this text
  /since DATE, /until DATE, /source NAME   search only those articles
  /filters  show the filter (/filters off clears it)
  Ctrl-D or /quit to leave."""


MAX_TOP_K = 50  # passages a question may ask for: more only slows the answer and floods the screen


def passage_count(text: str) -> int:
    """`-k`: a whole number of passages, at least 1 (argparse turns the error into exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cap_top_k(args: argparse.Namespace) -> None:
    """A very large `-k` is capped at MAX_TOP_K, with a note on stderr."""
    top_k = getattr(args, "top_k", None)
    if top_k is not None and top_k > MAX_TOP_K:
        print(f"newsdesk: note: -k {top_k} capped at {MAX_TOP_K} passages", file=sys.stderr)
        args.top_k = MAX_TOP_K


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment and `.env`, with command-line overrides."""
    cap_top_k(args)
    settings = Settings.load()
    overrides = {
        "data_dir": Path(args.data_dir).expanduser() if getattr(args, "data_dir", None) else None
    }
    for name in ("top_k", "search_mode", "answerer"):
        overrides[name] = getattr(args, name, None)
    return settings.with_overrides(**overrides)


def service_from(args: argparse.Namespace):
    from bot.answering.service import Newsdesk

    return Newsdesk(settings_from(args))


def print_report(report, as_json: bool = False) -> None:
    """The summary of an indexing run, as text or one JSON object."""
    print(json.dumps(report.as_dict()) if as_json else format_report(report))


# --- index / remove / stats / doctor -----------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from index.ingest.files import read_paths

    service = service_from(args)
    paths = args.paths or ([] if args.feed else list(service.settings.article_dirs))
    urls = [p for p in paths if p.startswith(("http://", "https://"))]
    files = [p for p in paths if p not in urls]
    if not files and not urls and not args.feed:
        raise CliError(
            "nothing to index: give files, folders, globs, URLs or --feed URLs (or set NEWSDESK_ARTICLE_DIRS)",
            2,
        )

    copies: list[tuple[str, str]] = []  # (url, the url of the story it copies), from the web

    def items() -> Iterator:
        yield from read_paths(files, follow_links=args.follow_links)
        if urls:
            from index.ingest.pages import read_urls

            yield from read_urls(urls, service.settings, duplicates=copies)
        if args.feed:  # entries remembered as `update` does: seen and unchanged = not fetched
            from index.ingest.feeds import read_feeds

            yield from read_feeds(args.feed, service.settings, feed_state)

    with contextlib.ExitStack() as stack:
        feed_state = None
        if args.feed:
            from index.ingest.feed_state import FeedState

            feed_state = stack.enter_context(FeedState.locked(service.settings.data_dir))
        bar = _progress_bar(args)
        try:
            report = service.index_articles(
                items(), prune=files if args.prune else (), on_progress=bar.update if bar else None
            )
        finally:
            if bar:
                bar.close()
        if feed_state is not None:
            feed_state.finish(report)  # adds the feeds' copies to report.duplicates
    report.duplicates.extend(copies)
    if not args.quiet or not report.ok:
        print_report(report, args.json)
    return 0 if report.ok else 1


def _progress_bar(args: argparse.Namespace):
    if args.quiet or args.json or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit=" chunks", desc="embedding", file=sys.stderr, leave=False)


def cmd_remove(args: argparse.Namespace) -> int:
    removed = service_from(args).remove(args.ids)
    missing = len(set(args.ids)) - removed
    print(f"{removed} removed" + (f", {missing} not found" if missing else ""))
    return 0 if not missing else 1


def cmd_stats(args: argparse.Namespace) -> int:
    stats = service_from(args).stats(verify=True)
    print(json.dumps(stats) if args.json else format_stats(stats))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from index.backend import is_milvus, milvus_check
    from index.doctor import check

    settings = settings_from(args)
    if is_milvus(settings):
        lines = milvus_check(settings, repair=args.repair)
    else:
        lines = check(settings.data_dir, repair=args.repair)
    for line in lines:
        print(line)
    if not lines:
        print("index is consistent")
    return 0 if all(line.startswith("repaired: ") for line in lines) else 1


# --- ask / chat --------------------------------------------------------------------------------
def _questions(args: argparse.Namespace) -> Iterator[str]:
    for q in args.questions:
        if q == "-":
            yield from (line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            yield q


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.answering.service import QuestionError

    service = service_from(args)
    flt = filter_from_args(args, service)
    style = Style()
    status = 0
    first = True
    for question in _questions(args):
        try:
            answer = service.ask(question, k=args.top_k, mode=args.search_mode, flt=flt)
        except QuestionError as exc:
            print(f"newsdesk: error: {exc}", file=sys.stderr)
            status = 1
            continue
        if args.json:
            print(json.dumps(answer.as_dict(), ensure_ascii=False), flush=True)
        else:
            if not first:
                print("\n" + "─" * 60)
            print(
                format_answer(answer, style, passages=args.top_k or service.settings.top_k),
                flush=True,
            )
        first = False
    return status


def _conversation():
    try:
        from bot.answering.conversation import Conversation
    except ImportError:
        return None
    return Conversation()


def _enable_history(path: Path) -> None:
    """Line editing, and the question history kept between sessions."""
    import atexit
    import readline

    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(path)

    atexit.register(save)


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.answering.service import QuestionError

    service = service_from(args)
    service.searcher  # noqa: B018 - fail now, not at the first question, when there is no index
    conversation = _conversation()
    flt = filter_from_args(args, service)
    style = Style()
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_history(service.settings.data_dir / "chat_history")
        stats = service.stats()
        print(
            style.bold("Newsdesk")
            + f" — {stats['articles']:,} articles. Ask a question, /help for help."
        )
    last = None
    say = partial(print, file=sys.stderr) if args.json else print  # stdout stays JSON lines
    while True:
        try:
            line = input(style.bold("› ") if interactive else "")
        except EOFError:
            if interactive:
                print()
            return 0
        except KeyboardInterrupt:
            print()
            continue
        line = line.strip()
        if not line:
            continue
        command = line.split()[0].lower() if line.startswith("/") else None
        if command in ("/quit", "/exit"):
            return 0
        if command == "/help":
            say(CHAT_HELP)
        elif command == "/reset":
            if conversation is not None:
                conversation.reset()
            last = None
            say("Conversation cleared.")
        elif command == "/sources":
            say(format_sources(last, style) if last else "No answer yet.")
        elif command == "/debug":
            say(
                json.dumps({k: v for k, v in last.as_dict().items() if k != "sources"}, indent=2)
                if last
                else "No answer yet."
            )
        elif command in FILTER_COMMANDS:
            flt, message = chat_filter_command(line, flt, service)
            say(message)
        elif command:
            say(f"Unknown command {command}; /help lists the commands.")
        else:
            try:
                last = service.ask(line, conversation=conversation, flt=flt)
            except QuestionError as exc:
                if args.json:
                    print(json.dumps({"question": line, "error": str(exc)}), flush=True)
                else:
                    print(f"Sorry: {exc}.")
                continue
            if args.json:
                print(json.dumps(last.as_dict(), ensure_ascii=False), flush=True)
            else:
                print(
                    format_answer(last, style) + ("\n" if interactive else "\n" + "─" * 60),
                    flush=True,
                )


# --- parser ------------------------------------------------------------------------------------
DATA_DIR_HELP = "where the index lives (default: NEWSDESK_DATA_DIR)"


def with_data_dir_option(subparsers) -> None:
    """Every command made by `subparsers` also takes `--data-dir` after its name (`newsdesk ask
    --data-dir D ...` as well as `newsdesk --data-dir D ask ...`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help=DATA_DIR_HELP)
    subparsers.add_parser = partial(subparsers.add_parser, parents=[common])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsdesk", description="Ask questions about news articles."
    )
    parser.add_argument("--data-dir", help=DATA_DIR_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    with_data_dir_option(sub)

    p = sub.add_parser("index", help="add or update articles from files, folders, globs or URLs")
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH_OR_GLOB",
        help=".txt .md .html .json .jsonl, folders, URLs",
    )
    p.add_argument(
        "--feed",
        action="extend",
        nargs="+",
        default=[],
        metavar="URL",
        help="index every entry of an RSS/Atom feed",
    )
    p.add_argument(
        "--prune", action="store_true", help="remove indexed articles these paths no longer contain"
    )
    p.add_argument(
        "--follow-links",
        action="store_true",
        help="follow symbolic links met inside folders (a path named here is always read)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="print nothing unless something failed")
    p.set_defaults(func=cmd_index)

    def search_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-k",
            "--top-k",
            type=passage_count,
            dest="top_k",
            help=f"passages to retrieve (1-{MAX_TOP_K})",
        )
        p.add_argument(
            "--mode", dest="search_mode", type=SearchMode.parse, help="hybrid, dense or bm25"
        )
        p.add_argument(
            "--answerer",
            choices=ANSWERERS,
            help="answering method for this call (default: NEWSDESK_ANSWERER); llm needs "
            "NEWSDESK_LLM_BASE_URL and NEWSDESK_LLM_MODEL",
        )
        p.add_argument("--json", action="store_true", help="one JSON object per answer")
        add_filter_options(p)

    p = sub.add_parser("ask", help="answer questions (arguments, or - for one per line on stdin)")
    p.add_argument("questions", nargs="+", metavar="QUESTION")
    search_options(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="an interactive conversation (follow-up questions work)")
    search_options(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("stats", help="what is indexed, and how big it is")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("remove", help="remove articles by id")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("doctor", help="check the index files agree with the database")
    p.add_argument(
        "--repair", action="store_true", help="rebuild damaged FAISS/BM25 files from SQLite"
    )
    p.set_defaults(func=cmd_doctor)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from bot.answering.service import QuestionError
    from index.embedding import EmbeddingError
    from index.indexer import IndexMismatchError
    from index.search.searcher import NoIndexError
    from index.store.database import StoreError
    from index.store.lock import LockedError
    from index.store.snapshot import SnapshotError

    parser = build_parser()
    args = parser.parse_args(argv)
    known = (
        CliError, SettingsError, QuestionError, NoIndexError, LockedError, StoreError,
        SnapshotError, IndexMismatchError, EmbeddingError,
    )  # fmt: skip
    try:
        return int(args.func(args) or 0)
    except known as exc:
        print(f"newsdesk: error: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1) if isinstance(exc, CliError) else 1
    except KeyboardInterrupt:
        print("newsdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `newsdesk ask ... | head`: the reader has gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # disk full, read-only data directory, ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"newsdesk: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # `python -m bot.cli.main`
    sys.exit(main())
