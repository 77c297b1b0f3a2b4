"""A local index copied into Milvus answers the same, and re-indexing it there embeds nothing."""

from __future__ import annotations

import json
import os

import pytest

from bot.answering.service import Newsdesk
from index.backend import milvus_check
from index.settings import Backend, SearchMode, Settings
from index.store.milvus_copy import copy_local_index, main

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # no keepalive notices from gRPC
pytest.importorskip("milvus_lite")

ROWS = [
    {"id": "jordan", "title": "Jordan and Syria talk border security", "published": "2021-09-19",
     "text": "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees."},
    {"id": "moon", "title": "Lander touches down near the lunar south pole", "published": "2023-08-23",
     "text": "India's Chandrayaan-3 lander touched down near the Moon's south pole on Wednesday."},
    {"id": "flood", "title": "Elbe floods Dresden", "text": (
        "Floodwater from the swollen river Elbe reached the old town of Dresden on Sunday night, "
        "forcing the evacuation of about 3,000 residents from streets along the embankment. The "
        "fire service said sandbag walls had held at the opera house, but the water rose faster "
        "than forecast after two days of heavy rain in the Czech mountains upstream.")},
]  # fmt: skip


def test_a_copied_index_answers_alike_and_needs_no_embedding_afterwards(tmp_path, embedder):
    source = tmp_path / "a.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    local = Settings(data_dir=tmp_path / "local")
    chunks = Newsdesk(local, embedder=embedder, answerer=None).index_paths([str(source)]).chunks
    remote = Settings(
        data_dir=tmp_path / "data", backend=Backend.MILVUS, milvus_uri=str(tmp_path / "m.db"),
        milvus_collection="copy",
    )  # fmt: skip
    assert copy_local_index(local.data_dir, remote) == (3, chunks)
    desk = Newsdesk(remote, embedder=embedder, answerer=None)
    for mode in SearchMode:
        assert (
            desk.searcher.search("who hosts 650,000 refugees?", 1, mode)[0].article_id == "jordan"
        )
    report = desk.index_paths([str(source)])
    assert (report.unchanged, report.chunks) == (3, 0)
    assert milvus_check(remote) == [] and desk.stats()["newest_published"] == "2023-08-23"
    copy = tmp_path / "b.jsonl"  # the copied articles' signatures came along: a copy is caught
    partner = dict(
        ROWS[2], id="partner", title="Dresden evacuates", text="By Jo Hart\n\n" + ROWS[2]["text"]
    )
    copy.write_text(json.dumps(partner) + "\n")
    assert desk.index_paths([str(copy)]).duplicates == [("partner", "flood")]
    desk.searcher.close()


def test_copying_from_a_folder_without_an_index_is_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEWSDESK_BACKEND", "milvus")
    monkeypatch.setenv("NEWSDESK_MILVUS_URI", str(tmp_path / "m.db"))
    assert main(["--from", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip().startswith("milvus_copy: error: no local index in")
