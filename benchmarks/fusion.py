"""Fusion options side by side on the EVALUATION.md index: `python -m benchmarks.fusion`.

Each dev question (XQuAD `qa_dev`, QuAIL `qa_dev` as `make eval` writes them) is searched once by
each retriever (dense and BM25, `fetch` candidates each, exactly as the Searcher does); every fusion
option is then replayed on those lists, so a grid of weights costs no extra searches. A hit is a
passage of the question's article; reported per set: R@1, R@5, MRR@10. Build the index first with
`python -m benchmarks.eval_all --build-only`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.eval_all import WORK, question_files  # noqa: E402
from bot.evaluation.runner import load_questions  # noqa: E402
from index.search.fusion import FusionMethod, fuse  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.tokenize import tokenize  # noqa: E402

CACHE = WORK / "fusion-lists.json"


def collect(settings: Settings, fetch: int) -> dict[str, list[dict]]:
    """Per set, per question: its article, and both retrievers' (chunk, score) lists."""
    from index.search.searcher import Searcher

    searcher = Searcher(settings)
    snapshot = searcher.snapshot
    out: dict[str, list[dict]] = {}
    for name, path in question_files(None, None).items():
        rows = []
        for q in load_questions(path):
            if not q.article_id:
                continue
            dense = snapshot.dense.search(searcher.embedder.encode_query(q.question), fetch)
            bm25 = snapshot.lexical.search(tokenize(q.question), fetch)
            rows.append({"q": q.question, "article": q.article_id, "dense": dense, "bm25": bm25})
        ids = {cid for row in rows for cid, _ in row["dense"] + row["bm25"]}
        hits = searcher.store.hits(sorted(ids))
        owner = {cid: hit.article_id for cid, hit in hits.items()}
        for row in rows:
            row["owner"] = {str(cid): owner.get(cid) for cid, _ in row["dense"] + row["bm25"]}
        out[name] = rows
    searcher.close()
    return out


def measure(rows: list[dict], **options) -> dict[str, float]:
    r1 = r5 = mrr = 0.0
    for row in rows:
        rankings = {
            "dense": [tuple(x) for x in row["dense"]],
            "bm25": [tuple(x) for x in row["bm25"]],
        }
        rankings = {k: v for k, v in rankings.items() if options["weights"].get(k, 1.0) > 0}
        fused = fuse(rankings, query=row["q"], **options)
        articles = [row["owner"][str(cid)] for cid, _, _ in fused[:10]]
        rank = next((i for i, a in enumerate(articles, 1) if a == row["article"]), None)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        mrr += 1 / rank if rank else 0.0
    n = len(rows) or 1
    return {"R@1": 100 * r1 / n, "R@5": 100 * r5 / n, "MRR@10": mrr / n}


def grid() -> list[tuple[str, dict]]:
    configs: list[tuple[str, dict]] = [
        ("bm25 alone", {"method": FusionMethod.RRF, "weights": {"dense": 0, "bm25": 1}}),
        ("dense alone", {"method": FusionMethod.RRF, "weights": {"dense": 1, "bm25": 0}}),
        ("rrf k=60 1:1 (old default)", {"method": FusionMethod.RRF, "weights": {}, "rrf_k": 60}),
    ]
    for k, w in itertools.product((10, 30, 60), (0.5, 0.7)):
        configs.append((f"rrf k={k} dense {w}", {"method": FusionMethod.RRF, "rrf_k": k,
                        "weights": {"dense": w, "bm25": 1.0}}))  # fmt: skip
    for method, w, f in itertools.product(
        (FusionMethod.CONVEX, FusionMethod.DBSF), (0.3, 0.4, 0.5, 0.6), (1.0, 0.7)
    ):
        configs.append((f"{method} dense {w} kw×{f}", {"method": method, "keyword_dense_factor": f,
                        "weights": {"dense": w, "bm25": 1 - w}}))  # fmt: skip
    for method, w, depth in itertools.product(
        (FusionMethod.CONVEX, FusionMethod.DBSF, FusionMethod.RRF), (0.3, 0.35), (10, 20, 30)
    ):
        configs.append((f"{method} dense {w} depth {depth}", {"method": method, "depth": depth,
                        "weights": {"dense": w, "bm25": 1 - w}}))  # fmt: skip
    default = Settings.load(dotenv=None)
    configs.append((f"the default ({default.fusion}, dense {default.dense_weight:g}, depth "
                    f"{default.fusion_depth})", {"method": default.fusion,
                    "depth": default.fusion_depth, "rrf_k": default.rrf_k,
                    "keyword_dense_factor": default.keyword_dense_factor,
                    "weights": {"dense": default.dense_weight, "bm25": default.bm25_weight}}))  # fmt: skip
    return configs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=WORK / "data")
    parser.add_argument("--fetch", type=int, default=50, help="candidates per retriever")
    parser.add_argument("--refresh", action="store_true", help="search again (ignore the cache)")
    args = parser.parse_args(argv)
    if args.refresh or not CACHE.is_file():
        settings = Settings.load(dotenv=None).with_overrides(data_dir=args.data_dir)
        CACHE.write_text(json.dumps(collect(settings, args.fetch)))
    lists = json.loads(CACHE.read_text())
    print("| fusion | " + " | ".join(f"{s} R@1 | {s} R@5 | {s} MRR@10" for s in lists) + " |")
    print("|---|" + "---|---|---|" * len(lists))
    for label, options in grid():
        cells = []
        for rows in lists.values():
            m = measure(rows, **options)
            cells += [f"{m['R@1']:.1f}", f"{m['R@5']:.1f}", f"{m['MRR@10']:.3f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
