"""Indexing cost: throughput against raw `model.encode`, re-index with nothing new, adding 100 articles.

Everything here uses the real embedding model except the 10k-article index the re-index and add
benchmarks start from, whose vectors come from `StubEmbedder` (see corpus.py): re-indexing with
nothing new never embeds, and the 100 added articles are embedded by the real model.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import WORK, article_sample, articles_index, log, settings_for
from benchmarks.latency import VENV_BIN, _env


def _timed(obj, name: str, totals: dict[str, float]) -> None:
    """Wrap obj.name so that its wall time accumulates in totals[name]."""
    inner = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - t0

    setattr(obj, name, wrapper)


def _index_once(source: Path, data_dir: Path, embedder) -> dict:
    from index.indexer import Indexer
    from index.ingest.files import read_paths

    totals: dict[str, float] = {}
    cpu0 = time.process_time()
    indexer = Indexer(settings_for(data_dir), embedder)
    _timed(indexer.chunker, "chunk", totals)
    _timed(embedder, "encode", totals)
    try:
        report = indexer.index(read_paths([str(source)]))
    finally:
        del embedder.encode  # back to the class's method
    return {
        "articles": report.added + report.updated,
        "chunks": report.chunks,
        "seconds": report.seconds,
        "chunks_per_s": report.chunks_per_second,
        "cpu_s": time.process_time() - cpu0,
        "encode_s": totals.get("encode", 0.0),
        "chunking_s": totals.get("chunk", 0.0),
    }


def _stored_texts(data_dir: Path) -> list[str]:
    from index.store.database import Store

    store = Store(data_dir)
    try:
        return [c.text for chunks, _ in store.iter_chunks(20_000) for c in chunks]
    finally:
        store.close()


def throughput(n_articles: int = 300, reps: int = 3) -> dict:
    """`newsdesk index` (the Indexer the CLI calls, model already loaded) vs raw `model.encode` on
    the very chunks it produced, alternating the order in each repetition."""
    from benchmarks.corpus import model_embedder

    source = article_sample(n_articles, every=37, name=f"throughput-{n_articles}.jsonl")
    embedder = model_embedder()
    embedder.encode(["warm up the model"] * 8)
    rows = []
    for rep in range(reps):
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            data_dir = Path(tmp) / "data"

            def raw(texts):
                t0, c0 = time.perf_counter(), time.process_time()
                embedder.model.encode(texts, batch_size=embedder.batch_size,
                                      normalize_embeddings=True, convert_to_numpy=True)  # fmt: skip
                return time.perf_counter() - t0, time.process_time() - c0

            if rep % 2 == 0:
                indexed = _index_once(source, data_dir, embedder)
                texts = _stored_texts(data_dir)
                raw_s, raw_cpu = raw(texts)
            else:  # raw first: the chunks are the same, so chunk into a scratch index first
                scratch = Path(tmp) / "scratch"
                _index_once(source, scratch, _NullEncoder(embedder))
                texts = _stored_texts(scratch)
                raw_s, raw_cpu = raw(texts)
                indexed = _index_once(source, data_dir, embedder)
        raw_rate = len(texts) / raw_s
        indexed |= {"raw_encode_s": raw_s, "raw_chunks_per_s": raw_rate,
                    "ratio": indexed["chunks_per_s"] / raw_rate,
                    "raw_cpu_s": raw_cpu, "cpu_ratio": raw_cpu / indexed["cpu_s"]}  # fmt: skip
        log(f"  throughput rep {rep}: index {indexed['chunks_per_s']:.1f} chunks/s, "
            f"raw {raw_rate:.1f}/s, ratio {indexed['ratio']:.3f} (CPU time {indexed['cpu_ratio']:.3f})")  # fmt: skip
        rows.append(indexed)
    return {
        "articles": rows[0]["articles"],
        "chunks": rows[0]["chunks"],
        "runs": rows,
        "median": {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "articles"},
    }


class _NullEncoder:
    """The real tokenizer for chunking, zero vectors: only used to learn the chunks beforehand."""

    def __init__(self, real) -> None:
        self._real = real
        self.max_tokens, self.count_tokens = real.max_tokens, real.count_tokens
        self.encode_calls = 0

    def encode(self, texts, *, progress=False):
        import numpy as np

        return np.zeros((len(texts), 384), dtype=np.float32) + 1 / np.sqrt(384)


def reindex_unchanged(n_articles: int = 10_000, reps: int = 5) -> dict:
    """Index the same 10k articles again: in process (Newsdesk.index_paths) and via the CLI."""
    from bot.answering.service import Newsdesk

    data_dir, source = articles_index(n_articles)
    in_process = []
    for _ in range(reps):
        desk = Newsdesk(settings_for(data_dir), answerer=None)
        t0 = time.perf_counter()
        report = desk.index_paths([str(source)])
        in_process.append(time.perf_counter() - t0)
        assert report.added == 0 and report.chunks == 0, report.as_dict()
    cli = []
    for _ in range(max(2, reps // 2)):
        env = _env() | {"NEWSDESK_DATA_DIR": str(data_dir)}
        t0 = time.perf_counter()
        subprocess.run([str(VENV_BIN / "newsdesk"), "index", str(source), "--quiet"],
                       check=True, env=env, capture_output=True)  # fmt: skip
        cli.append(time.perf_counter() - t0)
    return {
        "articles": n_articles,
        "unique_articles": report.unchanged,
        "in_process_s": statistics.median(in_process),
        "in_process_runs": in_process,
        "cli_s": statistics.median(cli),
        "cli_runs": cli,
    }


def add_new(n_new: int = 100, bases: tuple[int, ...] = (1_000, 10_000), reps: int = 3) -> dict:
    """Add n_new unseen articles to copies of indexes of each base size (real model embeds them)."""
    from benchmarks.corpus import model_embedder

    new = article_sample(n_new, skip=max(bases) + 500, name=f"new-{n_new}.jsonl")
    embedder = model_embedder()
    embedder.encode(["warm up the model"] * 8)
    out = {}
    for base in bases:
        data_dir, _ = articles_index(base)
        runs = []
        for _ in range(reps):
            with tempfile.TemporaryDirectory(dir=WORK) as tmp:
                copy = Path(tmp) / "data"
                shutil.copytree(data_dir, copy)
                runs.append(_index_once(new, copy, embedder))
        row = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        row["other_s"] = row["seconds"] - row["encode_s"] - row["chunking_s"]
        log(f"  add {n_new} to {base}: {row['seconds']:.2f} s ({row['encode_s']:.2f} s encode)")
        out[base] = row
    return out
