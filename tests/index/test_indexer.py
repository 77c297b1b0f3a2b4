"""Incremental indexing: only new or changed articles are embedded; removals stay consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.doctor import problems
from index.indexer import Indexer, IndexMismatchError
from index.ingest.files import file_id, read_paths
from index.search.searcher import Searcher
from index.settings import SearchMode, Settings
from index.store.lock import LockedError, WriterLock

ARTICLES = [
    {"id": "jordan", "title": "Jordan and Syria talk border security", "published": "2021-09-19",
     "text": "Jordan is a close Western ally. The kingdom hosts more than 650,000 Syrian refugees."},
    {"id": "moon", "title": "Lander touches down near the lunar south pole", "published": "2023-08-23",
     "text": "India's Chandrayaan-3 lander touched down near the Moon's south pole on Wednesday."},
    {"id": "rates", "title": "Central bank raises rates", "published": "2022-07-27",
     "text": "The Federal Reserve raised its benchmark rate by 75 basis points on Wednesday."},
]  # fmt: skip


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def index(settings: Settings, embedder, *paths: Path, prune: bool = False):
    names = [str(p) for p in paths]
    return Indexer(settings, embedder).index(read_paths(names), prune=names if prune else ())


def text_files(folder: Path) -> Path:
    """`folder` with one .txt file per test article (headline on the first line)."""
    folder.mkdir()
    for row in ARTICLES:
        (folder / f"{row['id']}.txt").write_text(f"{row['title']}\n{row['text']}")
    return folder


def article_ids(settings: Settings, embedder, query: str, mode=SearchMode.BM25) -> list[str]:
    searcher = Searcher(settings, embedder)
    try:
        return [h.article_id for h in searcher.search(query, 5, mode)]
    finally:
        searcher.close()


def test_a_second_run_over_the_same_files_embeds_nothing(settings, embedder, tmp_path):
    source = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    first = index(settings, embedder, source)
    assert (first.added, first.unchanged) == (3, 0) and first.chunks >= 3
    before = embedder.encode_calls
    second = index(settings, embedder, source)
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, 3, 0)
    assert embedder.encode_calls == before


def test_a_changed_article_is_re_embedded_alone_and_replaces_the_old_text(
    settings, embedder, tmp_path
):
    source = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    index(settings, embedder, source)
    changed = [
        dict(ARTICLES[0], text="The kingdom now hosts 1.3 million Syrian refugees."),
        *ARTICLES[1:],
    ]
    write_jsonl(source, changed)
    before = embedder.encode_calls
    report = index(settings, embedder, source)
    assert (report.updated, report.unchanged) == (1, 2)
    assert embedder.encode_calls - before == report.chunks == 1
    assert article_ids(settings, embedder, "1.3 million refugees") == ["jordan"]
    assert article_ids(settings, embedder, "650,000") == []
    assert problems(settings.data_dir) == []


def test_remove_and_prune_leave_search_consistent(settings, embedder, tmp_path):
    folder = text_files(tmp_path / "feed")
    assert index(settings, embedder, folder).added == 3
    (folder / "moon.txt").unlink()
    report = index(settings, embedder, folder, prune=True)
    assert (report.removed, report.unchanged) == (1, 2)
    assert article_ids(settings, embedder, "lunar lander south pole", SearchMode.HYBRID)[:1] != [
        file_id(folder / "moon.txt")
    ]
    assert "Chandrayaan" not in json.dumps(
        [
            h.text
            for h in Searcher(settings, embedder).search("Chandrayaan lander", 5, SearchMode.HYBRID)
        ]
    )
    jordan_id = file_id(folder / "jordan.txt")
    assert Indexer(settings, embedder).remove([jordan_id, "no-such-id"]) == 1
    assert article_ids(settings, embedder, "refugees") == []
    assert problems(settings.data_dir) == []


def test_exact_duplicates_under_other_ids_are_stored_once_and_reported(
    settings, embedder, tmp_path
):
    copy = dict(ARTICLES[0], id="jordan-copy", url="https://example.org/copy")
    report = index(settings, embedder, write_jsonl(tmp_path / "a.jsonl", [*ARTICLES, copy]))
    assert report.added == 3
    assert report.duplicates == [("jordan-copy", "jordan")]


def test_bad_records_are_reported_and_the_rest_is_indexed(settings, embedder, tmp_path):
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps(ARTICLES[0]) + "\n{oops\n" + json.dumps(ARTICLES[1]) + "\n")
    report = index(settings, embedder, source)
    assert report.added == 2 and not report.ok
    assert [str(e) for e in report.failed] == [
        f"{source}:2: malformed JSON (Expecting property name enclosed in double quotes)"
    ]


def test_a_second_writer_is_refused_while_one_holds_the_lock(settings, embedder, tmp_path):
    settings.data_dir.mkdir(parents=True)
    with WriterLock(settings.data_dir), pytest.raises(LockedError, match="is writing to"):
        index(settings, embedder, write_jsonl(tmp_path / "a.jsonl", ARTICLES))


def test_an_index_built_with_another_model_is_not_mixed(settings, embedder, tmp_path):
    source = write_jsonl(tmp_path / "a.jsonl", ARTICLES[:1])
    index(settings, embedder, source)
    other = settings.with_overrides(embedding_model="some/other-model")
    with pytest.raises(IndexMismatchError, match="was built with embedding model"):
        Indexer(other, embedder).index(
            read_paths([str(write_jsonl(tmp_path / "b.jsonl", ARTICLES[1:]))])
        )


def test_an_index_with_absolute_path_file_ids_is_migrated_in_place(settings, embedder, tmp_path):
    import sqlite3

    from index.store.database import DB_NAME

    folder = text_files(tmp_path / "articles")
    assert index(settings, embedder, folder).added == 3
    # what an older release stored: the absolute path as the id
    db = sqlite3.connect(settings.data_dir / DB_NAME)
    with db:
        db.execute("PRAGMA defer_foreign_keys=ON")
        for (new,) in db.execute("SELECT id FROM articles").fetchall():
            name = new.split(":", 1)[1].split("#")[0]
            old = f"file:{(folder / name).resolve()}"
            db.execute("UPDATE chunks SET article_id = ? WHERE article_id = ?", (old, new))
            db.execute("UPDATE articles SET id = ? WHERE id = ?", (old, new))
    db.close()

    report = index(settings, embedder, folder)  # opening the store for writing migrates it
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)  # nothing re-embedded
    ids = article_ids(settings, embedder, "lunar lander south pole")
    assert ids[0] == file_id(folder / "moon.txt") and str(tmp_path) not in "".join(ids)
    assert problems(settings.data_dir) == []
