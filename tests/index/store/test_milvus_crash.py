"""`newsdesk index` on Milvus Lite, SIGKILLed while it writes, leaves every article at its old or its
new version for readers, and the next run finishes the job with nothing counted twice.

The writer holds Lite's exclusive lock, so the harness cannot read the index while it works; it
watches the chunk collection's files instead and kills the writer once they have changed a random
number of times (a batch or more is written, more remain). Afterwards it reads the index in this
process: what the killed run left, then what a second run makes of it.
"""

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

from bot.answering.service import Newsdesk
from index.backend import milvus_check
from index.ingest.copies import signature
from index.settings import Backend, SearchMode, Settings
from index.store.milvus import MilvusTarget, release_lite
from index.store.milvus_copies import MilvusCopyIndex, signature_rows
from index.store.milvus_store import MilvusStore, _pending_key

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # no keepalive notices from gRPC
pytest.importorskip("milvus_lite")

_CLI = Path(sys.executable).with_name("newsdesk")
NEWSDESK = [str(_CLI)] if _CLI.is_file() else [sys.executable, "-m", "bot.cli.main"]
TOPICS = [
    "harbour",
    "vineyard",
    "railway",
    "glacier",
    "orchestra",
    "reservoir",
    "satellite",
    "bakery",
]
ARTICLES = 60


def articles(version: int) -> list[dict]:
    """Distinct one-chunk stories; `version` changes the text of every third one."""
    rows = []
    for i in range(ARTICLES):
        topic = TOPICS[i % len(TOPICS)]
        edit = f" Revised {version}." if i % 3 == 0 and version else ""
        rows.append(
            {
                "id": f"story-{i}",
                "title": f"Story {i} about the {topic}",
                "text": f"Officials in town {i} said the {topic} will reopen after {i + 2} weeks "
                f"of repairs costing {(i + 1) * 1_000:,} dollars.{edit}",
            }
        )
    return rows


def chunk_files(lite: Path) -> tuple:
    folder = lite / "collections" / "t_chunks"
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                found.append((name, os.path.getsize(os.path.join(root, name))))
            except FileNotFoundError:
                continue
    return tuple(sorted(found))


def kill_while_writing(env: dict, source: Path, lite: Path, changes: int) -> None:
    proc = subprocess.Popen(
        [*NEWSDESK, "index", str(source), "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    seen, last, deadline = 0, chunk_files(lite), time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        now = chunk_files(lite)
        if now != last:
            seen, last = seen + 1, now
            if seen >= changes:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (
        f"the writer finished before the kill: {proc.stderr.read().decode()[-500:]}"
    )


@pytest.mark.parametrize("version", [0, 1])  # killed while adding, and while replacing
def test_a_kill_mid_index_leaves_a_consistent_index_and_the_next_run_finishes(
    tmp_path, embedder, version
):
    lite = tmp_path / "lite.db"
    settings = Settings(
        data_dir=tmp_path / "data", backend=Backend.MILVUS, milvus_uri=str(lite),
        milvus_collection="t", commit_every=4,
    )  # fmt: skip
    env = {
        **os.environ, "NEWSDESK_BACKEND": "milvus", "NEWSDESK_MILVUS_URI": str(lite),
        "NEWSDESK_MILVUS_COLLECTION": "t", "NEWSDESK_COMMIT_EVERY": "4",
        "NEWSDESK_DATA_DIR": str(settings.data_dir),
    }  # fmt: skip
    source = tmp_path / "news.jsonl"
    if version:  # a complete index of the first versions, then a run that replaces a third
        source.write_text("".join(json.dumps(r) + "\n" for r in articles(0)))
        Newsdesk(settings, embedder=embedder, answerer=None).index_paths([str(source)])
        release_lite(MilvusTarget.from_settings(settings))  # the writer process needs the lock
    rows = articles(version)
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kill_while_writing(env, source, lite, changes=random.randint(1, 4))

    texts = {r["id"]: {r["text"]} for r in rows} | (
        {r["id"]: {r["text"], t["text"]} for r, t in zip(articles(0), rows, strict=True)}
        if version
        else {}
    )
    desk = Newsdesk(settings, embedder=embedder, answerer=None)
    for mode in SearchMode:  # every passage shown is one whole version of its article
        for hit in desk.searcher.search("repairs costing dollars reopen", 20, mode):
            assert hit.article_id in texts
            assert any(hit.text == t[hit.start : hit.end] for t in texts[hit.article_id])
    desk.searcher.close()
    store = MilvusStore(MilvusTarget.from_settings(settings))
    try:
        stored = store.hashes()
        assert len(stored) < ARTICLES or version  # the kill left work undone
    finally:
        store.close()

    report = Newsdesk(settings, embedder=embedder, answerer=None).index_paths([str(source)])
    assert report.added + report.updated + report.unchanged == ARTICLES and report.ok
    assert milvus_check(settings) == []  # no chunk left over by the killed run
    stats = Newsdesk(settings, embedder=embedder, answerer=None).stats(verify=True)
    assert (stats["articles"], stats["chunks"], stats["consistent"]) == (ARTICLES, ARTICLES, True)
    again = Newsdesk(settings, embedder=embedder, answerer=None).index_paths([str(source)])
    assert (again.unchanged, again.chunks) == (ARTICLES, 0)


def _with_stray_chunk(tmp_path, embedder) -> tuple[Settings, Path]:
    """An index of three stories, plus what a batch killed after writing its chunks leaves."""
    settings = Settings(
        data_dir=tmp_path / "data", backend=Backend.MILVUS, milvus_uri=str(tmp_path / "lite.db"),
        milvus_collection="t",
    )  # fmt: skip
    source = tmp_path / "news.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in articles(0)[:3]))
    Newsdesk(settings, embedder=embedder, answerer=None).index_paths([str(source)])
    store = MilvusStore(MilvusTarget.from_settings(settings))
    # what a batch killed after step 2 leaves: its journal, and chunks of a new text of story-0
    # that its article row never switched to
    db, vector = store.db, embedder.encode(["zeppelin"])[0].tolist()
    db.upsert_meta({_pending_key("story-0"): "story-0"})
    db.upsert(db.chunks, [{
        "id": 7, "article_id": "story-0", "content_hash": "new", "ordinal": 0, "start": 0,
        "end": 8, "text": "zeppelin", "terms": "zeppelin", "vector": vector,
    }])  # fmt: skip
    store.close()
    return settings, source


def test_chunks_a_killed_batch_wrote_are_never_shown_and_the_next_run_deletes_them(
    tmp_path, embedder
):
    settings, source = _with_stray_chunk(tmp_path, embedder)
    desk = Newsdesk(settings, embedder=embedder, answerer=None)
    assert desk.searcher.search("zeppelin", 5, SearchMode.BM25) == []
    assert 7 not in {h.chunk_id for h in desk.searcher.search("zeppelin", 5, SearchMode.DENSE)}
    assert milvus_check(settings)[0] == (
        "1 chunks in Milvus belong to no article (a killed indexing run)"
    )
    report = desk.index_paths([str(source)])  # nothing new: it only tidies
    assert (report.unchanged, report.chunks) == (3, 0)
    assert milvus_check(settings) == [] and desk.stats()["chunks"] == 3
    desk.searcher.close()


def test_doctor_reports_stray_chunks_and_repair_deletes_them(
    tmp_path, embedder, monkeypatch, capsys
):
    from bot.cli.main import main

    settings, _ = _with_stray_chunk(tmp_path, embedder)
    release_lite(MilvusTarget.from_settings(settings))
    for name, value in (("NEWSDESK_BACKEND", "milvus"), ("NEWSDESK_MILVUS_URI", settings.milvus_uri),
                        ("NEWSDESK_MILVUS_COLLECTION", "t")):  # fmt: skip
        monkeypatch.setenv(name, value)
    data = ["--data-dir", str(settings.data_dir)]
    assert main([*data, "doctor"]) == 1
    assert "1 chunks in Milvus belong to no article" in capsys.readouterr().out
    assert main([*data, "doctor", "--repair"]) == 0
    assert capsys.readouterr().out.startswith("repaired: 1 chunks in Milvus belong to no article")
    assert main([*data, "doctor"]) == 0
    assert capsys.readouterr().out.strip() == "index is consistent"


FLOOD = (
    "Floodwater from the swollen river Elbe reached the old town of Dresden on Sunday night, "
    "forcing the evacuation of about 3,000 residents from streets along the embankment. The "
    "city's fire service said sandbag walls had held at the opera house, but the water rose "
    "faster than forecast after two days of heavy rain in the Czech mountains upstream."
)


def test_a_signature_a_killed_batch_left_is_no_original_and_the_next_run_deletes_it(
    tmp_path, embedder
):
    settings = Settings(
        data_dir=tmp_path / "data", backend=Backend.MILVUS, milvus_uri=str(tmp_path / "lite.db"),
        milvus_collection="t",
    )  # fmt: skip
    source = tmp_path / "news.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in articles(0)[:2]))
    Newsdesk(settings, embedder=embedder, answerer=None).index_paths([str(source)])
    store = MilvusStore(MilvusTarget.from_settings(settings))
    # a batch killed after writing the signature of "flood", before its article row
    db = store.db
    db.upsert_meta({_pending_key("flood"): "flood"})
    db.upsert(db.copies, signature_rows({"flood": signature(FLOOD)}))
    assert "flood" in _signed_ids(db)
    assert (
        MilvusCopyIndex(db).find("flood-copy", signature(FLOOD)) is None
    )  # not stored: no original
    store.close()
    copy = tmp_path / "copy.jsonl"
    copy.write_text(json.dumps({"id": "flood-copy", "title": "Elbe", "text": FLOOD}) + "\n")
    desk = Newsdesk(settings, embedder=embedder, answerer=None)
    report = desk.index_paths([str(copy)])
    assert (report.added, report.duplicates) == (1, [])
    left = MilvusStore(MilvusTarget.from_settings(settings))
    signed = _signed_ids(left.db)
    assert "flood" not in signed and "flood-copy" in signed  # the leftover was deleted
    left.close()


def _signed_ids(db) -> set[str]:
    return {r["article_id"] for r in db.query(db.copies, "key >= 0", ["article_id"], 1000)}
