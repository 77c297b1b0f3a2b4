"""Measure the reader's confidence where it is used: over retrieved passages, not a given paragraph.

    python training/calibrate_open.py    # ~8 min the first time (indexing), ~4 min later

`export_reader.py` fits the shipped sigmoid(a * margin + b + c * log_p) on each question read with
its own paragraph (or with another one). In the product the reader reads the top passages of a hybrid
search and picks the most confident span among them, so retrieval is evidence too: a span in the best
article may deserve more trust than an equally strong one in the third article retrieved. This script
asks whether refitting in that setting, with a fourth weight d * log(article rank) (the passages of
one article share its rank, `reader.article_ranks`) and a fifth e * type fit (how well the span fits
the answer type the question asks for, `answer_type.TypeFit`) and a sixth f * cover (the share of
the question's words in the sentence the span is in, `reading.cover`), does better than the
shipped calibration. `--spans-per-window`, `--aggregate`, `--whole-units` and `--headlines` read
with the reader's inference switches set otherwise than in reader.json (a refit is only valid for
the switches it was fitted with):

1. indexes the 48 SquadShifts new_wiki articles (their paragraphs joined) and 200 BBC/Reuters
   distractors in a data directory under /tmp (later runs reuse it);
2. takes new_wiki questions that neither the checkpoints' dev set nor export_reader's calibration
   used, and reads the top passages of each twice: as retrieved (answerable) and with the question's
   own article removed from the hits (not in the corpus: every span is wrong);
3. fits on half of the questions and prints, for the other half, Brier score and what the user sees
   (EM, F1, answerable refused, unanswerable refused) for the shipped calibration at 0.25 and for the
   refits at the threshold that refuses as few answerable questions.

It writes nothing: `models/reader/reader.json` takes a new calibration by hand, only when `make eval`
shows it better (EVALUATION.md has the last comparison). Nothing here reads SQuAD dev, XQuAD or QuAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import astuple, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.eval_all import distractors  # noqa: E402
from bot.answering.answerers.reader import (  # noqa: E402
    MODEL_FILE,
    Candidate,
    ReaderAnswerer,
    ReaderConfig,
)
from bot.evaluation.metrics import best_em_f1  # noqa: E402
from index.chunking import split_sentences  # noqa: E402
from training.export_reader import fit_logistic  # noqa: E402
from training.train_reader import DEV_SETS, QA_TRAIN, read_rows  # noqa: E402

WORK = Path(os.environ.get("NEWSDESK_CALIBRATE_DIR", "/tmp/newsdesk-calibrate"))
USED = 1000  # export_reader's dev (400) and calibration (600) questions come first
DISTRACTORS = 200
BASE_THRESHOLD = 0.25  # the service's default NEWSDESK_MIN_CONFIDENCE


def corpus(rows: list[dict]) -> Path:
    """new_wiki's articles (paragraphs in order, joined) and some distractors, as one JSONL file."""
    paragraphs: dict[str, list[str]] = {}
    for row in rows:
        seen = paragraphs.setdefault(row["title"], [])
        if row["context"] not in seen:
            seen.append(row["context"])
    lines = [
        json.dumps(
            {"id": f"new_wiki/{title}", "title": title.replace("_", " "), "text": "\n\n".join(p)}
        )
        + "\n"
        for title, p in sorted(paragraphs.items())
    ]
    with open(distractors(WORK / "distractors.jsonl"), encoding="utf-8") as f:
        lines += f.readlines()[:DISTRACTORS]
    path = WORK / "corpus.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def without_answer(hit, answers: list[str]):
    """The passage with every sentence that holds one of the answers cut out."""
    kept = [
        hit.text[s:e]
        for s, e in split_sentences(hit.text)
        if not any(a and a in hit.text[s:e] for a in answers)
    ]
    return replace(hit, text=" ".join(k.strip() for k in kept))


def reads(desk, reader: ReaderAnswerer, questions: list[dict]) -> list[dict]:
    """For each question: its candidates as retrieved, with its own article left out (not in the
    corpus), and with the sentences that hold the answer cut from its own article's passages (the
    article is there but does not say: QuAIL's unanswerable questions are of that kind)."""
    out = []
    for n, row in enumerate(questions, 1):
        hits = desk.searcher.search(row["question"], 60, None, {})  # deep: see the other articles
        own = f"new_wiki/{row['title']}"
        answers = row["answers"]["text"]
        cut = [without_answer(h, answers) if h.article_id == own else h for h in hits]
        for kind, chosen in (
            ("answerable", hits[: reader.passages]),
            ("not_indexed", [h for h in hits if h.article_id != own][: reader.passages]),
            ("in_article", [h for h in cut if h.text.strip()][: reader.passages]),
        ):
            if kind == "in_article" and not any(h.article_id == own for h in chosen):
                continue  # its article was not read: the same as not indexed
            found = reader.read_hits(row["question"], chosen)
            labels = [best_em_f1(c.answer(chosen[c.hit_index].text), answers) for c in found]
            if kind != "answerable" and any(f >= 0.5 for _, f in labels):
                continue  # another passage happens to hold the answer
            out.append(
                {"answerable": kind == "answerable", "kind": kind, "candidates": found,
                 "labels": labels}
            )  # fmt: skip
        if n % 100 == 0:
            print(f"calibrate_open: read {n}/{len(questions)} questions", flush=True)
    return out


def outcome(items: list[dict], calibration, threshold: float) -> dict:
    """What the user sees when the most confident candidate is answered above `threshold`."""
    em = f1 = wrongly = answerable = 0
    refused: dict[str, int] = {}
    asked: dict[str, int] = {}
    for item in items:
        best = max(
            zip(item["candidates"], item["labels"], strict=True),
            key=lambda pair: pair[0].confidence(calibration),
            default=None,
        )
        said = best is not None and best[0].confidence(calibration) >= threshold
        if item["answerable"]:
            answerable += 1
            if said:
                em, f1 = em + best[1][0], f1 + best[1][1]
            else:
                wrongly += 1
        else:
            kind = item.get("kind", "not_indexed")
            asked[kind] = asked.get(kind, 0) + 1
            refused[kind] = refused.get(kind, 0) + (not said)
    return {
        "em": round(100 * em / max(answerable, 1), 1),
        "f1": round(100 * f1 / max(answerable, 1), 1),
        "wrongly_refused": round(100 * wrongly / max(answerable, 1), 1),
        "unanswerable_refused": round(100 * sum(refused.values()) / max(sum(asked.values()), 1), 1),
        **{f"{k}_refused": round(100 * refused[k] / asked[k], 1) for k in sorted(asked)},
        "answerable": answerable,
        **{k: asked[k] for k in sorted(asked)},
    }


FEATURES = {  # which of Candidate.features (margin, log_p, log rank, type fit, cover) a refit weighs
    "refit": (0, 1),
    "refit + article rank": (0, 1, 2),
    "refit + article rank + type fit": (0, 1, 2, 3),
    "refit + cover": (0, 1, 4),
    "refit + article rank + cover": (0, 1, 2, 4),
}


def fit(items: list[dict], columns: tuple[int, ...]) -> list[float]:
    """Logistic weights (a, b, c, d, e, f) on every candidate: right (F1 >= 0.5) or not; the
    weights of the features not in `columns` are 0."""
    rows, ys = [], []
    for item in items:
        for cand, (_, f) in zip(item["candidates"], item["labels"], strict=True):
            rows.append([cand.features[i] for i in columns])
            ys.append(1.0 if f >= 0.5 else 0.0)
    w = fit_logistic(np.array(rows), np.array(ys))
    weights = dict(zip(columns, (float(v) for v in w[:-1]), strict=True))
    a, c, d, e, f = (weights.get(i, 0.0) for i in range(5))
    return [round(v, 5) for v in (a, float(w[-1]), c, d, e, f)]


def brier(items: list[dict], calibration) -> float:
    errors = [
        (cand.confidence(calibration) - (1.0 if f >= 0.5 else 0.0)) ** 2
        for item in items
        for cand, (_, f) in zip(item["candidates"], item["labels"], strict=True)
    ]
    return round(float(np.mean(errors)), 4)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=800)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "reader")
    p.add_argument("--spans-per-window", type=int, help="override the model's reader.json")
    p.add_argument("--aggregate", type=int, choices=(0, 1), help="override (1: on, 0: off)")
    p.add_argument("--whole-units", type=int, choices=(0, 1), help="override (1: on, 0: off)")
    p.add_argument("--headlines", type=int, choices=(0, 1), help="override (1: on, 0: off)")
    args = p.parse_args(argv)

    from bot.answering.service import Newsdesk
    from index.settings import Settings

    rows = read_rows(QA_TRAIN / DEV_SETS["new_wiki"])
    random.Random(1).shuffle(rows)  # export_reader's order: its questions are rows[:USED]
    questions = rows[USED : USED + args.questions]
    WORK.mkdir(parents=True, exist_ok=True)
    settings = Settings.load(dotenv=None).with_overrides(data_dir=WORK / "data")
    desk = Newsdesk(settings, answerer=None)
    report = desk.index_paths([str(corpus(rows))])
    print(f"calibrate_open: index {report.as_dict()}", flush=True)

    config = ReaderConfig.load(args.model / "reader.json")
    overrides = {
        "spans_per_window": args.spans_per_window,
        "aggregate": None if args.aggregate is None else bool(args.aggregate),
        "whole_units": None if args.whole_units is None else bool(args.whole_units),
        "headlines": None if args.headlines is None else bool(args.headlines),
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    reader = ReaderAnswerer(args.model, passages=settings.reader_passages, config=config)
    print(f"calibrate_open: {config}", flush=True)
    variant = f"{config.spans_per_window}{'a' if config.aggregate else ''}"
    variant += "u" if config.whole_units else ""
    variant += "h" if config.headlines else ""
    model = (args.model / MODEL_FILE).stat()  # the reads of this model file, no other
    variant += f"-{model.st_size}-{int(model.st_mtime)}"
    cache = WORK / f"reads3-{args.questions}-{variant}.json"  # 3: with the question's cover
    if cache.is_file():
        items = [
            {**item, "candidates": [Candidate(*c) for c in item["candidates"]]}
            for item in json.loads(cache.read_text())
        ]
    else:
        items = reads(desk, reader, questions)
        cache.write_text(
            json.dumps(
                [
                    {**item, "candidates": [list(astuple(c)) for c in item["candidates"]]}
                    for item in items
                ]
            )
        )
    half = len(items) // 2
    fit_part, test_part = items[:half], items[half:]
    results = {"shipped (paragraph fit)": list(reader.config.calibration)}
    for name, columns in FEATURES.items():
        results[name] = fit(fit_part, columns)
    # compare at one operating point: the threshold at which each refuses no more answerable
    # questions than the shipped calibration does at the service's threshold
    budget = outcome(test_part, results["shipped (paragraph fit)"], BASE_THRESHOLD)
    for name, cal in results.items():
        threshold = BASE_THRESHOLD
        if name != "shipped (paragraph fit)":
            threshold = max(
                (t / 100 for t in range(1, 51)
                 if outcome(test_part, cal, t / 100)["wrongly_refused"] <= budget["wrongly_refused"]),
                default=0.01,
            )  # fmt: skip
        row = {
            "threshold": threshold,
            **outcome(test_part, cal, threshold),
            "brier": brier(test_part, cal),
            "always_answering": outcome(test_part, cal, 0.0),
        }
        print(f"calibrate_open: held-out {name} {cal}: {json.dumps(row)}")
        for t in range(10, 55, 5):  # the trade-off, to choose the service's threshold from
            seen = outcome(test_part, cal, t / 100)
            print(
                f"calibrate_open:   at {t / 100:.2f}: F1 {seen['f1']}, answerable refused "
                f"{seen['wrongly_refused']}%, not indexed refused "
                f"{seen.get('not_indexed_refused')}%, in article refused "
                f"{seen.get('in_article_refused')}%"
            )
    for name, columns in FEATURES.items():
        print(f"calibrate_open: {name} on all {len(items)} reads: {fit(items, columns)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
