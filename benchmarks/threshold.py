"""What each refusal threshold would give, from reports of `newsdesk eval --json --details
--min-confidence 0` (every question answered, with its confidence):

    python -m benchmarks.threshold /tmp/xquad.json /tmp/quail.json [--at 0.2 0.25 0.3]

For every threshold it prints, per report, F1 over the answerable questions (a refused question
scores 0), the share of answerable questions refused and the share of unanswerable ones refused:
the trade-off `NEWSDESK_MIN_CONFIDENCE` chooses a point on, for the reader and index the reports
were made with. Nothing is re-run: a question is refused at threshold t when its confidence < t.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_AT = tuple(t / 100 for t in range(10, 55, 5))


def at_threshold(details: list[dict], t: float) -> dict:
    """F1, answerable refused and unanswerable refused (percentages) at threshold `t`."""
    f1 = refused = kept_out = n_ans = n_unans = 0
    for row in details:
        said = row["prediction"] is not None and row["confidence"] >= t
        if row["answerable"]:
            n_ans += 1
            f1 += row["f1"] if said else 0.0
            refused += not said
        else:
            n_unans += 1
            kept_out += not said
    return {
        "f1": round(100 * f1 / max(n_ans, 1), 1),
        "answerable_refused": round(100 * refused / max(n_ans, 1), 1),
        "unanswerable_refused": round(100 * kept_out / n_unans, 1) if n_unans else None,
    }


def load(path: Path) -> tuple[str, list[dict]]:
    """(name, per-question rows) of one report."""
    report = json.loads(path.read_text())
    if "details" not in report:
        raise SystemExit(f"{path}: no per-question rows; run newsdesk eval with --details")
    if report.get("min_confidence", 0) > 0:
        raise SystemExit(f"{path}: made with --min-confidence {report['min_confidence']}, not 0")
    return path.stem, report["details"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("reports", nargs="+", type=Path)
    p.add_argument("--at", nargs="*", type=float, default=list(DEFAULT_AT))
    args = p.parse_args(argv)
    loaded = [load(path) for path in args.reports]
    head = " | ".join(f"{name} F1 | ans. refused | unans. refused" for name, _ in loaded)
    print(f"| threshold | {head} |")
    print("|---" * (1 + 3 * len(loaded)) + "|")
    for t in args.at:
        cells = []
        for _, details in loaded:
            row = at_threshold(details, t)
            unans = "—" if row["unanswerable_refused"] is None else row["unanswerable_refused"]
            cells += [str(row["f1"]), str(row["answerable_refused"]), str(unans)]
        print(f"| {t:.2f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
