"""`newsdesk index` SIGKILLed at random moments while it writes leaves the previous index answering
and consistent, and the next run finishes the job.

Every run is given a fresh slice of articles on top of whatever earlier killed runs left undone, so it
always has several commits of real work ahead of it. The harness watches the data directory and the
database while the writer works and kills it at one of three kinds of moment, in turn:

- before its first commit (while it loads the model and embeds the first batch),
- as a commit starts (the next generation's files appear: the kill lands inside the commit),
- at a random moment between two commits (while it embeds the next batch).

The kill is never later than the second-to-last commit the run needs, so the writer is always still
working when the signal lands, and the test asserts that it did (exit status -SIGKILL). Where the kill
landed is then read from what was left behind, not from what was aimed at.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.answering.service import Newsdesk
from index.doctor import problems
from index.indexer import Indexer
from index.ingest.copies import CopyIndex, body_of, signature, signed_ids
from index.ingest.files import make_article, read_paths
from index.settings import Settings
from index.store.database import DB_NAME, Store

QUESTION = "who hosts 650,000 refugees?"
COMMIT_EVERY = 10
PER_RUN = 60  # fresh articles per run: six commits of real work at least
_CLI = Path(sys.executable).with_name("newsdesk")
NEWSDESK = [str(_CLI)] if _CLI.is_file() else [sys.executable, "-m", "bot.cli.main"]
GENERATION_FILE = re.compile(r"^\.?(?:dense|lexical)\.(\d+)\.(?:faiss|npz)(?:\.tmp-\d+)?$")

BEFORE_FIRST, MID_COMMIT, BETWEEN = "before the first commit", "during a commit", "between commits"


def article_pool(shared_data: Path, size: int) -> list[dict]:
    """`size` short Reuters wire stories (one chunk each), none a duplicate of another: neither
    the same text nor a near-identical one (a few Reuters stories were sent twice, retouched)."""
    pool, hashes, near = [], set(), CopyIndex(None)
    with open(shared_data / "reuters21578" / "reuters21578.jsonl") as source:
        for line in source:
            record = json.loads(line)
            if not 250 <= len(record["text"]) <= 450:
                continue
            row = {k: record[k] for k in ("id", "title", "text", "date") if record.get(k)}
            article = make_article("pool", row)
            sig = signature(body_of(article))
            if article.content_hash not in hashes and near.find(article.id, sig) is None:
                hashes.add(article.content_hash)
                near.add(article.id, sig)
                pool.append(row)
            if len(pool) == size:
                return pool
    pytest.fail(f"the Reuters corpus has fewer than {size} short distinct articles")


def generation(data: Path, db: sqlite3.Connection | None = None) -> int:
    """The committed generation, read as any reader would (through `db` if given)."""
    own = db is None
    db = db or sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0
    finally:
        if own:
            db.close()


def stored(data: Path) -> tuple[set[str], int, int]:
    """Stored article ids, the number of chunk rows, and articles that have no chunks."""
    db = sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True, timeout=30)
    try:
        ids = {r[0] for r in db.execute("SELECT id FROM articles")}
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        bare = db.execute(
            "SELECT count(*) FROM articles WHERE id NOT IN (SELECT article_id FROM chunks)"
        ).fetchone()[0]
        return ids, chunks, bare
    finally:
        db.close()


def inventory(data: Path) -> dict[str, tuple[int, int]]:
    """The FAISS/BM25 files (and their temporaries) in `data`, by name: (inode, mtime)."""
    found = {}
    for entry in os.scandir(data):
        if GENERATION_FILE.match(entry.name):
            try:
                info = entry.stat()
            except FileNotFoundError:  # removed by the writer as we looked
                continue
            found[entry.name] = (info.st_ino, info.st_mtime_ns)
    return found


def commit_started(data: Path, before: dict, target: int) -> bool:
    """Has the writer begun saving generation `target` (or a later one)?"""
    now = inventory(data)
    return any(
        int(GENERATION_FILE.match(name).group(1)) >= target and before.get(name) != ident
        for name, ident in now.items()
    )


def where_it_landed(data: Path, before: dict, base: int, pid: int) -> str:
    """Read from what the killed writer left: files of a generation SQLite never committed mean
    the kill hit a commit (between the first file written and the database's COMMIT)."""
    committed = generation(data)
    for name, ident in inventory(data).items():
        fresh = before.get(name) != ident
        if name.endswith(f".tmp-{pid}") or (
            fresh and int(GENERATION_FILE.match(name).group(1)) > committed
        ):
            return MID_COMMIT
    return BEFORE_FIRST if committed == base else BETWEEN


@dataclass
class Tally:
    runs: int = 0
    landed: int = 0
    recoveries: int = 0
    where: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((BEFORE_FIRST, MID_COMMIT, BETWEEN), 0)
    )
    seconds_to_first_commit: float = 4.0  # estimates, updated from what each run shows
    seconds_between_commits: float = 1.0


def run_and_kill(data: Path, batch: Path, env: dict, aim: str, pending: int, rng, tally: Tally):
    """Start `newsdesk index batch`, kill it at a moment of kind `aim`; returns where it landed."""
    commits = math.ceil(pending / COMMIT_EVERY)
    assert commits >= 3, "a run needs several commits of work ahead of it"
    base, before = generation(data), inventory(data)
    if aim == MID_COMMIT:
        wait_for = rng.randrange(commits - 1)  # commits to let through; then kill as one starts
    elif aim == BETWEEN:
        wait_for = rng.randrange(1, commits - 1)
    else:
        wait_for = 0
    errors = (data.parent / "stderr.txt").open("w+")
    proc = subprocess.Popen(
        [*NEWSDESK, "index", str(batch), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    lock = data / "write.lock"
    while proc.poll() is None and lock.read_text().strip() != str(proc.pid):
        time.sleep(0.002)
    locked = last_commit = time.monotonic()
    deadline = None
    done = 0
    db = sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True, timeout=30)
    while proc.poll() is None:
        now = time.monotonic()
        committed = generation(data, db) - base
        if committed > done:  # a commit finished: learn how long they take
            if done == 0:
                tally.seconds_to_first_commit = now - locked
            else:
                tally.seconds_between_commits = (now - last_commit) / (committed - done)
            done, last_commit = committed, now
        if done > wait_for:
            break  # overshot (a slow look): still at least one commit short of the end
        if done == wait_for:
            if commit_started(data, before, base + wait_for + 1):
                break  # the next commit has begun: aimed at, or a random moment that fell late
            if aim != MID_COMMIT:
                if deadline is None:  # a random moment within the time this stretch takes
                    if aim == BEFORE_FIRST:
                        start, span = locked, tally.seconds_to_first_commit
                    else:
                        start, span = last_commit, tally.seconds_between_commits
                    deadline = start + rng.uniform(0.05, 0.9) * span
                if now >= deadline:
                    break
        # a commit of this small index takes a few milliseconds: look often when aiming at one
        time.sleep(0.0002 if aim == MID_COMMIT and done == wait_for else 0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    db.close()
    errors.seek(0)
    assert proc.returncode == -signal.SIGKILL, (
        f"the kill ({aim}) did not land: the writer exited with {proc.returncode} first; "
        + errors.read()[-2000:]
    )
    errors.close()
    tally.landed += 1
    return where_it_landed(data, before, base, proc.pid)


def newsdesk_stats(data: Path, env: dict) -> dict:
    result = subprocess.run([*NEWSDESK, "--data-dir", str(data), "stats", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_index_answers_and_agrees(data: Path, embedder, env: dict) -> set[str]:
    """The index opens, answers the seed question from the seed article with the default
    (reader) answerer, and stats, SQLite, FAISS and BM25 agree; returns the stored article ids."""
    assert problems(data) == [], "SQLite, FAISS and BM25 disagree after a kill"
    desk = Newsdesk(Settings(data_dir=data), embedder=embedder)
    try:
        answer = desk.ask(QUESTION)
    finally:
        desk.searcher.close()
    assert answer.answerer == "reader"
    assert answer.text == "Jordan", answer.as_dict()
    assert answer.source.article_id == "seed"
    ids, chunks, bare = stored(data)
    assert bare == 0, f"{bare} articles were stored without their chunks"
    stats = newsdesk_stats(data, env)
    assert stats["consistent"] is True, stats
    assert stats["faiss_vectors"] == stats["bm25_chunks"] == stats["chunks"] == chunks, stats
    assert (stats["articles"], stats["generation"]) == (len(ids), generation(data))
    assert signed(data) == {i for i in ids if _signable(data, i)}, "signatures out of step"
    return ids


_SIGNABLE: dict[str, bool] = {}


def _signable(data: Path, article_id: str) -> bool:
    """Whether the stored article is long enough to have a near-duplicate signature."""
    if article_id not in _SIGNABLE:
        store = Store(data, readonly=True)
        try:
            _SIGNABLE[article_id] = signature(body_of(store.article(article_id))) is not None
        finally:
            store.close()
    return _SIGNABLE[article_id]


def signed(data: Path) -> set[str]:
    """Ids of the articles whose signature the index holds (written in their commit)."""
    store = Store(data, readonly=True)
    try:
        return signed_ids(store)
    finally:
        store.close()


def kill_runs(
    shared_data: Path, tmp_path: Path, embedder, runs: int, seed: int
) -> tuple[Tally, float]:
    started = time.monotonic()
    data = tmp_path / "data"
    Indexer(Settings(data_dir=data), embedder).index(
        read_paths([str(shared_data / "seed" / "articles.jsonl")])
    )
    pool = article_pool(shared_data, runs * PER_RUN)
    env = dict(os.environ, NEWSDESK_DATA_DIR=str(data), NEWSDESK_COMMIT_EVERY=str(COMMIT_EVERY),
               HF_HUB_OFFLINE="1", NEWSDESK_ANSWERER="auto")  # fmt: skip
    batch = tmp_path / "batch.jsonl"
    rng = random.Random(seed)
    aims = [BETWEEN, MID_COMMIT, BEFORE_FIRST]  # the first run learns how long commits take
    tally = Tally()
    kept = {"seed"}
    for run in range(runs):
        given = pool[: (run + 1) * PER_RUN]  # a fresh slice, and whatever killed runs left undone
        batch.write_text("".join(json.dumps(row) + "\n" for row in given))
        pending = len({row["id"] for row in given} - kept)
        assert pending >= PER_RUN
        landed = run_and_kill(data, batch, env, aims[run % 3], pending, rng, tally)
        tally.runs += 1
        tally.where[landed] += 1
        ids = assert_index_answers_and_agrees(data, embedder, env)
        assert kept <= ids, f"a kill lost committed articles: {sorted(kept - ids)[:5]}"
        assert ids <= {"seed"} | {row["id"] for row in given}
        kept = ids
        tally.recoveries += 1
    finish = subprocess.run([*NEWSDESK, "index", str(batch), "--json"], env=env,
                            capture_output=True, text=True, timeout=900)  # fmt: skip
    assert finish.returncode == 0, finish.stderr
    report = json.loads(finish.stdout)
    assert report["failed"] == [] and report["added"] + report["unchanged"] == len(pool)
    assert report["added"] == len(pool) - (len(kept) - 1)  # exactly what the kills left undone
    ids = assert_index_answers_and_agrees(data, embedder, env)
    assert ids == {"seed"} | {row["id"] for row in pool}
    return tally, time.monotonic() - started


def report(capsys, tally: Tally, seconds: float) -> None:
    with capsys.disabled():
        print(
            f"\ncrash safety: {tally.runs} runs, {tally.landed} kills landed (SIGKILL), "
            f"{tally.where[MID_COMMIT]} during a commit, {tally.where[BEFORE_FIRST]} before the "
            f"first commit, {tally.where[BETWEEN]} between commits; {tally.recoveries} recoveries "
            f"(answers 'Jordan', stats consistent), then a full index completed; {seconds:.0f} s"
        )


def test_five_kills_during_a_reindex_lose_nothing(shared_data, tmp_path, embedder, capsys):
    tally, seconds = kill_runs(shared_data, tmp_path, embedder, runs=5, seed=1)
    report(capsys, tally, seconds)
    assert tally.landed == tally.recoveries == 5
    assert tally.where[MID_COMMIT] >= 1 and tally.where[BEFORE_FIRST] >= 1


@pytest.mark.slow
def test_fifty_kills_during_a_reindex_lose_nothing(shared_data, tmp_path, embedder, capsys):
    tally, seconds = kill_runs(shared_data, tmp_path, embedder, runs=50, seed=2)
    report(capsys, tally, seconds)
    assert tally.landed == tally.recoveries == 50
    assert min(tally.where.values()) >= 10, tally.where
