"""Reproduce the numbers in EVALUATION.md: `make eval` (python -m benchmarks.eval_all).

1. Builds (once; later runs only embed what changed) an index of the seed article, the 30 QuAIL news
   and 48 XQuAD articles and 800 BBC/Reuters distractors in a data directory under /tmp.
2. Writes the question files in `newsdesk eval`'s format under /tmp: XQuAD dev as shipped (span
   answers with offsets), and QuAIL news dev restricted to the short factual and character-identity
   questions that are answerable (their answers are paraphrased options: read F1, not EM) plus the
   unanswerable ones (they measure refusals).
3. Runs the harness (`bot.evaluation.runner.evaluate`, what `newsdesk eval` runs) for every search mode with
   the heuristic answerer, and for hybrid search with each other answering method: none, and the
   trained reader when `load_reader` finds a model. The seed conversations in
   tests/data/seed_conversations.jsonl are asked with each answerer.
4. Prints a Markdown table (and writes every report to /tmp/newsdesk-eval/results.json).

`--calibrate` instead fits the heuristic answerer's confidence (bot/answerers/calibration.py) on a
slice of SQuAD v1.1 *train* (training-side data, never the dev sets): each question gets its own
paragraph plus the other paragraphs of the same article ranked by shared terms, as passages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSDESK_SHARED_DATA", ROOT.parent / "shared" / "data"))
WORK = Path(os.environ.get("NEWSDESK_EVAL_DIR", "/tmp/newsdesk-eval"))
CONVERSATIONS = ROOT / "tests" / "data" / "seed_conversations.jsonl"
BBC_EVERY, BBC_COUNT = 4, 500  # every 4th BBC article (all five sections), the first 500 of those
REUTERS_EVERY, REUTERS_COUNT, REUTERS_MIN_CHARS = 10, 300, 400
QUAIL_TYPES = ("Factual", "Character_identity")
MODES = ("hybrid", "dense", "bm25")


# --- corpus and index -----------------------------------------------------------------------------
def distractors(path: Path) -> Path:
    """A JSONL subset of BBC and Reuters articles (deterministic), written under WORK."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    with open(SHARED / "bbc_news" / "bbc_news.jsonl", encoding="utf-8") as f:
        lines += [line for i, line in enumerate(f) if i % BBC_EVERY == 0][:BBC_COUNT]
    reuters = []
    with open(SHARED / "reuters21578" / "reuters21578.jsonl", encoding="utf-8") as f:
        for line in f:
            if len(json.loads(line).get("text") or "") >= REUTERS_MIN_CHARS:
                reuters.append(line)
    lines += reuters[::REUTERS_EVERY][:REUTERS_COUNT]
    text = "".join(lines)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def corpus_paths() -> list[str]:
    return [
        str(SHARED / "seed" / "articles.jsonl"),
        str(SHARED / "quail_news" / "articles.jsonl"),
        str(SHARED / "xquad_en" / "articles.jsonl"),
        str(distractors(WORK / "distractors.jsonl")),
    ]


def build_index(settings, embedder) -> dict:
    """Index the evaluation corpus (only new or changed articles are embedded)."""
    from bot.answering.service import Newsdesk

    report = Newsdesk(settings, embedder=embedder, answerer=None).index_paths(corpus_paths())
    return report.as_dict()


# --- question files -------------------------------------------------------------------------------
def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _sample(rows: list, limit: int | None) -> list:
    """`limit` rows spread evenly over the file (all articles represented), in file order."""
    if not limit or limit >= len(rows):
        return rows
    return [rows[i * len(rows) // limit] for i in range(limit)]


def question_files(xquad_limit: int | None, quail_limit: int | None) -> dict[str, Path]:
    xquad = _sample(_read_jsonl(SHARED / "xquad_en" / "qa_dev.jsonl"), xquad_limit)
    quail = [
        {**q, "answers": q["answers"] if q["answerable"] else []}
        for q in _read_jsonl(SHARED / "quail_news" / "qa_dev.jsonl")
        if q["qtype"] in QUAIL_TYPES and q["answerable"] or not q["answerable"]
    ]
    quail = _sample(quail, quail_limit)
    out = {}
    for name, rows in (("xquad", xquad), ("quail", quail)):
        path = WORK / f"{name}_questions.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        out[name] = path
    return out


# --- the runs -------------------------------------------------------------------------------------
def answerers(settings, embedder) -> list[tuple[str, object]]:
    """(name, answerer) for every method to measure: heuristic, none, and the reader if shipped."""
    from bot.answering.answerers.heuristic import HeuristicAnswerer

    found: list[tuple[str, object]] = [("heuristic", HeuristicAnswerer())]
    try:
        from bot.answering.answerers.reader import load_reader
    except ImportError:
        load_reader = None
    if load_reader is not None:
        reader = load_reader(settings.reader_model, settings.reader_passages)
        if reader is not None:
            found.append(("reader", reader))
    found.append(("none", None))
    return found


def run_all(settings, embedder, files: dict[str, Path], modes=MODES) -> list[dict]:
    from bot.answering.service import Newsdesk
    from bot.evaluation.runner import evaluate, load_conversations, load_questions
    from index.settings import SearchMode

    conversations = load_conversations(CONVERSATIONS)
    results = []
    for name, answerer in answerers(settings, embedder):
        service = Newsdesk(settings, embedder=embedder, answerer=answerer)
        for mode in modes if name == "heuristic" else ("hybrid",):
            for dataset, path in files.items():
                started = time.perf_counter()
                report = evaluate(service, load_questions(path), mode=SearchMode(mode))
                report.update(dataset=dataset, answerer=name, seconds=time.perf_counter() - started)
                results.append(report)
                print(f"{dataset:6} {mode:6} {name:9} {_row(report)}", file=sys.stderr)
            if mode == "hybrid":
                report = evaluate(service, (), conversations, mode=SearchMode(mode))
                report.update(dataset="seed conversations", answerer=name)
                results.append(report)
    return results


def _f(value, pct=True) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}" if pct else f"{value:.3f}"


def _row(r: dict) -> str:
    ret, ans, lat = r["retrieval"], r["answers"], r["latency_ms"]
    return " | ".join(
        [
            str(r["questions"]),
            _f(ret["article_recall@1"]),
            _f(ret["article_recall@5"]),
            _f(ret["article_recall@10"]),
            _f(ret["mrr@10"], pct=False),
            _f(ret["passage_recall@5"]),
            _f(ans["em"]),
            _f(ans["f1"]),
            _f(ans["f1_answered"]),
            _f(ans["answerable_wrongly_refused"]),
            _f(ans["unanswerable_refused"]),
            f"{lat['p50']:.0f}",
            f"{lat['p95']:.0f}",
        ]
    )


def markdown(results: list[dict]) -> str:
    head = (
        "| dataset | mode | answerer | questions | art. R@1 | art. R@5 | art. R@10 | MRR@10 "
        "| passage R@5 | EM | F1 | F1 answered | answerable refused | unanswerable refused "
        "| p50 ms | p95 ms |"
    )
    lines = [head, "|" + "---|" * 16]
    convs = []
    for r in results:
        if r["dataset"] == "seed conversations":
            convs.append(r)
            continue
        lines.append(f"| {r['dataset']} | {r['mode']} | {r['answerer']} | {_row(r)} |")
    if convs:
        lines += [
            "",
            "| seed conversations | answerer | turns right | p50 ms |",
            "|---|---|---|---|",
        ]
        for r in convs:
            c = r["conversations"]
            lines.append(
                f"| {c['conversations']} conversations | {r['answerer']} "
                f"| {c['turns_right']}/{c['turns']} | {r['latency_ms']['p50']:.0f} |"
            )
    return "\n".join(lines)


# --- confidence calibration on SQuAD train ------------------------------------------------------
def squad_slice(n: int, offset: int = 7) -> list[tuple[dict, list]]:
    """`n` SQuAD v1.1 train questions (evenly spread) with their passages as pseudo-hits: the
    question's paragraph and up to 4 other paragraphs of its article that share the most terms."""
    from index.models import Hit
    from index.tokenize import tokenize

    rows = _read_jsonl(SHARED / "qa_train" / "squad_v1.1_train" / "train.jsonl.gz")
    paragraphs: dict[str, list[str]] = {}
    for r in rows:
        paras = paragraphs.setdefault(r["title"], [])
        if not paras or paras[-1] != r["context"]:
            paras.append(r["context"])
    step = max(1, len(rows) // n)
    out = []
    for i in range(offset % step, len(rows), step)[:n]:
        r = rows[i]
        terms = set(tokenize(r["question"]))
        others = [p for p in paragraphs[r["title"]] if p != r["context"]]
        others.sort(key=lambda p: -len(terms & set(tokenize(p))))
        passages = [r["context"], *others[:4]]
        passages.sort(key=lambda p: -len(terms & set(tokenize(p))))
        hits = [
            Hit(j, r["title"], p, 0, len(p), r["title"].replace("_", " "))
            for j, p in enumerate(passages)
        ]
        out.append((r, hits))
    return out


def calibrate(n: int) -> dict:
    """Fit the heuristic's confidence on SQuAD train; report F1 and refusal trade-offs there."""
    from bot.answering.answerers import calibration
    from bot.answering.answerers.heuristic import HeuristicAnswerer
    from bot.evaluation.metrics import best_em_f1

    answerer = HeuristicAnswerer()
    features, labels, f1s = [], [], []
    started = time.perf_counter()
    for r, hits in squad_slice(n):
        span = answerer.answer(r["question"], hits)
        if span is None:
            f1s.append(0.0)
            continue
        f1 = best_em_f1(span.text, r["answers"]["text"])[1]
        f1s.append(f1)
        features.append(answerer.last_features)
        labels.append(int(f1 >= 0.5))
    seconds = time.perf_counter() - started
    coefficients = calibration.fit(features, labels)
    probs = [calibration.confidence(*x, coefficients=coefficients) for x in features]
    buckets = []
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        inside = [y for p, y in zip(probs, labels, strict=True) if lo <= p < lo + 0.2]
        if inside:
            buckets.append({"confidence": f"{lo:.1f}-{lo + 0.2:.1f}", "n": len(inside),
                            "right": round(sum(inside) / len(inside), 3)})  # fmt: skip
    return {
        "questions": n,
        "f1": sum(f1s) / len(f1s),
        "ms_per_question": 1000 * seconds / n,
        "coefficients": coefficients,
        "reliability": buckets,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=WORK / "data")
    parser.add_argument("--build-only", action="store_true", help="only build the index")
    parser.add_argument("--xquad-limit", type=int, help="XQuAD questions (default: all 1,013)")
    parser.add_argument("--quail-limit", type=int, help="QuAIL questions (default: all 120)")
    parser.add_argument("--modes", default=",".join(MODES), help="search modes to run")
    parser.add_argument(
        "--calibrate", type=int, metavar="N", help="fit confidence on N SQuAD train"
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        print(json.dumps(calibrate(args.calibrate), indent=1))
        return 0

    from index.embedding import Embedder
    from index.settings import Settings

    WORK.mkdir(parents=True, exist_ok=True)
    settings = Settings.load(dotenv=None).with_overrides(data_dir=args.data_dir)
    embedder = Embedder(settings.embedding_model, settings.device, settings.batch_size)
    print(json.dumps(build_index(settings, embedder)), file=sys.stderr)
    if args.build_only:
        return 0
    files = question_files(args.xquad_limit, args.quail_limit)
    results = run_all(settings, embedder, files, tuple(args.modes.split(",")))
    (WORK / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
