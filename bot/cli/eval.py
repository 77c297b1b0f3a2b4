"""`newsdesk eval`: measure retrieval, answers, refusals, follow-ups and latency (bot.evaluation.runner)."""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli.errors import CliError
from bot.cli.main import ANSWERERS, settings_from
from index.settings import SearchMode


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="measure recall, EM/F1, refusals and latency on a question file",
        description="Ask every question of a JSONL file (id, question, answers, article_id, "
        "answer_starts) and report article recall@1/5/10, MRR, passage recall@5, EM/F1, refusals "
        "and latency; --conversations adds multi-turn follow-ups. See EVALUATION.md.",
    )
    p.add_argument("questions", nargs="?", metavar="QUESTIONS.jsonl")
    p.add_argument(
        "--conversations", metavar="FILE", help="JSONL of {id, turns: [{question, answers}]}"
    )
    p.add_argument(
        "--mode", dest="search_mode", type=SearchMode.parse, help="hybrid, dense or bm25"
    )
    p.add_argument("--answerer", choices=ANSWERERS, help="answering method (default: settings)")
    p.add_argument("--min-confidence", type=float, help="refuse below this confidence")
    p.add_argument(
        "--limit", type=int, metavar="N", help="only the first N questions/conversations"
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--details", action="store_true", help="add one row per question (with --json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.answering.service import Newsdesk
    from bot.evaluation.runner import (
        EvalFileError,
        evaluate,
        format_report,
        load_conversations,
        load_questions,
    )

    if not args.questions and not args.conversations:
        raise CliError("give a question file, --conversations FILE, or both", 2)
    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be at least 1", 2)
    if args.min_confidence is not None and not 0.0 <= args.min_confidence <= 1.0:
        raise CliError("--min-confidence must be between 0 and 1", 2)
    try:
        questions = load_questions(args.questions, args.limit) if args.questions else []
        conversations = (
            load_conversations(args.conversations, args.limit) if args.conversations else []
        )
    except EvalFileError as exc:
        raise CliError(str(exc)) from None
    settings = settings_from(args).with_overrides(
        answerer=args.answerer, min_confidence=args.min_confidence
    )
    service = Newsdesk(settings)
    service.searcher  # noqa: B018 - no index: one clear error before any question is asked
    service.answerer  # noqa: B018 - an unknown or missing answerer fails here too
    bar = None
    if sys.stderr.isatty() and not args.json:
        from tqdm import tqdm

        total = len(questions) + sum(len(c.turns) for c in conversations)
        bar = tqdm(total=total, unit=" q", desc="asking", file=sys.stderr, leave=False)
    try:
        report = evaluate(
            service,
            questions,
            conversations,
            mode=args.search_mode,
            details=args.details,
            progress=bar.update if bar else None,
        )
    finally:
        if bar:
            bar.close()
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return 0
