"""Question latency (warm, per stage), cold start and peak RSS on one data directory.

`python -m benchmarks.latency DATA_DIR --answerer auto --queries 60` runs in its own process (so its
peak RSS is its own) and prints one JSON object. `cold_start()` times `newsdesk ask` end to end in a
fresh process, interpreter start and imports included.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import SHARED, settings_for

STAGES = ("embed_ms", "dense_ms", "bm25_ms", "fusion_ms", "answer_ms", "total_ms")
VENV_BIN = Path(sys.executable).parent


def questions(n: int) -> list[str]:
    """Real news questions (QuAIL dev, human-written), deduplicated, in file order."""
    seen: list[str] = []
    path = SHARED / "quail_news" / "qa_dev.jsonl"
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            question = json.loads(line)["question"].strip()
            if question not in seen:
                seen.append(question)
            if len(seen) == n:
                break
    return seen


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "mean": round(float(array.mean()), 2),
    }


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage: Linux keeps ru_maxrss across exec, so a
    worker started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _CpuClock:
    """Per-stage CPU time of this thread (time.thread_time), next to the wall-clock timings.

    On a shared, loaded machine wall time includes waiting for a core; the query path runs on one
    thread (BLAS and FAISS are kept to one), so its CPU time is what it costs on an idle core.
    """

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner, name: str, stage: str) -> None:
        inner = getattr(owner, name)
        spent = self.spent

        def timed(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + (time.thread_time() - t0) * 1000

        setattr(owner, name, timed)


def measure(data_dir: Path, answerer: str, n_queries: int, repeats: int = 1) -> dict:
    """Warm per-stage latency of `Newsdesk.ask` over n real questions (after one warm-up pass)."""
    from bot.answering.service import Newsdesk
    from index.search.dense import DenseIndex
    from index.search.lexical import LexicalIndex

    clock = _CpuClock()
    clock.wrap(DenseIndex, "search", "dense_ms")
    clock.wrap(LexicalIndex, "search", "bm25_ms")
    started = time.perf_counter()
    desk = Newsdesk(settings_for(data_dir, answerer=answerer))
    clock.wrap(desk.embedder, "encode_query", "embed_ms")
    if desk.answerer is not None:
        clock.wrap(desk.answerer, "answer", "answer_ms")
    asked = questions(n_queries)
    first = desk.ask(asked[0])
    first_ms = (time.perf_counter() - started) * 1000
    for q in asked[:10]:  # warm-up: caches, page cache, BLAS
        desk.ask(q)
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    samples["other_ms"] = []
    cpu: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(repeats):
        for q in asked:
            clock.spent.clear()
            t0 = time.thread_time()
            timings = desk.ask(q).timings_ms
            cpu["total_ms"].append((time.thread_time() - t0) * 1000)
            for stage, ms in clock.spent.items():
                cpu[stage].append(ms)
            for stage in STAGES:
                if stage in timings:
                    samples[stage].append(timings[stage])
            known = sum(timings.get(s, 0.0) for s in STAGES if s != "total_ms")
            samples["other_ms"].append(timings["total_ms"] - known)
    result = {
        "data_dir": str(data_dir),
        "answerer": answerer,
        "answerer_name": getattr(desk.answerer, "name", None),
        "dense_index": desk.searcher.snapshot.dense.describe()
        if desk.searcher.snapshot.dense
        else None,
        "chunks": len(desk.searcher.snapshot.lexical),
        "queries": len(samples["total_ms"]),
        "first_answer_in_process_ms": round(first_ms, 1),
        "first_answer_text": first.text,
        "stages": {k: percentiles(v) for k, v in samples.items() if v},
        "cpu_stages": {k: percentiles(v) for k, v in cpu.items() if v},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    desk.searcher.close()
    return result


def run_worker(data_dir: Path, answerer: str, n_queries: int, repeats: int = 1) -> dict:
    """`measure` in a fresh process (its own peak RSS)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency", str(data_dir), "--answerer", answerer,
         "--queries", str(n_queries), "--repeats", str(repeats)],
        check=True, capture_output=True, text=True, env=_env(),
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(data_dir: Path, answerer: str, runs: int = 3) -> dict:
    """Seconds from launching `newsdesk ask QUESTION --json` to its exit (median of `runs`)."""
    question = questions(1)[0]
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        env = _env() | {"NEWSDESK_DATA_DIR": str(data_dir), "NEWSDESK_ANSWERER": answerer}
        proc = subprocess.run(
            [str(VENV_BIN / "newsdesk"), "ask", question, "--json"],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        seconds.append(time.perf_counter() - started)
        if proc.returncode not in (0, 1):  # 1: answered "not found" is still an answer
            raise RuntimeError(f"newsdesk ask failed: {proc.stderr.strip()}")
    return {
        "answerer": answerer,
        "runs": runs,
        "seconds_median": round(float(np.median(seconds)), 2),
        "seconds": [round(s, 2) for s in seconds],
    }


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--answerer", default="auto")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(measure(args.data_dir, args.answerer, args.queries, args.repeats)))


if __name__ == "__main__":
    main()
