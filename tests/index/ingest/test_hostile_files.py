"""Hostile files: each is refused with one clear reason, or indexed gracefully for what it is, and
what was indexed before is untouched (same generation, same articles and chunks, still answering)."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from index.doctor import problems
from index.indexer import Indexer
from index.ingest.files import MAX_HTML_ELEMENTS, read_paths
from index.models import Article
from index.search.searcher import Searcher
from index.settings import SearchMode, Settings
from index.store.database import Store

GOOD = {
    "id": "seedlike",
    "title": "Jordan hosts refugees",
    "text": "The kingdom hosts more than 650,000 Syrian refugees.",
}
STORY = "The port of Aqaba handled a record number of containers in 2023, officials said. " * 4


def sparse(size_mb: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.truncate(size_mb * 2**20)  # a sparse file: no disk used, all NUL bytes

    return make


def text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content)


def raw(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def record(**fields) -> Callable[[Path], None]:
    """One JSON document (for .json) or line (for .jsonl) holding `fields`."""
    return lambda path: path.write_text(json.dumps(fields) + ("\n" if path.suffix == ".jsonl" else ""))  # fmt: skip


def page(body: str, head: str = "") -> str:
    return f"<html><head><title>Aqaba record</title>{head}</head><body><article>{body}</article></body></html>"  # fmt: skip


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "lol">'
    + "".join(f'<!ENTITY {b} "{("&" + a + ";") * 10}">' for a, b in zip("abcdefgh", "bcdefghi", strict=True))  # fmt: skip
    + "]>" + page(f"<p>{STORY}</p><p>&i;&i;&i;</p>")
)  # fmt: skip

# name -> (how to make it, the reason it is refused with)
REFUSED = {
    # binary, NUL bytes, non-UTF-8
    "binary.txt": (raw(bytes(range(256)) * 4), "binary file (contains NUL bytes)"),
    "image.html": (raw(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(500)), "binary file"),
    "zipbomb.html": (raw(gzip.compress(b"<p>" + b"a" * 10_000_000)), "binary file"),
    "program.exe": (raw(b"MZ\x90\x00"), "unknown file type '.exe'"),
    "no-extension": (text("Headline\nBody text."), "unknown file type '(none)'"),
    "nul.jsonl": (raw(b'{"id": "a", "title": "t", "text": "x\x00y"}\n'), "binary file"),
    "nul.md": (raw(b"Headline\nThe port \x00 reopened."), "binary file (contains NUL bytes)"),
    "utf16.txt": (raw("Headline\nBody".encode("utf-16")), "binary file"),
    "latin1.md": (
        raw("Caf\xe9\nD\xe9j\xe0 vu".encode("latin-1")),
        "not UTF-8 text (bad byte at offset 3)",
    ),  # fmt: skip
    "badbyte.jsonl": (raw(b'{"id": "b", "title": "t", "text": "caf\xe9"}\n'), "not UTF-8 text"),
    "surrogate.jsonl": (
        text('{"id": "s", "title": "t", "text": "bad \\ud800 escape"}\n'),
        "field 'text' is not valid Unicode (a lone surrogate)",
    ),  # fmt: skip
    # size
    "huge.txt": (sparse(100), "file too large (100 MB; limit 50 MB)"),
    "huge.json": (sparse(100), "file too large (100 MB; limit 50 MB)"),
    "huge.jsonl": (sparse(100), "line too long (100 MB; limit 10 MB)"),
    "longline.jsonl": (
        record(id="l", title="t", text="w " * 6_000_000),
        "line too long (11 MB; limit 10 MB)",
    ),  # fmt: skip
    "longtext.jsonl": (
        record(id="t", title="t", text="word " * 250_000),
        "article text too long (1,249,999 characters)",
    ),  # fmt: skip
    # deeply nested JSON
    "nested-arrays.json": (
        text("[" * 200_000 + "]" * 200_000),
        "malformed JSON (nested too deeply)",
    ),  # fmt: skip
    "nested-objects.json": (
        text('{"a":' * 100_000 + "1" + "}" * 100_000),
        "malformed JSON (nested too deeply)",
    ),  # fmt: skip
    "nested-line.jsonl": (
        text('{"a":' * 100_000 + "1" + "}" * 100_000 + "\n"),
        "malformed JSON (nested too deeply)",
    ),  # fmt: skip
    # JSON with wrong types
    "float-title.json": (
        record(title=5.5, text={"a": 1}),
        "field 'title' must be a string, got float",
    ),  # fmt: skip
    "dict-text.json": (
        record(title="t", text={"a": 1}),
        "field 'text' must be a string, got dict",
    ),  # fmt: skip
    "list-text.json": (
        record(id="l", title="t", text=["a", "b"]),
        "field 'text' must be a string, got list",
    ),  # fmt: skip
    "bool-id.json": (
        record(id=True, title="t", text="body"),
        "field 'id' must be a string, got bool",
    ),  # fmt: skip
    "list-id.jsonl": (
        record(id=["x"], title="t", text="body"),
        "field 'id' must be a string, got list",
    ),  # fmt: skip
    "dict-date.json": (
        record(id="d", title="t", text="body", published={"$date": 1}),
        "field 'published' must be a string, got dict",
    ),  # fmt: skip
    "nan-title.json": (
        text('{"id": "n", "title": NaN, "text": "body"}'),
        "field 'title' must be a string, got float",
    ),  # fmt: skip
    "bigint-id.json": (
        text('{"id": ' + "9" * 5000 + ', "title": "t", "text": "body"}'),
        "malformed JSON (a number too long to read)",
    ),  # fmt: skip
    "strings.json": (
        text(json.dumps(["just strings"])),
        "expected an object with 'title' and 'text', got str",
    ),  # fmt: skip
    "null.json": (text("null"), "expected an object with 'title' and 'text', got NoneType"),
    "number.json": (text("42"), "expected an object with 'title' and 'text', got int"),
    "emptylist.json": (text("[]"), "no articles in the file (an empty list)"),
    "truncated.jsonl": (
        text('{"id": "t", "title": "x", "te'),
        "malformed JSON (Unterminated string",
    ),  # fmt: skip
    # empty title and text
    "blanktext.jsonl": (record(id="e", title="T", text="  \n\t "), "article has no text"),
    "notext.json": (record(id="e", title="Only a headline"), "article has no text"),
    "headline-only.txt": (text("Only a headline\n"), "article has no text"),
    "empty.html": (text(""), "empty file"),
    "whitespace.md": (text("   \n\t\n  "), "empty file"),
    "bom.txt": (raw(b"\xef\xbb\xbf"), "empty file"),
    "empty.jsonl": (text("\n\n"), "empty file"),
    # HTML that is all script, or that explodes when parsed
    "scriptonly.html": (text("<html><script>alert(1)</script></html>"), "no article text"),
    "flat-elements.html": (text(page("<p>x</p>" * 130_000)), "too many HTML elements (130,00"),
    "line-breaks.html": (text(page("<br>" * 1_300_000)), "too many HTML elements (1,300,0"),
    "deep-nesting.html": (
        text(page("<div>" * 200_000 + f"<p>{STORY}</p>" + "</div>" * 200_000)),
        "too many HTML elements (200,00",
    ),  # fmt: skip
    "deep-nesting-within-limit.html": (
        text(page("<div>" * 10_000 + f"<p>{STORY}</p>" + "</div>" * 10_000)),
        "no article text found in the HTML",
    ),  # fmt: skip
}


def _title_from_text(a: Article) -> None:
    assert a.title == "The harbour reopened on Monday after the storm."


def _scripts_left_out(a: Article) -> None:
    assert "Aqaba" in a.text and "record number" in a.text
    for planted in ("steal", "injected", "SCRIPTTEXT", "NOSCRIPT", "LDJSON", "color", "evil"):
        assert planted not in a.text and planted not in a.title


def _entities_not_expanded(a: Article) -> None:
    assert "Aqaba" in a.text and "lol" not in a.text and len(a.text) < 2000


def _controls_removed(a: Article) -> None:
    assert a.text == "The port reopened on Monday." and a.title == "Red alert"


def _markup_is_plain_text(a: Article) -> None:
    assert a.title == "Breaking <b>news</b>"
    assert a.text == "<script>alert(1)</script> The port reopened on Monday."


# name -> (how to make it, a check of the one article indexed from it)
ACCEPTED = {
    "empty-title.jsonl": (record(id="t1", title="", text="The harbour reopened on Monday after the storm.\nMore."), _title_from_text),  # fmt: skip
    "scripts.html": (text(page(
        f"<p>{STORY}</p><script>document.write('<p>injected</p>')</script>"
        "<script>var s = 'SCRIPTTEXT: Scriptland invaded Nowhere on Monday, officials said.';</script>"
        '<noscript>NOSCRIPT please enable JavaScript</noscript>'
        '<script type="application/ld+json">{"headline": "LDJSON"}</script>'
        '<p onclick="evil()">The port also set a record for cruise ships.</p>',
        head="<script>steal()</script><style>p { color: red }</style>",
    )), _scripts_left_out),  # fmt: skip
    "billion-laughs.html": (text(BILLION_LAUGHS), _entities_not_expanded),
    "escaped-controls.jsonl": (record(id="c", title="Red\x1b alert\u200b", text="The \x1bport\x00 reopened\x07 on Monday."), _controls_removed),  # fmt: skip
    "markup-in-text.txt": (text("Breaking <b>news</b>\n<script>alert(1)</script> The port reopened on Monday.\n"), _markup_is_plain_text),  # fmt: skip
}  # fmt: skip


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("hostile")
    settings = Settings(data_dir=root / "data")
    good = root / "good.jsonl"
    good.write_text(json.dumps(GOOD) + "\n")
    assert Indexer(settings, embedder).index(read_paths([str(good)])).added == 1
    return settings, root


def state(settings: Settings) -> tuple:
    """Everything a hostile file must leave as it was."""
    store = Store(settings.data_dir)
    try:
        ids = sorted(r[0] for r in store.db.execute("SELECT id FROM articles"))
        return store.generation, store.counts(), ids
    finally:
        store.close()


def assert_still_answers(settings: Settings, embedder) -> None:
    assert problems(settings.data_dir) == []
    searcher = Searcher(settings, embedder)
    try:
        hits = searcher.search("who hosts 650,000 refugees?", 1, SearchMode.HYBRID)
    finally:
        searcher.close()
    assert hits[0].article_id == "seedlike"


def make(root: Path, name: str, maker: Callable[[Path], None]) -> Path:
    path = root / "in" / name
    path.parent.mkdir(exist_ok=True)
    maker(path)
    return path


def test_the_table_covers_every_kind_of_hostile_file():
    assert len(REFUSED) + len(ACCEPTED) >= 45
    assert max(len(r) for _, r in REFUSED.values()) < 100  # reasons are short, one line each


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_hostile_file_is_refused_with_one_clear_reason_and_the_index_is_unchanged(
    name, indexed, embedder
):
    settings, root = indexed
    maker, reason = REFUSED[name]
    path = make(root, name, maker)
    before = state(settings)
    started = time.perf_counter()
    report = Indexer(settings, embedder).index(read_paths([str(path)]))
    seconds = time.perf_counter() - started
    assert (report.added, report.updated, len(report.failed)) == (0, 0, 1), report.as_dict()
    [failure] = report.failed
    assert reason in failure.reason and "\n" not in failure.reason, failure
    assert failure.location.startswith(str(path))
    assert state(settings) == before  # same generation, articles and chunks: nothing rewritten
    assert_still_answers(settings, embedder)
    assert seconds < 30, f"refusing {name} took {seconds:.0f} s"
    path.unlink()


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_a_file_with_hostile_content_is_indexed_as_plain_text_only(name, indexed, embedder):
    settings, root = indexed
    maker, check = ACCEPTED[name]
    path = make(root, name, maker)
    generation, (articles, chunks), ids = state(settings)
    report = Indexer(settings, embedder).index(read_paths([str(path)]))
    assert (report.added, report.failed) == (1, []), report.as_dict()
    [new_id] = set(state(settings)[2]) - set(ids)
    store = Store(settings.data_dir)
    try:
        check(store.article(new_id))
        assert store.generation == generation + 1 and store.counts()[0] == articles + 1
    finally:
        store.close()
    assert_still_answers(settings, embedder)
    assert Indexer(settings, embedder).remove([new_id]) == 1
    assert state(settings)[1:] == ((articles, chunks), ids)  # as it was before
    path.unlink()


def test_html_far_over_the_element_limit_is_refused_before_it_is_parsed(tmp_path):
    """Without the limit, 130,000 `<p>x</p>` (1 MB) kept trafilatura busy for about 100 s."""
    path = tmp_path / "bomb.html"
    path.write_text(page("<p>x</p>" * (MAX_HTML_ELEMENTS * 20)))  # 8 MB
    started = time.perf_counter()
    [failure] = read_paths([str(path)])
    assert "too many HTML elements" in failure.reason
    assert time.perf_counter() - started < 2


def test_a_100_mb_line_is_skipped_without_being_read_into_memory(tmp_path):
    path = tmp_path / "dump.jsonl"
    with open(path, "wb") as handle:
        handle.write(json.dumps(GOOD).encode() + b"\n")
        handle.truncate(100 * 2**20)  # then one 100 MB line of NUL bytes, no newline
    tracemalloc.start()
    try:
        items = list(read_paths([str(path)]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [type(i).__name__ for i in items] == ["Article", "IngestError"]
    assert items[1].location == f"{path}:2" and "line too long (99 MB" in items[1].reason
    assert peak < 30 * 2**20, f"reading held {peak / 2**20:.0f} MB at once"


def test_a_bad_line_among_good_ones_is_reported_by_line_and_the_rest_indexed(indexed, embedder):
    settings, root = indexed
    path = root / "in" / "mixed.jsonl"
    path.parent.mkdir(exist_ok=True)
    good = {"id": "m1", "title": "Ferry", "text": "The ferry from Dover carried 120 lorries."}
    path.write_bytes(
        json.dumps(good).encode() + b"\n" + b'{"id": "m2", "text": "caf\xe9"}\n'
        + b'{"id": "m3", "title": "t", "text": "bad \\udfff"}\n' + b"[1, 2]\n"
    )  # fmt: skip
    report = Indexer(settings, embedder).index(read_paths([str(path)]))
    assert report.added == 1
    assert [(f.location, f.reason.split(" (")[0]) for f in report.failed] == [
        (f"{path}:2", "not UTF-8 text"),
        (f"{path}:3", "field 'text' is not valid Unicode"),
        (f"{path}:4", "expected an object with 'title' and 'text', got list"),
    ]
    assert Indexer(settings, embedder).remove(["m1"]) == 1
    assert_still_answers(settings, embedder)
