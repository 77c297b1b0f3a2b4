"""A second stage over the first-stage ranking, with the reader as the cross-encoder:
`python -m benchmarks.rerank` (the EVALUATION.md index, both dev sets).

For each question the default hybrid search returns its top `depth` passages; the shipped reader
reads each one on its own, and a passage's relevance is the sigmoid of its best span-versus-no-answer
margin. The new order is by (1 - alpha) x the first-stage score (normalised by the best) + alpha x
that relevance. Reported: article R@1 and MRR@10 for every alpha and depth, and the reader time the
stage adds per question (the answer path already reads the first 3 passages, so only the extra ones
are new work).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.eval_all import WORK, question_files  # noqa: E402
from bot.evaluation.runner import load_questions  # noqa: E402
from index.settings import SearchMode, Settings  # noqa: E402

ALPHAS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
DEPTHS = (5, 10)


def relevance(reader, question: str, texts: list[str]) -> list[float]:
    """Per passage: sigmoid of the best margin of any of its windows (0 when it has none)."""
    best = [-30.0] * len(texts)
    for found in reader.candidates(question, texts):
        best[found.hit_index] = max(best[found.hit_index], found.margin)
    return [1 / (1 + math.exp(-max(-30.0, min(30.0, m)))) for m in best]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=WORK / "data")
    parser.add_argument("--limit", type=int, help="questions per set")
    args = parser.parse_args(argv)
    from bot.answering.answerers.reader import load_reader
    from index.search.searcher import Searcher

    settings = Settings.load(dotenv=None).with_overrides(data_dir=args.data_dir)
    searcher = Searcher(settings)
    reader = load_reader(settings.reader_model, passages=max(DEPTHS))
    head = settings.reader_passages
    print("| set | depth | alpha | R@1 | MRR@10 | reader ms added / question |")
    print("|---|---|---|---|---|---|")
    for name, path in question_files(None, None).items():
        questions = [q for q in load_questions(path, args.limit) if q.article_id]
        rows, seconds = [], 0.0
        for q in questions:
            hits = searcher.search(q.question, 10, SearchMode.HYBRID)
            t0 = time.perf_counter()
            extra = relevance(reader, q.question, [h.text for h in hits[: max(DEPTHS)]])
            seconds += time.perf_counter() - t0
            rows.append((q.article_id, hits, extra))
        per_passage_ms = 1000 * seconds / max(1, sum(len(r[2]) for r in rows))
        for depth in DEPTHS:
            for alpha in ALPHAS:
                r1 = mrr = 0.0
                for article, hits, rel in rows:
                    top = max((h.score for h in hits[:depth]), default=1.0) or 1.0
                    scored = [
                        ((1 - alpha) * h.score / top + alpha * rel[i], -i, h)
                        for i, h in enumerate(hits[:depth])
                    ]
                    order = [h for *_, h in sorted(scored, key=lambda s: s[:2], reverse=True)]
                    order += hits[depth:]
                    rank = next((i for i, h in enumerate(order, 1) if h.article_id == article), 0)
                    r1 += rank == 1
                    mrr += 1 / rank if rank else 0.0
                n = len(rows) or 1
                added = per_passage_ms * max(0, depth - head)
                print(
                    f"| {name} | {depth} | {alpha:g} | {100 * r1 / n:.1f} | {mrr / n:.3f} | "
                    f"{added:.0f} |"
                )
                sys.stdout.flush()
    searcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
