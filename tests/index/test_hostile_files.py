"""Hostile files: each gets one clear reason, and what was indexed before is untouched."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from index.doctor import problems
from index.indexer import Indexer
from index.ingest import read_paths
from index.search import Searcher
from index.settings import SearchMode, Settings
from index.store import Store

GOOD = {
    "id": "seedlike",
    "title": "Jordan hosts refugees",
    "text": "The kingdom hosts more than 650,000 Syrian refugees.",
}


def _big(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(60 * 1024 * 1024)  # sparse: 60 MB of NUL bytes, over the 50 MB limit


CASES = {
    "binary.txt": (lambda p: p.write_bytes(bytes(range(256)) * 4), "binary file"),
    "nul.jsonl": (lambda p: p.write_bytes(b'{"id": "a", "title": "t", "text": "x\x00y"}\n'), "binary file"),
    "latin1.md": (lambda p: p.write_bytes("Caf\xe9\nD\xe9j\xe0 vu".encode("latin-1")), "not UTF-8"),
    "huge.txt": (_big, "file too large"),
    "nested.json": (lambda p: p.write_text("[" * 200_000 + "]" * 200_000), "malformed JSON"),
    "wrongtypes.json": (lambda p: p.write_text(json.dumps({"title": 5.5, "text": {"a": 1}})), "must be a string"),
    "listoftexts.json": (lambda p: p.write_text(json.dumps(["just strings"])), "expected an object"),
    "null.json": (lambda p: p.write_text("null"), "expected an object"),
    "emptytext.jsonl": (lambda p: p.write_text(json.dumps({"id": "e", "title": "T", "text": "  "}) + "\n"), "no text"),
    "empty.html": (lambda p: p.write_text(""), "empty file"),
    "scriptonly.html": (lambda p: p.write_text("<html><script>alert(1)</script></html>"), "no article text"),
    "zipbomb.html": (lambda p: p.write_bytes(gzip.compress(b"<p>" + b"a" * 10_000_000)), "binary file"),
    "program.exe": (lambda p: p.write_bytes(b"MZ\x90\x00"), "unknown file type"),
    "truncated.jsonl": (lambda p: p.write_text('{"id": "t", "title": "x", "te'), "malformed JSON"),
    "bom.txt": (lambda p: p.write_bytes(b"\xef\xbb\xbf"), "empty file"),
    "longline.jsonl": (lambda p: p.write_text(json.dumps({"id": "l", "title": "t", "text": "w " * 6_000_000}) + "\n"), "line too long"),
}  # fmt: skip


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("hostile")
    settings = Settings(data_dir=root / "data")
    good = root / "good.jsonl"
    good.write_text(json.dumps(GOOD) + "\n")
    assert Indexer(settings, embedder).index(read_paths([str(good)])).added == 1
    return settings, root


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_file_is_refused_with_a_reason_and_the_index_is_unchanged(
    name, indexed, embedder
):
    settings, root = indexed
    make, reason = CASES[name]
    path = root / "in" / name
    path.parent.mkdir(exist_ok=True)
    make(path)
    generation = Store(settings.data_dir).generation
    report = Indexer(settings, embedder).index(read_paths([str(path)]))
    assert report.added == 0 and len(report.failed) == 1
    assert reason in report.failed[0].reason
    assert report.failed[0].location.startswith(str(path))
    assert Store(settings.data_dir).generation == generation  # nothing was rewritten
    assert problems(settings.data_dir) == []
    hits = Searcher(settings, embedder).search("who hosts 650,000 refugees?", 1, SearchMode.HYBRID)
    assert hits[0].article_id == "seedlike"
    path.unlink()


def test_html_with_scripts_is_indexed_as_text_only(indexed, embedder):
    settings, root = indexed
    page = root / "in" / "script.html"
    body = (
        "<p>The port of Aqaba handled a record number of containers in 2023, officials said.</p>"
        * 4
    )
    page.write_text(f"<html><head><title>Aqaba record</title><script>steal()</script></head><body><article>{body}"
                    "<script>document.write('<p>injected</p>')</script></article></body></html>")  # fmt: skip
    report = Indexer(settings, embedder).index(read_paths([str(page)]))
    assert report.added == 1
    article = Store(settings.data_dir).article(f"file:{page.resolve()}")
    assert (
        "steal" not in article.text and "injected" not in article.text and "Aqaba" in article.text
    )
