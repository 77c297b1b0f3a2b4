"""A re-index killed at any moment leaves the previous index answering and consistent."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.doctor import problems
from index.indexer import Indexer
from index.ingest import read_paths
from index.search import Searcher
from index.settings import SearchMode, Settings
from index.store import Store

NEWSDESK = [sys.executable, "-m", "bot.cli"]


def kill_runs(shared_data: Path, tmp_path: Path, embedder, runs: int, seed: int) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    Indexer(settings, embedder).index(read_paths([str(shared_data / "seed" / "articles.jsonl")]))
    batch = tmp_path / "bbc.jsonl"
    with open(shared_data / "bbc_news" / "bbc_news.jsonl") as source:
        batch.write_text("".join(line for _, line in zip(range(120), source, strict=False)))
    env = dict(
        os.environ, NEWSDESK_DATA_DIR=str(data), NEWSDESK_COMMIT_EVERY="15", HF_HUB_OFFLINE="1"
    )
    rng = random.Random(seed)
    committed = []
    for _ in range(runs):
        proc = subprocess.Popen([*NEWSDESK, "index", str(batch), "--quiet"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(2.0, 14.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert problems(data) == [], "SQLite, FAISS and BM25 disagree after a kill"
        searcher = Searcher(settings, embedder)
        hits = searcher.search("who hosts 650,000 refugees?", 3, SearchMode.HYBRID)
        assert hits and hits[0].article_id == "seed"
        committed.append(Store(data).counts()[0])
        searcher.close()
    assert committed == sorted(committed), "a kill lost articles that an earlier run committed"
    finish = subprocess.run(
        [*NEWSDESK, "index", str(batch), "--json"], env=env, capture_output=True, text=True
    )
    assert finish.returncode == 0, finish.stderr
    report = json.loads(finish.stdout)
    assert Store(data).counts()[0] == 121
    assert report["added"] + report["unchanged"] == 120
    assert problems(data) == []


def test_five_kills_during_a_reindex_lose_nothing(shared_data, tmp_path, embedder):
    kill_runs(shared_data, tmp_path, embedder, runs=5, seed=1)


@pytest.mark.slow
def test_fifty_kills_during_a_reindex_lose_nothing(shared_data, tmp_path, embedder):
    kill_runs(shared_data, tmp_path, embedder, runs=50, seed=2)
