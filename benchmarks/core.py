"""The core numbers on the shared corpus: seed + QuAIL + XQuAD + 500 BBC articles, through the CLI.

`python -m benchmarks.core` indexes that corpus into a fresh data directory with `newsdesk index`
(a new process, as a user runs it), encodes the very chunks it stored with raw `model.encode` in
this process for comparison, re-indexes with nothing new, and asks 50 questions (25 XQuAD, 25
QuAIL) through one `newsdesk ask - --json`, reporting the service's own per-question timings.
Prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from benchmarks.corpus import BBC, SHARED, WORK, log, model_embedder
from benchmarks.latency import VENV_BIN, _env

CORE = WORK / "core"


def corpus() -> list[Path]:
    """The article files: the shared seed, QuAIL and XQuAD files and the first 500 BBC articles."""
    bbc = CORE / "bbc-500.jsonl"
    if not bbc.is_file():
        CORE.mkdir(parents=True, exist_ok=True)
        with open(BBC, encoding="utf-8") as handle:
            bbc.write_text("".join(next(handle) for _ in range(500)), encoding="utf-8")
    names = ("seed/articles.jsonl", "quail_news/articles.jsonl", "xquad_en/articles.jsonl")
    return [SHARED / n for n in names] + [bbc]


def questions(n_each: int = 25) -> list[str]:
    """The first n_each distinct questions of XQuAD dev and of QuAIL news dev."""
    out: list[str] = []
    for name in ("xquad_en/qa_dev.jsonl", "quail_news/qa_dev.jsonl"):
        taken: list[str] = []
        with open(SHARED / name, encoding="utf-8") as handle:
            for line in handle:
                question = json.loads(line)["question"]
                if question not in taken:
                    taken.append(question)
                if len(taken) == n_each:
                    break
        out += taken
    return out


def newsdesk(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[float, str]:
    """Run the CLI; (wall seconds, stdout)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(VENV_BIN / "newsdesk"), "--data-dir", str(data_dir), *args],
        input=stdin, capture_output=True, text=True, env=_env(), check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"newsdesk {args[0]} failed: {proc.stderr.strip()}")
    return time.perf_counter() - started, proc.stdout


def raw_encode(data_dir: Path) -> tuple[int, float]:
    """(chunks, seconds) for `model.encode` on every stored chunk's embedded text."""
    from index.store.database import Store

    store = Store.for_reading(data_dir)
    try:
        texts = [c.text for chunks, _ in store.iter_chunks(20_000) for c in chunks]
    finally:
        store.close()
    embedder = model_embedder()
    embedder.model.encode(["warm up the model"] * 8)
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True)
    return len(texts), time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> dict:
    data_dir = CORE / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    files = [str(p) for p in corpus()]
    log("newsdesk index (fresh)")
    wall, out = newsdesk(data_dir, "index", *files, "--json")
    first = json.loads(out) | {"wall_s": wall}
    log(f"  {first['chunks']} chunks in {first['seconds']:.1f} s; raw encode of the same chunks")
    n_chunks, raw_s = raw_encode(data_dir)
    log("re-index with nothing new (3 runs)")
    again = []
    for _ in range(3):
        wall, out = newsdesk(data_dir, "index", *files, "--json")
        report = json.loads(out)
        assert report["added"] == report["updated"] == report["chunks"] == 0, report
        again.append(wall)
    log("50 questions through one `newsdesk ask - --json`")
    asked = questions()
    wall, out = newsdesk(data_dir, "ask", "-", "--json", stdin="\n".join(asked) + "\n")
    replies = [json.loads(line) for line in out.splitlines()]
    assert len(replies) == len(asked)
    total = [r["timings_ms"]["total_ms"] for r in replies]
    result = {
        "articles": first["added"],
        "duplicates": len(first.get("duplicates", [])),
        "chunks": first["chunks"],
        "index_s": first["seconds"],
        "index_chunks_per_s": first["chunks_per_second"],
        "index_process_wall_s": first["wall_s"],
        "raw_encode_chunks_per_s": n_chunks / raw_s,
        "ratio": first["chunks_per_second"] / (n_chunks / raw_s),
        "reindex_nothing_new_s": statistics.median(again),
        "ask_p50_ms": statistics.median(total),
        "ask_p95_ms": percentile(total, 0.95),
        "ask_process_wall_s": wall,
        "answered": sum(r["answer"] is not None for r in replies),
        "answerer": replies[0]["answerer"],
    }
    print(markdown(result))
    print(json.dumps(result))
    return result


def markdown(r: dict) -> str:
    return "\n".join([
        f"Corpus: seed + QuAIL news + XQuAD + 500 BBC = {r['articles']:,} articles "
        f"({r['duplicates']} exact duplicates stored once), {r['chunks']:,} chunks.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| `newsdesk index` (new process, fresh data dir) | {r['index_s']:.1f} s, "
        f"{r['index_chunks_per_s']:.1f} chunks/s ({r['index_process_wall_s']:.1f} s with start-up) |",
        f"| raw `model.encode` on the same chunks | {r['raw_encode_chunks_per_s']:.1f} chunks/s |",
        f"| **ratio index / raw** | **{r['ratio']:.2f}** |",
        f"| re-index with nothing new (`newsdesk index`, median of 3, whole process) | "
        f"{r['reindex_nothing_new_s']:.2f} s |",
        f"| `ask` per question, 50 questions, answerer {r['answerer']} (p50 / p95) | "
        f"{r['ask_p50_ms']:.0f} / {r['ask_p95_ms']:.0f} ms |",
        f"| … answered / refused | {r['answered']} / {50 - r['answered']} |",
    ])  # fmt: skip


if __name__ == "__main__":
    main()
