"""The Milvus backend beside the local one, in one run: indexing rate, re-index with nothing new,
question latency (retrieval: dense + BM25 + fusion + collapse, no reader) and peak RSS.

    python -m benchmarks.milvus --articles 2500        # ~10k chunks; prints JSON
    python -m benchmarks.run --only milvus --merge     # the same, into results.json / BENCHMARKS.md

Both backends index the same real articles with StubEmbedder vectors (the model's cost is the same
for both and is measured by the throughput benchmark), so the rates are the storage path's own. Each
step runs in a fresh process, so the RSS is that backend's alone (Milvus Lite runs inside it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.corpus import WORK, StubEmbedder, article_sample, log, settings_for

BACKENDS = ("local", "milvus")


def settings(backend: str, data_dir: Path):
    from index.settings import Backend

    if backend == "local":
        return settings_for(data_dir)
    return settings_for(
        data_dir, backend=Backend.MILVUS, milvus_uri=str(data_dir / "milvus.db"),
        milvus_collection="bench",
    )  # fmt: skip


def worker_index(backend: str, data_dir: Path, source: Path) -> dict:
    from benchmarks.latency import peak_rss_mb
    from index.backend import open_indexer
    from index.ingest.files import read_paths

    embedder = StubEmbedder()
    indexer = open_indexer(settings(backend, data_dir), embedder)
    t0 = time.perf_counter()
    first = indexer.index(read_paths([str(source)]))
    t1 = time.perf_counter()
    again = indexer.index(read_paths([str(source)]))
    t2 = time.perf_counter()
    return {
        "articles": first.added,
        "chunks": first.chunks,
        "index_s": round(t1 - t0, 2),
        "chunks_per_s": round(first.chunks / (t1 - t0), 1),
        "reindex_s": round(t2 - t1, 2),
        "reindex_embedded": again.chunks,
        "index_peak_rss_mb": round(peak_rss_mb(), 1),
    }


def worker_search(backend: str, data_dir: Path, n_queries: int) -> dict:
    from benchmarks.latency import peak_rss_mb, percentiles, questions
    from index.backend import open_searcher
    from index.settings import SearchMode

    t0 = time.perf_counter()
    searcher = open_searcher(settings(backend, data_dir), StubEmbedder())
    opened = time.perf_counter() - t0
    asked = questions(n_queries)
    for q in asked[:5]:  # warm-up
        searcher.search(q, 5, SearchMode.HYBRID)
    row: dict = {"open_s": round(opened, 2)}
    for mode in SearchMode:
        times = []
        for q in asked:
            t = time.perf_counter()
            searcher.search(q, 5, mode)
            times.append((time.perf_counter() - t) * 1000)
        row[mode.value] = percentiles(times)
    row["search_peak_rss_mb"] = round(peak_rss_mb(), 1)
    searcher.close()
    return row


def _worker(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.milvus", "--worker", *args],
        capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"benchmark worker {args} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_by_side(n_articles: int = 2_500, n_queries: int = 60) -> dict:
    source = article_sample(n_articles, name=f"articles-{n_articles}.jsonl")
    rows = {}
    for backend in BACKENDS:
        data_dir = WORK / f"milvus-bench-{backend}-{n_articles}"
        shutil.rmtree(data_dir, ignore_errors=True)
        log(f"{backend}: indexing {n_articles:,} articles")
        row = _worker("index", backend, str(data_dir), str(source))
        log(f"{backend}: {n_queries} questions")
        row |= _worker("search", backend, str(data_dir), str(n_queries))
        rows[backend] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.milvus")
    parser.add_argument("--articles", type=int, default=2_500)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, backend, data_dir, extra = args.worker
        if kind == "index":
            result = worker_index(backend, Path(data_dir), Path(extra))
        else:
            result = worker_search(backend, Path(data_dir), int(extra))
        print(json.dumps(result))
        return
    print(json.dumps(side_by_side(args.articles, args.queries), indent=1))


if __name__ == "__main__":
    main()
