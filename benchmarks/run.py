"""`make bench`: speed at scale, written into BENCHMARKS.md (see that file for how to read it).

    python -m benchmarks.run                          # everything, full size (~30 min; corpora cached)
    python -m benchmarks.run --quick                  # small sizes, a few minutes, BENCHMARKS.md untouched
    python -m benchmarks.run --only latency --scales 10k,100k

Sub-benchmarks: throughput, reindex, add, latency (with cold start, RSS, disk size), bm25, faiss,
milvus (the Milvus Lite backend beside the local one: benchmarks/milvus.py).
Corpora and caches live in /tmp/newsdesk-bench (NEWSDESK_BENCH_DIR); results go to
/tmp/newsdesk-bench/results.json and, for a full run, between the markers in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import corpus
from benchmarks.corpus import WORK, log

ROOT = Path(__file__).resolve().parents[1]
ALL = ("throughput", "reindex", "add", "latency", "bm25", "faiss", "milvus")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TARGETS = {  # what issue #5 asks for on this machine
    "p50_100k_ms": 100, "p50_1m_ms": 250, "cold_start_100k_s": 5.0, "rss_1m_mb": 3 * 1024,
    "throughput_ratio": 0.9, "reindex_10k_s": 2.0,
}  # fmt: skip


def parse_scale(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2
    except OSError:
        mem = float("nan")
    import faiss
    import numpy

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, faiss {faiss.__version__}"
    )


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0]
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated of {', '.join(ALL)}"
    )
    parser.add_argument(
        "--scales", default=None, help="latency/BM25 scales in chunks (default 10k,100k,1m)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes; BENCHMARKS.md untouched")
    parser.add_argument(
        "--write",
        choices=("auto", "yes", "no"),
        default="auto",
        help="update BENCHMARKS.md (auto: only for a full run of everything)",
    )
    parser.add_argument("--results", type=Path, default=None, help="JSON results file")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="update the previous results file with these sub-benchmarks only",
    )
    args = parser.parse_args(argv)  # fmt: skip

    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown sub-benchmark(s): {', '.join(sorted(unknown))}")
    quick = args.quick
    scales = [
        parse_scale(s) for s in (args.scales or ("10k,100k" if quick else "10k,100k,1m")).split(",")
    ]
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "command": "python -m benchmarks.run "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "quick": quick,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "load_average_at_start": load_average(),
    }
    started = time.perf_counter()
    from benchmarks import compare, indexing, latency

    if "throughput" in only:
        log("indexing throughput vs raw encode")
        results["throughput"] = indexing.throughput(*((40, 1) if quick else (150, 3)))
    if "reindex" in only:
        log("re-index with nothing new")
        results["reindex"] = indexing.reindex_unchanged(*((1_000, 3) if quick else (10_000, 5)))
    if "add" in only:
        log("adding new articles")
        results["add"] = indexing.add_new(
            *((20, (1_000,), 1) if quick else (100, (1_000, 10_000), 2))
        )
    if "latency" in only:
        results["latency"] = {}
        for n in scales:
            data_dir = corpus.build_scale(n)
            row: dict = {"bytes": corpus.dir_bytes(data_dir)}
            for answerer in ("auto", "none"):
                log(f"latency at {n:,} chunks, answerer={answerer}")
                row[answerer] = latency.run_worker(
                    data_dir, answerer, 20 if quick else 60, repeats=1 if quick else 3
                )
            if n == 100_000 or (quick and n == max(scales)):
                log(f"cold start at {n:,} chunks")
                row["cold_start"] = {
                    a: latency.cold_start(data_dir, a, 1 if quick else 3) for a in ("auto", "none")
                }
            results["latency"][n] = row
    if "bm25" in only:
        results["bm25"] = {}
        for n in scales:
            corpus.build_scale(n)
            log(f"BM25 side by side at {n:,} chunks")
            # plain rank-bm25 at 1M needs its corpus as Python lists and dicts (many GB): ours only
            results["bm25"][n] = compare.bm25_side_by_side(
                n, 20 if quick else 40, others=n <= 100_000
            )
    if "faiss" in only:
        plan = [("random", 20_000, True)] if quick else [
            ("real", 10_000, True), ("copies", 100_000, True), ("random", 100_000, False),
            ("copies", 1_000_000, False),
        ]  # fmt: skip
        results["faiss"] = []
        for kind, n, hnsw in plan:
            log(f"FAISS side by side: {kind} vectors, {n:,}")
            results["faiss"].append(compare.faiss_side_by_side(kind, n, hnsw=hnsw))
    if "milvus" in only:
        from benchmarks import milvus

        log("local and Milvus Lite backends side by side")
        results["milvus"] = milvus.side_by_side(*((200, 20) if quick else (1_850, 60)))
    results["minutes"] = round((time.perf_counter() - started) / 60, 1)
    results["load_average_at_end"] = load_average()

    out = args.results or WORK / ("results-quick.json" if quick else "results.json")
    if args.merge and out.is_file():
        previous = json.loads(out.read_text())
        if previous.get("quick") == quick:
            fresh = [k for k in ALL if k in results]
            results = previous | {k: results[k] for k in fresh} | {
                "command": f"{previous['command'].strip()}; then {results['command'].strip()}",
                "date": f"{previous['date']}; {', '.join(fresh)} re-run {results['date']}",
                "minutes": round(previous["minutes"] + results["minutes"], 1),
                "load_average_at_end": results["load_average_at_end"],
                "commit": results["commit"],
            }  # fmt: skip
            only = [k for k in ALL if k in results]
    results = json.loads(json.dumps(results, default=str))  # int keys -> str, as read back
    out.write_text(json.dumps(results, indent=1))
    from benchmarks.report import render

    markdown = render(results, TARGETS)
    print(markdown)
    write = args.write == "yes" or (args.write == "auto" and not quick and set(only) == set(ALL))
    if write:
        _write_section(ROOT / "BENCHMARKS.md", markdown)
        log("BENCHMARKS.md updated")
    log(f"results in {out} ({results['minutes']} min)")
    return results


def _write_section(path: Path, markdown: str) -> None:
    text = path.read_text() if path.is_file() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{markdown.strip()}\n{END}{tail}")


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
