"""Search latency with a date/outlet filter, against the same search without one.

`python -m benchmarks.filter_latency --chunks 10000 --queries 40` builds (once, under WORK) an index
of n chunks the way `benchmarks.corpus.build_scale` does (real BBC paragraphs, perturbed past the
first copy; random unit vectors, the model's own query vectors), gives its articles publication
dates spread evenly over 2015-2024 and one of ten outlets (seeded), and times `Searcher.search` in
each mode with no filter, a wide one (since 2020: about half), one outlet (a tenth) and a narrow one
(one outlet, one month: about 0.08%). It checks that every hit passes its filter and prints one
JSON object: p50/p95 ms per (mode, filter), the catalog's load time and a selection's cost.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks.corpus import BBC, WORK, build_scale, log, settings_for
from benchmarks.latency import percentiles, questions

OUTLETS = [f"Outlet {c}" for c in "ABCDEFGHIJ"]
FIRST, DAYS = date(2015, 1, 1), 3653
FILTERS = {
    "none": {},
    "since 2020 (~50%)": {"since": date(2020, 1, 1)},
    "one outlet (~10%)": {"sources": ("Outlet C",)},
    "outlet + month (~0.08%)": {
        "since": date(2021, 3, 1), "until": date(2021, 3, 31), "sources": ("Outlet C",),
    },
}  # fmt: skip


def paragraphs(limit: int = 20_000) -> list[tuple[str, str]]:
    """(title, paragraph) pairs of BBC articles: the base text of the corpus."""
    pairs: list[tuple[str, str]] = []
    with open(BBC, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            for part in (record.get("text") or "").split("\n"):
                if len(part.split()) >= 12:
                    pairs.append((record.get("title") or "", part.strip()))
            if len(pairs) >= limit:
                break
    return pairs


def dated_corpus(n_chunks: int) -> Path:
    data_dir = WORK / f"filters-{n_chunks}"
    done = data_dir / ".dated"
    if done.is_file():
        return data_dir
    build_scale(n_chunks, base=paragraphs(), data_dir=data_dir)
    rng = random.Random(11)
    db = sqlite3.connect(data_dir / "newsdesk.db")
    ids = [r[0] for r in db.execute("SELECT id FROM articles")]
    rows = [
        ((FIRST + timedelta(days=rng.randrange(DAYS))).isoformat(), rng.choice(OUTLETS), i)
        for i in ids
    ]
    with db:
        db.executemany("UPDATE articles SET published = ?, source = ? WHERE id = ?", rows)
    db.close()
    done.write_text("1")
    return data_dir


def measure(n_chunks: int, n_queries: int) -> dict:
    from index.search.catalog import Catalog
    from index.search.filters import Filter, outlet_of, published_day
    from index.search.searcher import Searcher
    from index.settings import SearchMode

    data_dir = dated_corpus(n_chunks)
    searcher = Searcher(settings_for(data_dir))
    t0 = time.perf_counter()
    catalog = Catalog.load(searcher.store)
    load_ms = (time.perf_counter() - t0) * 1000
    asked = questions(n_queries)
    for q in asked[:5]:
        searcher.search(q, 5)  # warm-up
    result: dict = {
        "chunks": len(searcher.snapshot.lexical),
        "dense_index": searcher.snapshot.dense.describe(),
        "catalog_load_ms": round(load_ms, 1),
        "queries": len(asked),
        "rows": [],
    }
    for name, spec in FILTERS.items():
        flt = Filter(**spec) if spec else None
        if flt is not None:
            t0 = time.perf_counter()
            selected = len(catalog.select(flt))
            select_ms = (time.perf_counter() - t0) * 1000
        else:
            selected, select_ms = result["chunks"], 0.0
        for mode in SearchMode:
            wall: list[float] = []
            stages: dict[str, list[float]] = {}
            empty = 0
            for q in asked:
                timings: dict[str, float] = {}
                t0 = time.perf_counter()
                hits = searcher.search(q, 5, mode, timings, flt=flt)
                wall.append((time.perf_counter() - t0) * 1000)
                for stage, ms in timings.items():
                    stages.setdefault(stage, []).append(ms)
                empty += not hits
                if flt is not None:
                    assert all(
                        flt.matches(published_day(h.published), outlet_of(h.source, h.url))
                        for h in hits
                    ), "a hit outside the filter"
            result["rows"].append(
                {
                    "filter": name, "mode": mode.value, "selected_chunks": selected,
                    "first_select_ms": round(select_ms, 2), "search_ms": percentiles(wall),
                    "stages_ms": {k: percentiles(v) for k, v in stages.items()},
                    "queries_without_hits": empty,
                }
            )  # fmt: skip
            log(f"{n_chunks:,} {name} {mode.value}: {percentiles(wall)}")
    searcher.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(measure(args.chunks, args.queries)))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
