"""Side by side, in one process and on the same data: BM25 implementations and FAISS index types.

BM25: our LexicalIndex (as saved by the scale corpus: inverted-index candidates, rank-bm25 rescoring)
vs plain `rank_bm25.BM25Okapi.get_scores` vs bm25s, all three over the same terms (each chunk's bag
of terms is read back from our postings, so tokenisation is identical). Agreement: the share of each
top-10 whose rank-bm25 score reaches rank-bm25's 10th best (ties count as agreeing).

FAISS: exact flat vs HNSW vs IVFFlat as `index.search.dense` builds it, on unit vectors: recall@10 against
flat, single-query latency (one OpenMP thread, as DenseIndex searches), build time, memory.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np

from benchmarks.corpus import log, scale_dir
from benchmarks.latency import percentiles, questions


# --- BM25 ---------------------------------------------------------------------------------------
def _bags(lexical) -> list[list[str]]:
    """Each row's terms (term repeated tf times) rebuilt from the postings."""
    terms = lexical.vocab.terms()
    indptr = np.asarray(lexical.indptr)
    term_of_posting = np.repeat(np.arange(len(terms)), np.diff(indptr))
    rows = np.asarray(lexical.postings)
    order = np.argsort(rows, kind="stable")
    row_sorted, term_sorted = rows[order], term_of_posting[order]
    tf_sorted = np.asarray(lexical.tfs)[order]
    bounds = np.searchsorted(row_sorted, np.arange(len(lexical) + 1))
    bags = []
    for r in range(len(lexical)):
        a, b = bounds[r], bounds[r + 1]
        bag: list[str] = []
        for t, n in zip(term_sorted[a:b].tolist(), tf_sorted[a:b].tolist(), strict=True):
            bag.extend([terms[t]] * n)
        bags.append(bag)
    return bags


def _time_queries(search, queries, k: int = 50) -> tuple[dict, list[list[int]]]:
    for q in queries[:5]:
        search(q, k)
    times, tops = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows = search(q, k)
        times.append((time.perf_counter() - t0) * 1000)
        tops.append(list(rows[:10]))
    return percentiles(times), tops


def bm25_side_by_side(
    n_chunks: int, n_queries: int = 40, others: bool = True, data_dir: Path | None = None
) -> dict:
    """Our path vs rank_bm25 vs bm25s on the scale-n corpus; others=False runs ours alone."""
    from index.search.lexical import LexicalIndex
    from index.store.database import Store
    from index.tokenize import tokenize

    data_dir = data_dir or scale_dir(n_chunks)
    store = Store(data_dir)
    generation = store.generation
    store.close()
    t0 = time.perf_counter()
    ours = LexicalIndex.load(data_dir / f"lexical.{generation}.npz")
    load_s = time.perf_counter() - t0
    queries = [tokenize(q) for q in questions(n_queries)]
    row_of = {int(c): r for r, c in enumerate(np.asarray(ours.chunk_ids).tolist())}

    def ours_search(q, k):
        return [row_of[c] for c, _ in ours.search(q, k)]

    out: dict = {"chunks": n_chunks, "queries": len(queries)}
    out["ours"] = {"load_s": load_s}
    out["ours"]["ms"], ours_top = _time_queries(ours_search, queries)
    if not others:
        return out

    bags = _bags(ours)
    from rank_bm25 import BM25Okapi

    from index.search.lexical import K1, B

    gc.collect()
    before = _rss_mb()
    t0 = time.perf_counter()
    plain = BM25Okapi(bags, k1=K1, b=B)  # epsilon 0.25 as ours
    build_s = time.perf_counter() - t0
    plain_mb = _rss_mb() - before  # its per-chunk dicts (the token lists are built beforehand)

    def plain_search(q, k):
        scores = plain.get_scores(q)
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top], kind="stable")].tolist()

    out["rank_bm25"] = {"build_s": build_s, "memory_mb": round(plain_mb, 1)}
    out["rank_bm25"]["ms"], _ = _time_queries(plain_search, queries)
    exact = [plain.get_scores(q) for q in queries]
    out["ours"]["agree10"] = _agreement(ours_top, exact)
    plain = None  # free it before bm25s builds
    gc.collect()
    try:
        import bm25s
    except ImportError:
        out["bm25s"] = {"error": "bm25s is not installed (pip install -e '.[bench]')"}
        return out
    t0 = time.perf_counter()
    vocab = {t: i for i, t in enumerate(ours.vocab.terms())}
    ids = [[vocab[t] for t in bag] for bag in bags]
    del bags
    retriever = bm25s.BM25(k1=K1, b=B, method="robertson")
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    build_s = time.perf_counter() - t0
    del ids

    def bm25s_search(q, k):
        known = [vocab[t] for t in q if t in vocab]
        if not known:
            return []
        scores = retriever.get_scores(known)
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top], kind="stable")].tolist()

    out["bm25s"] = {"build_s": build_s, "method": "robertson"}
    out["bm25s"]["ms"], s_top = _time_queries(bm25s_search, queries)
    out["bm25s"]["agree10"] = _agreement(s_top, exact)
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _agreement(found: list[list[int]], exact: list[np.ndarray], k: int = 10) -> float:
    """Share of each top-k that belongs to rank-bm25's exact top-k, ties counted as equal."""
    shares = []
    for rows, scores in zip(found, exact, strict=True):
        m = min(k, int((scores > 0).sum()))
        if not m:
            continue
        kth = np.sort(scores)[::-1][m - 1]
        good = sum(scores[r] > 0 and scores[r] >= kth - 1e-9 for r in rows[:k])
        shares.append(min(1.0, good / m))
    return round(float(np.mean(shares)), 4) if shares else 1.0


# --- FAISS --------------------------------------------------------------------------------------
def vectors_for(kind: str, n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray, str]:
    """(corpus, queries, description) of unit vectors.

    real: the model's embeddings of the first n real chunks (n <= 10k), queries = real questions.
    copies: each of the 10k real chunk embeddings repeated with Gaussian noise (a model of the
      perturbed copies: mean cosine to the original ~0.9), queries = real questions.
    random: uniform random unit vectors (no structure: the worst case for IVF), random queries.
    """
    from benchmarks.corpus import random_unit, real_vectors

    rng = np.random.default_rng(seed)
    if kind == "random":
        return random_unit(n, rng), random_unit(200, rng), "random unit vectors"
    from benchmarks.corpus import model_embedder

    encoder = model_embedder()
    queries = np.stack([encoder.encode_query(q) for q in questions(200)])
    base = real_vectors()
    if kind == "real":
        return base[:n].copy(), queries, "model embeddings of real chunks"
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    step = 100_000
    for a in range(0, n, step):
        b = min(n, a + step)
        block = base[np.arange(a, b) % len(base)] + rng.standard_normal(
            (b - a, base.shape[1]), dtype=np.float32
        ) * np.float32(0.024)
        out[a:b] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, queries, "real embeddings + noise copies"


def faiss_side_by_side(kind: str, n: int, hnsw: bool = True, k: int = 10) -> dict:
    import faiss

    from index.search.dense import DenseIndex, build_ivf, nlist_for
    from index.search.threads import one_omp_thread

    corpus, queries, described = vectors_for(kind, n)
    ids = np.arange(n, dtype=np.int64)
    out: dict = {"vectors": kind, "described": described, "n": n, "queries": len(queries)}

    def measure(name, build):
        gc.collect()
        t0 = time.perf_counter()
        index = build()
        build_s = time.perf_counter() - t0
        mem = _index_bytes(index) / 1024**2
        times, found = [], []
        with one_omp_thread():
            for q in queries:
                t0 = time.perf_counter()
                _, got = index.search(q.reshape(1, -1), k)
                times.append((time.perf_counter() - t0) * 1000)
                found.append(got[0])
        return index, {"build_s": round(build_s, 2), "memory_mb": round(mem, 1),
                       "ms": percentiles(times)}, np.stack(found)  # fmt: skip

    def build_flat():
        index = DenseIndex.empty(corpus.shape[1]).index
        index.add_with_ids(corpus, ids)
        return index

    flat, out["flat"], exact = measure("flat", build_flat)
    del flat
    nlist = nlist_for(n)
    ivf, out["ivf"], got = measure("ivf", lambda: build_ivf(ids, corpus, nlist))
    out["ivf"]["recall10"] = _recall(got, exact)
    out["ivf"]["config"] = DenseIndex(ivf).describe()
    sweep = {}
    for nprobe in sorted({8, 16, 32, 64, 128} & set(range(1, nlist + 1))):
        ivf.nprobe = nprobe
        with one_omp_thread():
            times, found = [], []
            for q in queries:
                t0 = time.perf_counter()
                found.append(ivf.search(q.reshape(1, -1), k)[1][0])
                times.append((time.perf_counter() - t0) * 1000)
        sweep[nprobe] = {"recall10": _recall(np.stack(found), exact),
                         "p50_ms": percentiles(times)["p50"]}  # fmt: skip
    out["ivf"]["nprobe_sweep"] = sweep
    del ivf
    if hnsw:

        def build_hnsw():
            index = faiss.IndexHNSWFlat(corpus.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.add(corpus)
            index.hnsw.efSearch = 64
            return index

        _, out["hnsw"], got = measure("hnsw", build_hnsw)
        out["hnsw"]["recall10"] = _recall(got, exact)
        out["hnsw"]["config"] = "IndexHNSWFlat(M=32, efConstruction=80, efSearch=64)"
    log(f"  faiss {kind} {n:,}: " + ", ".join(
        f"{name} {v['ms']['p50']} ms r={v.get('recall10', 1.0)}" for name, v in out.items()
        if isinstance(v, dict) and "ms" in v))  # fmt: skip
    return out


def _index_bytes(index) -> int:
    """What the index holds: vectors, ids, centroids, graph links (FAISS keeps no other big arrays)."""
    import faiss

    index = faiss.downcast_index(index)
    n, d = index.ntotal, index.d
    if isinstance(index, faiss.IndexHNSW):
        return n * d * 4 + index.hnsw.neighbors.size() * 4 + index.hnsw.offsets.size() * 8
    if isinstance(index, faiss.IndexIVF):
        direct_map = n * 16 if index.direct_map.type != faiss.DirectMap.NoMap else 0
        return n * (index.code_size + 8) + index.nlist * d * 4 + direct_map
    return n * d * 4 + n * 8  # IndexIDMap2(flat): vectors and the id map


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    hits = [
        len(set(f.tolist()) & set(e.tolist())) / len(e) for f, e in zip(found, exact, strict=True)
    ]
    return round(float(np.mean(hits)), 4)
