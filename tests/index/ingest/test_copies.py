"""Copies of a story are caught on every ingest path: files, JSONL dumps, pages and feeds all meet
the same signatures, kept in the index beside their articles, at any number of articles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash

from bot.cli.main import main
from index.indexer import Indexer
from index.ingest.copies import (
    MINHASH_PERMUTATIONS,
    NEAR_DUPLICATE,
    CopyIndex,
    band_keys_of,
    signed_ids,
    to_bytes,
)
from index.ingest.files import file_id, read_paths
from index.models import Article
from index.settings import Settings
from index.store.database import Store

FLOOD = [
    "Floodwater from the swollen river Elbe reached the old town of Dresden on Sunday night, "
    "forcing the evacuation of about 3,000 residents from streets along the embankment.",
    "The city's fire service said sandbag walls had held at the opera house, but the water rose "
    "faster than forecast after two days of heavy rain in the Czech mountains upstream.",
    "Officials expect the river to crest on Tuesday at about eight metres, well below the record "
    "set in 2002, when the flood caused damage worth billions of euros across the region.",
]
LOCKS = [  # the same river, another story
    "Engineers on the Elbe began work on Monday to replace the lock gates at Geesthacht, which "
    "have been in service since 1960 and now leak so badly that barges wait for hours.",
    "The new gates are to be finished within two years; until then the waterway stays open only "
    "in daylight, the federal waterways agency said.",
]


def syndicated(paragraphs: list[str]) -> list[str]:
    """A partner's copy: a byline, one word changed, a credit line at the end."""
    first = paragraphs[0].replace("forcing", "prompting", 1)
    return [
        "By Anna Keller",
        first,
        *paragraphs[1:],
        "Reporting by Anna Keller; Editing by Jo Hart",
    ]


def record(article_id: str, title: str, paragraphs: list[str]) -> dict:
    return {"id": article_id, "title": title, "text": "\n\n".join(paragraphs)}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def index(settings: Settings, embedder, *paths: Path):
    return Indexer(settings, embedder).index(read_paths([str(p) for p in paths]))


def stored_ids(settings: Settings) -> set[str]:
    store = Store(settings.data_dir, readonly=True)
    try:
        return set(store.hashes())
    finally:
        store.close()


def signed(settings: Settings) -> set[str]:
    store = Store(settings.data_dir, readonly=True)
    try:
        return signed_ids(store)
    finally:
        store.close()


def test_a_jsonl_dump_with_a_syndicated_copy_is_indexed_once_and_the_copy_reported(
    settings, embedder, tmp_path, capsys
):
    dump = write_jsonl(tmp_path / "dump.jsonl", [
        record("wire-flood", "Elbe floods Dresden old town", FLOOD),
        record("wire-locks", "New lock gates for the Elbe", LOCKS),
        record("partner-flood", "Dresden evacuates 3,000 as Elbe rises", syndicated(FLOOD)),
    ])  # fmt: skip
    first = index(settings, embedder, dump)
    assert first.ok and first.added == 2
    assert first.duplicates == [("partner-flood", "wire-flood")]
    assert stored_ids(settings) == signed(settings) == {"wire-flood", "wire-locks"}
    # indexed again: the originals are unchanged (no copy of themselves), the copy still a copy
    again = index(settings, embedder, dump)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert again.duplicates == [("partner-flood", "wire-flood")]
    # and the command line says so
    assert main(["index", str(dump), "--data-dir", str(settings.data_dir)]) == 0
    out = capsys.readouterr().out
    assert "1 duplicates" in out
    assert "duplicate: partner-flood is a copy of wire-flood (stored once)" in out


def test_two_text_files_one_a_copy_of_the_other_are_indexed_once(settings, embedder, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    original, copy = folder / "a-flood.txt", folder / "b-partner.txt"
    original.write_text("Elbe floods Dresden old town\n" + "\n\n".join(FLOOD))
    copy.write_text("Dresden evacuates 3,000 as Elbe rises\n" + "\n\n".join(syndicated(FLOOD)))
    (folder / "c-locks.txt").write_text("New lock gates for the Elbe\n" + "\n\n".join(LOCKS))
    report = index(settings, embedder, folder)
    assert report.ok and report.added == 2
    assert report.duplicates == [(file_id(copy), file_id(original))]
    assert file_id(copy) not in stored_ids(settings)

    # the original edited (a word changed): an update of itself, never a copy of itself
    original.write_text(original.read_text().replace("Sunday night", "Sunday evening"))
    edited = index(settings, embedder, folder)
    assert (edited.updated, edited.added) == (1, 0)
    assert file_id(original) not in {dup for dup, _ in edited.duplicates}
    assert edited.duplicates == [(file_id(copy), file_id(original))]
    store = Store(settings.data_dir, readonly=True)
    assert "Sunday evening" in store.article(file_id(original)).text
    store.close()

    # the original removed: its signature goes with it, and the partner's copy is indexed
    assert Indexer(settings, embedder).remove([file_id(original)]) == 1
    original.unlink()
    after = index(settings, embedder, folder)
    assert after.added == 1 and after.duplicates == []
    assert file_id(copy) in signed(settings)


def test_a_copy_in_a_dump_of_a_story_that_came_from_the_web_is_caught(settings, embedder, tmp_path):
    page = Article(
        "https://wire.example/elbe-flood", "Elbe floods Dresden old town", "\n\n".join(FLOOD),
        url="https://wire.example/elbe-flood", origin="https://wire.example/elbe-flood",
    )  # fmt: skip
    assert Indexer(settings, embedder).index([page]).added == 1
    dump = write_jsonl(
        tmp_path / "archive.jsonl", [record("archive-7", "Flood", syndicated(FLOOD))]
    )
    report = index(settings, embedder, dump)
    assert report.added == 0 and report.duplicates == [("archive-7", page.id)]


def test_an_index_made_before_signatures_were_kept_is_signed_on_its_next_write(
    settings, embedder, tmp_path
):
    index(settings, embedder, write_jsonl(tmp_path / "a.jsonl", [record("wire-flood", "Flood", FLOOD)]))  # fmt: skip
    store = Store(settings.data_dir)  # as an older release left it: no signatures, no scheme
    with store.transaction():
        store.db.execute("DELETE FROM copy_signatures")
        store.db.execute("DELETE FROM meta WHERE key = 'copy_scheme'")
    store.close()
    assert signed(settings) == set()
    dump = write_jsonl(tmp_path / "b.jsonl", [record("partner-flood", "Flood", syndicated(FLOOD))])
    report = index(settings, embedder, dump)
    assert report.added == 0 and report.duplicates == [("partner-flood", "wire-flood")]
    assert signed(settings) == {"wire-flood"}


# --- at scale: 100,000 remembered articles --------------------------------------------------------
def synthetic(values: np.ndarray) -> LeanMinHash:
    return LeanMinHash(seed=1, hashvalues=values, scheme="affine32")


def remember_many(store: Store, values: np.ndarray) -> None:
    """Store len(values) articles (empty bodies) with the given signatures, in one transaction,
    loaded as a bulk load is: the bands sorted by key and their second index made afterwards
    (the same tables and indexes as the indexer's writes, a fraction of the time)."""
    ids = [f"a{i}" for i in range(len(values))]
    keys = band_keys_of(values)
    order = np.argsort(keys, axis=None)
    with store.transaction():
        store.db.executemany(
            "INSERT INTO articles (id, title, text, content_hash, indexed_at) VALUES (?, '', '', ?, 0)",
            [(i, i) for i in ids],
        )
        store.db.executemany(
            "INSERT INTO copy_signatures (id, article_id, hashvalues) VALUES (?, ?, ?)",
            [
                (n + 1, i, to_bytes(synthetic(v)))
                for n, (i, v) in enumerate(zip(ids, values, strict=True))
            ],
        )
        store.db.execute("DROP INDEX copy_bands_signature")
        store.db.executemany(
            "INSERT INTO copy_bands (band_key, signature) VALUES (?, ?)",
            zip(keys.ravel()[order].tolist(), (order // keys.shape[1] + 1).tolist(), strict=True),
        )
        store.db.execute("CREATE INDEX copy_bands_signature ON copy_bands(signature)")


def sharing(query: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A signature equal to `query` in `share` of its values (at random places), else random."""
    other = query.copy()
    changed = rng.choice(MINHASH_PERMUTATIONS, round((1 - share) * MINHASH_PERMUTATIONS), replace=False)  # fmt: skip
    other[changed] = rng.integers(0, 2**32, len(changed), dtype=np.uint64).astype(np.uint32)
    return other


def test_among_100k_remembered_articles_the_planted_copy_is_found_and_no_false_one(tmp_path):
    rng = np.random.default_rng(18)
    n = 100_000
    values = rng.integers(0, 2**32, (n, MINHASH_PERMUTATIONS), dtype=np.uint64).astype(np.uint32)
    query = values[0].copy()
    values[0] = rng.integers(0, 2**32, MINHASH_PERMUTATIONS, dtype=np.uint64).astype(np.uint32)
    planted = 54_321
    values[planted] = sharing(query, 0.86, rng)  # a copy: 86% of the values agree
    for i in range(1, 301):  # near misses: 60-78% agree, so most share a band with the query
        values[i * 311] = sharing(query, 0.6 + 0.18 * (i % 10) / 9, rng)
    store = Store(tmp_path)
    remember_many(store, values)
    reader = Store(tmp_path, readonly=True)
    near = CopyIndex(reader)

    found = near.find("new", synthetic(query))
    assert found is not None and found[0] == f"a{planted}"
    assert NEAR_DUPLICATE <= found[1] == pytest.approx(0.86, abs=0.01)
    assert near.find(f"a{planted}", synthetic(query)) is None  # itself: no copy
    for probe in rng.integers(0, 2**32, (20, MINHASH_PERMUTATIONS), dtype=np.uint64):
        assert near.find("new", synthetic(probe.astype(np.uint32))) is None

    with store.transaction():
        store.delete_articles([f"a{planted}"])
    assert near.find("new", synthetic(query)) is None  # only the near misses are left: none
    near.add("this-run", synthetic(sharing(query, 0.9, rng)))  # not committed yet: in memory
    assert near.find("new", synthetic(query))[0] == "this-run"
    reader.close()
    store.close()
