"""The benchmark code on a few real articles, so that `make bench` cannot rot unnoticed (< 10 s)."""

from __future__ import annotations

import json
import random
from itertools import islice

import pytest

from benchmarks import compare, corpus, latency, report, run
from index.tokenize import tokenize


@pytest.fixture(scope="module")
def tiny_base(shared_data) -> list[tuple[str, str]]:
    """(title, passage) pairs cut from 12 BBC articles at blank lines."""
    pairs = []
    with open(shared_data / "bbc_news" / "bbc_news.jsonl", encoding="utf-8") as handle:
        for line in islice(handle, 12):
            record = json.loads(line)
            pairs += [
                (record["title"], p.strip()) for p in record["text"].split("\n\n") if p.strip()
            ]
    return pairs


@pytest.fixture(scope="module")
def tiny_dir(tiny_base, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("bench") / "scale"
    corpus.build_scale(300, base=tiny_base, data_dir=data_dir, batch=120)
    return data_dir


def test_perturb_keeps_words_and_changes_numbers():
    text = "Sales rose 12% to $4,500 in 2004. Shares fell. Analysts were surprised."
    changed = corpus.perturb(text, random.Random(1))
    words = [t for t in tokenize(text) if not t[0].isdigit()]
    assert sorted(t for t in tokenize(changed) if not t[0].isdigit()) == sorted(words)
    assert len(changed) == len(text)


def test_scale_corpus_is_a_working_index(tiny_dir):
    from index.store.database import Store

    store = Store(tiny_dir)
    assert store.counts() == (300, 300) and store.generation == 1
    store.close()
    sizes = corpus.dir_bytes(tiny_dir)
    assert (
        sizes["faiss"] > 0
        and sizes["bm25"] > 0
        and sizes["total"] == sum(v for k, v in sizes.items() if k != "total")
    )
    result = latency.measure(tiny_dir, "none", n_queries=6)
    assert result["chunks"] == 300 and result["queries"] == 6
    assert result["stages"]["total_ms"]["p50"] > 0 and "bm25_ms" in result["stages"]


def test_side_by_side_and_report(tiny_dir):
    bm25 = compare.bm25_side_by_side(300, n_queries=8, data_dir=tiny_dir)
    assert bm25["ours"]["agree10"] == 1.0  # our scores are rank-bm25's own
    assert bm25["rank_bm25"]["ms"]["p50"] >= 0
    faiss_row = compare.faiss_side_by_side("random", 2_000, hnsw=False)
    assert faiss_row["flat"]["ms"]["p50"] >= 0 and 0 <= faiss_row["ivf"]["recall10"] <= 1
    results = {
        "command": "test", "date": "today", "commit": "x", "minutes": 0, "quick": True,
        "load_average_at_start": "0", "load_average_at_end": "0", "machine": "test",
        "bm25": {300: bm25}, "faiss": [faiss_row],
    }  # fmt: skip
    markdown = report.render(results, run.TARGETS)
    assert "BM25 side by side" in markdown and "FAISS side by side" in markdown


def test_scale_parsing():
    assert [run.parse_scale(s) for s in ("10k", "100K", "1m", "2500")] == [
        10_000, 100_000, 1_000_000, 2_500
    ]  # fmt: skip
