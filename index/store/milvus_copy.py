"""Copy a local index (SQLite, with its stored embeddings) into Milvus without embedding anything.

    NEWSDESK_BACKEND=milvus NEWSDESK_MILVUS_URI=http://host:19530 \\
        python -m index.store.milvus_copy --from ~/.local/share/newsdesk

Articles and chunks are written with the same crash-safe batches as `newsdesk index`, so the copy
can be killed and run again (it upserts the same rows); afterwards `newsdesk index` over the same
sources on the Milvus backend finds every article unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from index.ingest.copies import body_of, signature
from index.models import Article, Chunk
from index.settings import Settings, SettingsError
from index.store.database import DB_NAME, Store, StoreError
from index.store.milvus import MilvusTarget
from index.store.milvus_store import MilvusStore

BATCH_ARTICLES = 200


def _articles(store: Store) -> Iterator[tuple[Article, list[Chunk], np.ndarray]]:
    rows = store.db.execute(
        "SELECT id, title, text, url, published, source, origin FROM articles ORDER BY id"
    )
    for row in rows.fetchall():
        article = Article(*row)
        chunks, vectors = [], []
        for ordinal, start, end, blob in store.db.execute(
            "SELECT ordinal, start, end, embedding FROM chunks WHERE article_id = ? ORDER BY id",
            (article.id,),
        ):
            text = article.text[start:end]
            chunks.append(Chunk(article.id, ordinal, start, end, text, article.title))
            vectors.append(np.frombuffer(blob, dtype="<f4"))
        yield article, chunks, np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)


def _signed(batch: list) -> dict:
    """The articles' near-duplicate signatures (so later runs on Milvus catch copies of them)."""
    return {article.id: signature(body_of(article)) for article, _, _ in batch}


def copy_local_index(source: Path, settings: Settings) -> tuple[int, int]:
    """Copy the index in `source` into the Milvus collections `settings` name; (articles, chunks)."""
    if not (Path(source) / DB_NAME).is_file():
        raise StoreError(f"no local index in {source}")
    local = Store(Path(source), readonly=True)
    target = MilvusStore(MilvusTarget.from_settings(settings))
    try:
        dim = int(local.meta("dimension") or 0) or None
        meta = {
            key: value
            for key in ("embedding_model", "embed_headline", "dimension")
            if (value := local.meta(key)) is not None
        }
        articles = chunks = 0
        batch: list = []
        for item in _articles(local):
            batch.append(item)
            if len(batch) == BATCH_ARTICLES:
                chunks += target.write_batch(
                    batch, [], dim=dim, meta=meta, signatures=_signed(batch)
                )
                articles, batch = articles + len(batch), []
        if batch:
            chunks += target.write_batch(batch, [], dim=dim, meta=meta, signatures=_signed(batch))
            articles += len(batch)
        return articles, chunks
    finally:
        local.close()
        target.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.store.milvus_copy", description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, required=True, help="local data dir")
    args = parser.parse_args(argv)
    try:
        articles, chunks = copy_local_index(args.source, Settings.load())
    except (StoreError, SettingsError) as exc:
        print(f"milvus_copy: error: {exc}", file=sys.stderr)
        return 2
    print(f"copied {articles:,} articles, {chunks:,} chunks (nothing embedded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
