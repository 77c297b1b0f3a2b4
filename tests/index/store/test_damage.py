"""Damaged index files, a read-only data directory and a full disk: one clear line, nothing lost."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import bot.answering.service
from bot.cli.main import main
from index.doctor import REPAIR_HINT, problems
from index.indexer import Indexer
from index.ingest.files import read_paths
from index.search.lexical import LexicalIndex
from index.search.searcher import Searcher
from index.settings import SearchMode, Settings
from index.store.database import DB_NAME, Store
from index.store.snapshot import dense_path, lexical_path

QUESTION = "who hosts 650,000 refugees?"
MOON = {
    "id": "moon",
    "title": "Lander touches down near the lunar south pole",
    "text": "India's Chandrayaan-3 lander touched down near the Moon's south pole on Wednesday.",
}
FERRY = {  # 8 chunks
    "id": "ferry",
    "title": "Channel ferry traffic",
    "text": " ".join(
        f"Harbour report {i}: the ferry from Dover to Calais carried {100 + i} lorries on day {i}."
        for i in range(40)
    ),
}
REPAIR_ADVICE = "; run `newsdesk doctor --repair` to rebuild it from the database"


# --- helpers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seeded(tmp_path_factory, shared_data, embedder) -> Path:
    data = tmp_path_factory.mktemp("damage") / "data"
    seed = shared_data / "seed" / "articles.jsonl"
    Indexer(Settings(data_dir=data), embedder).index(read_paths([str(seed)]))
    return data


@pytest.fixture
def data(seeded: Path, tmp_path: Path) -> Path:
    """A fresh copy of an index holding the seed article."""
    return Path(shutil.copytree(seeded, tmp_path / "data"))


def write_jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def generation(data: Path) -> int:
    store = Store.for_reading(data)
    try:
        return store.generation
    finally:
        store.close()


def stored(data: Path, article_id: str) -> bool:
    store = Store.for_reading(data)
    try:
        return store.article(article_id) is not None
    finally:
        store.close()


def newsdesk(data: Path, *args: str, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    env = dict(
        os.environ, NEWSDESK_DATA_DIR=str(data), HF_HUB_OFFLINE="1", NO_COLOR="1",
        NEWSDESK_ANSWERER="none",  # retrieval is under test, not the reader
    )  # fmt: skip
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def top_article(data: Path, embedder, query: str, mode: SearchMode) -> str | None:
    searcher = Searcher(Settings(data_dir=data), embedder)
    try:
        hits = searcher.search(query, 3, mode)
        return hits[0].article_id if hits else None
    finally:
        searcher.close()


def assert_answers_from_both_indexes(data: Path, embedder) -> None:
    """FAISS and BM25 each find the seed article on their own."""
    assert top_article(data, embedder, QUESTION, SearchMode.DENSE) == "seed"
    assert top_article(data, embedder, QUESTION, SearchMode.BM25) == "seed"


def garbage(path: Path) -> None:
    path.write_bytes(random.Random(6).randbytes(4096))


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def emptied(path: Path) -> None:
    path.write_bytes(b"")


def deleted(path: Path) -> None:
    path.unlink()


def stale(path: Path) -> None:
    """A well-formed BM25 file that does not match the database (here: an empty one)."""
    LexicalIndex.empty().save(path)


# --- damaged FAISS / BM25 files ----------------------------------------------------------------
DAMAGE = [
    pytest.param(dense_path, garbage, "index file damaged: {} cannot be read as a FAISS index", id="faiss-garbage"),
    pytest.param(dense_path, truncated, "index file damaged: {} cannot be read as a FAISS index", id="faiss-truncated"),
    pytest.param(dense_path, deleted, "index file missing: {}", id="faiss-missing"),
    pytest.param(dense_path, emptied, "index file damaged: {} cannot be read as a FAISS index", id="faiss-empty"),
    pytest.param(lexical_path, garbage, "index file damaged: {} cannot be read as a BM25 index", id="bm25-garbage"),
    pytest.param(lexical_path, truncated, "index file damaged: {} cannot be read as a BM25 index", id="bm25-truncated"),
    pytest.param(lexical_path, emptied, "index file damaged: {} cannot be read as a BM25 index", id="bm25-empty"),
    pytest.param(lexical_path, deleted, "index file missing: {}", id="bm25-missing"),
    pytest.param(lexical_path, stale, "index files disagree: 7 vectors but 0 BM25 entries", id="bm25-stale"),
]  # fmt: skip


@pytest.mark.parametrize(("file_of", "damage", "problem"), DAMAGE)
def test_a_damaged_index_file_is_named_in_one_line_and_doctor_repair_rebuilds_it_from_sqlite(
    data: Path, embedder, file_of: Callable[[Path, int], Path], damage, problem: str
):
    path = file_of(data, generation(data))
    damage(path)
    problem = problem.format(path)

    ask = newsdesk(data, "ask", QUESTION)
    assert (ask.returncode, ask.stdout) == (1, "")
    assert ask.stderr == f"newsdesk: error: {problem}{REPAIR_ADVICE}\n"  # one line, no traceback

    stats = newsdesk(data, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["consistent"] is False
    assert json.loads(stats.stdout)["problem"] == problem

    doctor = newsdesk(data, "doctor")
    assert (doctor.returncode, doctor.stdout, doctor.stderr) == (
        1,
        f"{problem}\n{REPAIR_HINT}\n",
        "",
    )

    repair = newsdesk(data, "doctor", "--repair")
    assert (repair.returncode, repair.stdout, repair.stderr) == (0, f"repaired: {problem}\n", "")

    again = newsdesk(data, "doctor")
    assert (again.returncode, again.stdout) == (0, "index is consistent\n")
    stats = json.loads(newsdesk(data, "stats", "--json").stdout)
    assert stats["consistent"] is True and stats["faiss_vectors"] == stats["bm25_chunks"] == 7
    assert problems(data) == []
    assert_answers_from_both_indexes(data, embedder)


def test_indexing_over_a_missing_faiss_file_rebuilds_it_from_sqlite_instead_of_starting_empty(
    data: Path, embedder, tmp_path: Path
):
    dense_path(data, generation(data)).unlink()
    source = write_jsonl(tmp_path / "moon.jsonl", MOON)
    report = Indexer(Settings(data_dir=data), embedder).index(read_paths([str(source)]))
    assert report.added == 1
    assert problems(data) == []  # FAISS holds the seed's vectors again, not only the new one
    assert_answers_from_both_indexes(data, embedder)
    assert (
        top_article(data, embedder, "lander near the lunar south pole", SearchMode.DENSE) == "moon"
    )


# --- a read-only data directory ----------------------------------------------------------------
READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """`folder` read-only for the commands run with the prefix this yields: chmod for an ordinary
    user; for root, whom chmod does not stop, a read-only bind mount in a private mount namespace."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield []
        finally:
            folder.chmod(0o755)
        return
    prefix = ["unshare", "--mount", "sh", "-c", READ_ONLY_MOUNT, str(folder)]
    try:
        probe = subprocess.run([*prefix, "touch", str(folder / "probe")], capture_output=True)
    except FileNotFoundError:
        pytest.skip("running as root, where chmod cannot make a folder read-only, without unshare")
    if probe.returncode == 0 or os.strerror(errno.EROFS).encode() not in probe.stderr:
        (folder / "probe").unlink(missing_ok=True)
        pytest.skip(f"running as root and cannot mount a folder read-only: {probe.stderr!r}")
    yield prefix


def test_a_read_only_data_directory_refuses_to_index_in_one_line_and_still_answers(
    data: Path, embedder, tmp_path: Path
):
    source = write_jsonl(tmp_path / "moon.jsonl", MOON)
    before = sorted(os.listdir(data))
    with read_only(data) as prefix:
        index = newsdesk(data, "index", str(source), prefix=prefix)
        assert (index.returncode, index.stdout) == (1, "")
        assert (
            index.stderr
            == f"newsdesk: error: cannot index: the data directory {data} is read-only\n"
        )

        ask = newsdesk(data, "ask", QUESTION, "--json", prefix=prefix)
        assert ask.returncode == 0, ask.stderr
        assert json.loads(ask.stdout)["sources"][0]["article_id"] == "seed"

        doctor = newsdesk(data, "doctor", prefix=prefix)
        assert (doctor.returncode, doctor.stdout) == (0, "index is consistent\n"), doctor.stderr
    assert sorted(os.listdir(data)) == before  # nothing was written, not even SQLite's -shm
    assert problems(data) == []
    assert_answers_from_both_indexes(data, embedder)


def test_a_damaged_index_in_a_read_only_data_directory_says_repair_needs_it_writable(data: Path):
    path = dense_path(data, generation(data))
    garbage(path)
    with read_only(data) as prefix:
        ask = newsdesk(data, "ask", QUESTION, prefix=prefix)
        problem = f"index file damaged: {path} cannot be read as a FAISS index"
        assert (ask.returncode, ask.stderr) == (1, f"newsdesk: error: {problem}{REPAIR_ADVICE}\n")
        repair = newsdesk(data, "doctor", "--repair", prefix=prefix)
        assert repair.returncode == 1
        assert repair.stderr == (
            f"newsdesk: error: cannot repair the index: the data directory {data} is read-only\n"
        )
    assert problems(data) == [problem]


# --- a full disk -------------------------------------------------------------------------------
@pytest.fixture
def cli_with_shared_model(embedder, monkeypatch):
    """`newsdesk ...` run in this process (the real CLI, service and indexer) with the session's
    embedding model instead of a second copy: returns (exit status, stdout, stderr)."""
    monkeypatch.setattr(bot.answering.service, "Embedder", lambda *args, **kwargs: embedder)

    def run(capsys, *args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("file_of", [lexical_path, dense_path], ids=["bm25-file", "faiss-file"])
def test_a_full_disk_while_saving_index_files_is_one_line_and_keeps_the_previous_generation(
    data: Path, embedder, tmp_path: Path, capsys, cli_with_shared_model, file_of
):
    source = write_jsonl(tmp_path / "moon.jsonl", MOON)
    old = generation(data)
    target = file_of(data, old + 1)
    # Files are written as `.NAME.tmp-PID` and then renamed (index/files.py): make that name the
    # kernel's always-full device, so the write fails with a real ENOSPC part way through the save.
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.symlink_to("/dev/full")

    status, out, err = cli_with_shared_model(capsys, "--data-dir", str(data), "index", str(source))
    assert (status, out) == (1, "")
    assert err == f"newsdesk: error: {os.strerror(errno.ENOSPC)}: {target}\n"
    assert not os.path.lexists(tmp)
    assert generation(data) == old and problems(data) == []
    assert_answers_from_both_indexes(data, embedder)
    assert not stored(data, "moon")

    status, out, err = cli_with_shared_model(capsys, "--data-dir", str(data), "index", str(source))
    assert (status, err) == (0, ""), err
    assert out.startswith("1 added, ")
    assert problems(data) == []
    assert (
        top_article(data, embedder, "lander near the lunar south pole", SearchMode.DENSE) == "moon"
    )


def test_a_full_disk_at_the_database_commit_is_one_line_and_keeps_the_previous_generation(
    data: Path, embedder, tmp_path: Path, capsys, cli_with_shared_model
):
    source = write_jsonl(tmp_path / "ferry.jsonl", FERRY)
    old = generation(data)
    # No file may grow past 40 KB: room for SQLite's 32 KB -shm file and this run's FAISS (~23 KB)
    # and BM25 (~12 KB) files, not for the more than 64 KB its commit writes to the WAL. The kernel
    # refuses that write (EFBIG) as a full disk would (ENOSPC), after the index files are saved.
    limit = 40 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip(f"file size hard limit {hard} is below {limit}")
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        status, out, err = cli_with_shared_model(
            capsys, "--data-dir", str(data), "index", str(source)
        )
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert dense_path(data, old + 1).is_file()  # the index files were saved; the commit failed
    assert (status, out) == (1, "")
    assert err.startswith(f"newsdesk: error: cannot write the index database {data / DB_NAME}: ")
    assert len(err.splitlines()) == 1
    assert generation(data) == old and problems(data) == []
    assert_answers_from_both_indexes(data, embedder)

    status, out, err = cli_with_shared_model(capsys, "--data-dir", str(data), "index", str(source))
    assert (status, err) == (0, ""), err
    assert out.startswith("1 added, ")
    assert problems(data) == []
    assert top_article(data, embedder, "ferry from Dover to Calais", SearchMode.BM25) == "ferry"
