"""Near-duplicate look-up at scale: how long `CopyIndex.find` takes with N remembered articles.

    python -m benchmarks.copies                 # 100k remembered articles
    python -m benchmarks.copies --sizes 100k,1m --compare

Builds a throw-away SQLite index (under WORK) holding N articles' signatures, as the indexer stores
them (copy_signatures + copy_bands). The signatures are synthetic: random hash values, which is
what unrelated articles look like to MinHash; 200 planted copies agree with their query on 86%
of their values and 2,000 near misses on 60-78% (most of them share a band with their query, so
they are fetched and rejected by the similarity estimate: the work a real look-up does). Measures
per look-up (wall and the thread's CPU time): queries with no copy, and queries whose copy is
planted; and the cost of writing one more article's signature. With --compare, also the two
designs not taken: one vectorised comparison against every signature (the old hand-written
NearDuplicates), and building datasketch's in-memory MinHashLSH from the stored signatures.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time

import numpy as np

from benchmarks.corpus import WORK, log


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


def _remember(store, values: np.ndarray) -> None:
    """Bulk-load len(values) articles with these signatures (bands sorted, index made after)."""
    from index.ingest.copies import band_keys_of

    keys = band_keys_of(values)
    order = np.argsort(keys, axis=None)
    with store.transaction():
        store.db.executemany(
            "INSERT INTO articles (id, title, text, content_hash, indexed_at) VALUES (?,'','',?,0)",
            ((f"a{i}", "-") for i in range(len(values))),
        )
        store.db.executemany(
            "INSERT INTO copy_signatures (id, article_id, hashvalues) VALUES (?, ?, ?)",
            ((i + 1, f"a{i}", values[i].astype("<u4").tobytes()) for i in range(len(values))),
        )
        store.db.execute("DROP INDEX copy_bands_signature")
        store.db.executemany(
            "INSERT INTO copy_bands (band_key, signature) VALUES (?, ?)",
            zip(keys.ravel()[order].tolist(), (order // keys.shape[1] + 1).tolist(), strict=True),
        )
        store.db.execute("CREATE INDEX copy_bands_signature ON copy_bands(signature)")


def _sharing(query: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    other = query.copy()
    changed = rng.choice(len(query), round((1 - share) * len(query)), replace=False)
    other[changed] = rng.integers(0, 2**32, len(changed), dtype=np.uint64).astype(np.uint32)
    return other


def lookup(n: int, *, compare: bool = False, queries: int = 200, seed: int = 18) -> dict:
    from datasketch import LeanMinHash, MinHashLSH

    from index.ingest.copies import (
        LSH_BANDS,
        LSH_ROWS,
        MINHASH_PERMUTATIONS,
        NEAR_DUPLICATE,
        CopyIndex,
        put_signature,
    )
    from index.models import Article
    from index.store.database import Store

    rng = np.random.default_rng(seed)
    sig = lambda v: LeanMinHash(seed=1, hashvalues=v, scheme="affine32")  # noqa: E731
    values = rng.integers(0, 2**32, (n, MINHASH_PERMUTATIONS), dtype=np.uint64).astype(np.uint32)
    copy_queries = rng.integers(0, 2**32, (queries, MINHASH_PERMUTATIONS), dtype=np.uint64)
    copy_queries = copy_queries.astype(np.uint32)
    planted = rng.choice(n, queries + queries * 10, replace=False)
    for q in range(queries):
        values[planted[q]] = _sharing(copy_queries[q], 0.86, rng)
        for j in range(10):
            values[planted[queries + q * 10 + j]] = _sharing(copy_queries[q], 0.6 + 0.02 * j, rng)
    plain = rng.integers(0, 2**32, (queries, MINHASH_PERMUTATIONS), dtype=np.uint64)
    plain = plain.astype(np.uint32)

    WORK.mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(dir=WORK, prefix="copies-")
    try:
        store = Store(folder)
        started = time.perf_counter()
        _remember(store, values)
        log(f"  {n:,} signatures stored in {time.perf_counter() - started:.1f} s")
        near = CopyIndex(Store(folder, readonly=True))
        rows: dict = {"remembered": n, "bands": LSH_BANDS, "rows": LSH_ROWS}
        for name, batch, expect in (("no copy", plain, None), ("copy", copy_queries, True)):
            wall, cpu, found = [], [], 0
            for q, v in enumerate(batch):
                query = sig(v)
                t0, c0 = time.perf_counter(), time.thread_time()
                hit = near.find("new", query)
                cpu.append((time.thread_time() - c0) * 1000)
                wall.append((time.perf_counter() - t0) * 1000)
                if expect:
                    found += hit is not None and hit[0] == f"a{planted[q]}"
                else:
                    found += hit is not None
            rows[name] = {
                "wall_ms": _percentiles(wall), "cpu_ms": _percentiles(cpu),
                ("found" if expect else "false_copies"): found, "queries": len(batch),
            }  # fmt: skip
            log(f"  find ({name}): p50 {rows[name]['wall_ms']['p50']:.3f} ms wall, "
                f"{rows[name]['cpu_ms']['p50']:.3f} ms CPU; {found}/{len(batch)}")  # fmt: skip
        writes = []
        for i in range(50):
            with store.transaction():
                store.put_article(Article(f"w{i}", "", ""), [], [])
                t0 = time.perf_counter()
                put_signature(store, f"w{i}", sig(plain[i % len(plain)]))
                writes.append((time.perf_counter() - t0) * 1000)
        rows["write_ms"] = _percentiles(writes)
        if compare:
            rows["compare"] = _designs_not_taken(values, copy_queries, NEAR_DUPLICATE, MinHashLSH)
        near.store.close()
        store.close()
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _designs_not_taken(values, queries, threshold, lsh_class) -> dict:
    from datasketch import LeanMinHash

    out = {}
    times = []
    for v in queries[:50]:
        t0 = time.perf_counter()
        similarity = (values == v).mean(axis=1)
        np.flatnonzero(similarity >= threshold)
        times.append((time.perf_counter() - t0) * 1000)
    out["compare_all_ms_p50"] = statistics.median(times)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    lsh = lsh_class(threshold=threshold, num_perm=values.shape[1], params=(21, 6))
    with lsh.insertion_session() as session:
        for i, v in enumerate(values):
            session.insert(f"a{i}", LeanMinHash(seed=1, hashvalues=v, scheme="affine32"),
                           check_duplication=False)  # fmt: skip
    out["memory_lsh_build_s"] = time.perf_counter() - t0
    out["memory_lsh_rss_growth_mb"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    ) / 1024
    log(f"  compare-all p50 {out['compare_all_ms_p50']:.2f} ms; in-memory MinHashLSH build "
        f"{out['memory_lsh_build_s']:.1f} s, +{out['memory_lsh_rss_growth_mb']:.0f} MB")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k", help="comma-separated, e.g. 100k,1m")
    parser.add_argument("--compare", action="store_true", help="also time the designs not taken")
    args = parser.parse_args(argv)
    from benchmarks.run import parse_scale

    with open("/proc/loadavg") as handle:
        log(f"load average at start: {handle.read().split()[:3]}")
    results = {}
    for size in (parse_scale(s) for s in args.sizes.split(",")):
        log(f"copies: {size:,} remembered articles")
        results[size] = lookup(size, compare=args.compare)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
