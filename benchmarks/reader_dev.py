"""The reader's inference switches, one at a time, on the dev set it is scored on (gold paragraph):

    python -m benchmarks.reader_dev [--model models/reader] [--threshold 0.25]

For each variant of `reader.json`'s switches (as shipped; whole units off; the best 3 spans of
each window; aggregation of one answer's readings; both), it reads the 400 SquadShifts new_wiki
dev questions with their own paragraph and the 300 unanswerable dev questions (built like the
training negatives, `training.train_reader.dev_negatives`), and prints EM, F1, how many
answerable ones the calibrated confidence refuses below `--threshold`, how many unanswerable ones
it refuses, and the reader's p50 time per question. This is the "§3 on its own" part of issue
#13's ablation: the same weights, only inference changes. Nothing here reads SQuAD dev, XQuAD or
QuAIL.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.answering.answerers.reader import ReaderAnswerer, ReaderConfig  # noqa: E402
from bot.evaluation.metrics import best_em_f1  # noqa: E402

VARIANTS = {
    "as shipped": {},
    "whole units off": {"whole_units": False},
    "whole units on": {"whole_units": True},
    "3 spans per window": {"spans_per_window": 3},
    "3 spans + aggregate": {"spans_per_window": 3, "aggregate": True},
}


def score(reader: ReaderAnswerer, dev: list[dict], negatives: list[dict], threshold: float):
    """EM, F1, answerable refused, unanswerable refused (percentages) and p50 ms."""
    em = f1 = refused = 0.0
    times = []
    for row in dev:
        started = time.perf_counter()
        found = reader.read(row["question"], [row["context"]])
        times.append(time.perf_counter() - started)
        if found is None or found[3] < threshold:
            refused += 1
            continue
        e, f = best_em_f1(row["context"][found[1] : found[2]], row["answers"]["text"])
        em, f1 = em + e, f1 + f
    kept_out = sum(
        1
        for row in negatives
        if (found := reader.read(row["question"], [row["context"]])) is None or found[3] < threshold
    )
    n = max(len(dev), 1)
    return {
        "em": round(100 * em / n, 1),
        "f1": round(100 * f1 / n, 1),
        "answerable_refused": round(100 * refused / n, 1),
        "unanswerable_refused": round(100 * kept_out / max(len(negatives), 1), 1),
        "p50_ms": round(1000 * statistics.median(times), 1) if times else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "reader")
    p.add_argument("--threshold", type=float, default=0.25)
    p.add_argument("--dev-size", type=int, default=400)
    p.add_argument("--negatives", type=int, default=300)
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    args = p.parse_args(argv)

    from training.train_reader import DEV_SETS, QA_TRAIN, dev_negatives, read_rows

    rows = read_rows(QA_TRAIN / DEV_SETS["new_wiki"])
    random.Random(1).shuffle(rows)  # train_reader's and export_reader's dev order
    dev = rows[: args.dev_size]
    negatives = dev_negatives(QA_TRAIN, "new_wiki", args.negatives)
    config = ReaderConfig.load(args.model / "reader.json")
    print(f"| variant ({args.model.name}, threshold {args.threshold}) | EM | F1 | answerable "
          "refused | unanswerable refused | p50 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name in args.variants.split(","):
        reader = ReaderAnswerer(args.model, passages=1, config=replace(config, **VARIANTS[name]))
        row = score(reader, dev, negatives, args.threshold)
        print(
            f"| {name} | {row['em']} | {row['f1']} | {row['answerable_refused']}% | "
            f"{row['unanswerable_refused']}% | {row['p50_ms']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
