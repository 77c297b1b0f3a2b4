"""Readers keep answering while a writer re-indexes; a second writer is refused; a dead one frees the lock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from index.indexer import Indexer
from index.ingest.copies import CopyIndex, signature
from index.ingest.files import read_paths
from index.search.searcher import Searcher
from index.settings import SearchMode, Settings
from index.store.database import DB_NAME, Store

QUESTION = "who hosts 650,000 refugees?"


def test_queries_are_answered_during_a_reindex_and_a_second_writer_is_refused(
    shared_data, tmp_path, embedder
):
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    Indexer(settings, embedder).index(read_paths([str(shared_data / "seed" / "articles.jsonl")]))
    batch = tmp_path / "bbc.jsonl"
    with open(shared_data / "bbc_news" / "bbc_news.jsonl") as source:
        batch.write_text("".join(line for _, line in zip(range(40), source, strict=False)))
    env = dict(
        os.environ, NEWSDESK_DATA_DIR=str(data), NEWSDESK_COMMIT_EVERY="10", HF_HUB_OFFLINE="1"
    )
    writer = subprocess.Popen([sys.executable, "-m", "bot.cli.main", "index", str(batch), "--quiet"], env=env,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    searcher = Searcher(settings, embedder)
    generations, answered = set(), 0
    second = None
    while writer.poll() is None:
        hits = searcher.search("who hosts 650,000 refugees?", 3, SearchMode.HYBRID)
        assert hits and hits[0].article_id == "seed"
        answered += 1
        generations.add(searcher.snapshot.generation)
        if second is None and (data / "write.lock").stat().st_size:  # the writer holds the lock
            second = subprocess.run([sys.executable, "-m", "bot.cli.main", "index", str(batch)], env=env,
                                    capture_output=True, text=True)  # fmt: skip
        time.sleep(0.2)
    assert writer.returncode == 0, writer.stderr.read()
    assert second is not None and second.returncode == 1
    assert "is writing to" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert answered >= 5 and len(generations) >= 2, "the reader never saw a new generation"
    searcher.refresh()
    assert len(searcher.snapshot.lexical) == Store(data).counts()[1]


def test_a_lock_left_by_a_killed_writer_does_not_block_the_next(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from index.store.lock import WriterLock; lock = WriterLock(Path(sys.argv[1])).__enter__(); "
                               "print('locked', flush=True); time.sleep(60)", str(data)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    assert (data / "write.lock").read_text() == str(holder.pid)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    from index.store.lock import WriterLock

    with WriterLock(data):
        assert (data / "write.lock").read_text() == str(os.getpid())


def short_articles(shared_data: Path, count: int) -> str:
    """`count` short Reuters stories (one chunk each) as JSONL, none a near copy of another (a
    few Reuters stories were sent twice, retouched: the indexer would store those once)."""
    rows, near = [], CopyIndex(None)
    with open(shared_data / "reuters21578" / "reuters21578.jsonl") as source:
        for line in source:
            record = json.loads(line)
            sig = signature(record["text"])
            if 250 <= len(record["text"]) <= 450 and near.find(record["id"], sig) is None:
                near.add(record["id"], sig)
                rows.append(json.dumps({k: record[k] for k in ("id", "title", "text")}) + "\n")
            if len(rows) == count:
                return "".join(rows)
    raise AssertionError("not enough short Reuters articles")


def committed_generation(data: Path) -> int:
    db = sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    finally:
        db.close()


def test_the_ask_command_keeps_answering_while_another_process_reindexes(
    shared_data, tmp_path, embedder
):
    data = tmp_path / "data"
    Indexer(Settings(data_dir=data), embedder).index(
        read_paths([str(shared_data / "seed" / "articles.jsonl")])
    )
    batch = tmp_path / "reuters.jsonl"
    batch.write_text(short_articles(shared_data, 100))
    env = dict(os.environ, NEWSDESK_DATA_DIR=str(data), NEWSDESK_COMMIT_EVERY="10",
               HF_HUB_OFFLINE="1", NO_COLOR="1", NEWSDESK_ANSWERER="auto")  # fmt: skip
    cli = [sys.executable, "-m", "bot.cli.main"]
    writer = subprocess.Popen([*cli, "index", str(batch), "--quiet"], env=env,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    while writer.poll() is None and (data / "write.lock").read_text() != str(writer.pid):
        time.sleep(0.01)
    first = committed_generation(data)
    answered, generations = 0, set()
    while writer.poll() is None:  # one `newsdesk ask` process after another, as a user would
        generations.add(committed_generation(data))
        ask = subprocess.run([*cli, "ask", QUESTION, "--json"], env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
        assert (ask.returncode, ask.stderr) == (0, ""), ask.stderr
        reply = json.loads(ask.stdout)
        assert reply["answer"] == "Jordan", reply
        assert reply["sources"][0]["article_id"] == "seed"
        answered += 1
    assert writer.wait() == 0, writer.stderr.read()
    print(f"{answered} asks answered during the re-index, generations {sorted(generations)}")
    assert answered >= 2, "the writer finished before the asks could overlap it"
    assert len(generations) >= 2 and min(generations) == first, (
        f"every ask saw the same generation: {generations}"
    )
    assert Store(data).counts()[0] == 101
