"""The backend benchmark runs both backends on a few real articles and renders its table."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
pytest.importorskip("milvus_lite")


def test_both_backends_index_the_same_chunks_and_the_table_shows_them(shared_data):
    from benchmarks import milvus, report

    rows = milvus.side_by_side(n_articles=6, n_queries=3)
    assert set(rows) == {"local", "milvus"}
    assert rows["local"]["chunks"] == rows["milvus"]["chunks"] > 0
    assert rows["local"]["reindex_embedded"] == rows["milvus"]["reindex_embedded"] == 0
    for row in rows.values():
        assert row["hybrid"]["p50"] > 0 and row["search_peak_rss_mb"] > 0
    table = report._milvus_rows(rows)
    assert any(line.startswith("| Milvus Lite (embedded) |") for line in table)
    assert any(line.startswith(f"| local | {rows['local']['chunks']:,} |") for line in table)
