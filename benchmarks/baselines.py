"""Newsdesk's retrieval against txtai and a LangChain-style ensemble, on the same passages, in one
run: `python -m benchmarks.baselines` (txtai comes with the `bench` extra).

The passages are the chunks of the EVALUATION.md index (`python -m benchmarks.eval_all
--build-only`); every dense side uses the same MiniLM vectors (the ones stored with the chunks;
questions are encoded by Newsdesk's embedder), so the rows differ only in lexical scoring and
fusion:

- Newsdesk: the real `Searcher.search(question, 10, mode)` (fusion, collapse, diversity as shipped).
- txtai: `Embeddings(hybrid=True)` (its BM25 with normalised scores, convex combination, weights
  0.5) and `Embeddings(keyword=True)` (BM25 alone), vectors given through `transform`.
- LangChain-style EnsembleRetriever: rank_bm25 BM25Okapi over `text.split()` (BM25Retriever's
  default) and exact cosine search, 10 each, weighted RRF with c=60 and weights 0.5/0.5.

A hit is a passage of the question's article; R@1, R@5 and MRR@10 per dev set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.eval_all import WORK, question_files  # noqa: E402
from bot.evaluation.runner import load_questions  # noqa: E402
from index.settings import SearchMode, Settings  # noqa: E402

K = 10


def article_metrics(ranked_articles: list[list[str]], truth: list[str]) -> dict[str, float]:
    r1 = r5 = mrr = 0.0
    for articles, article in zip(ranked_articles, truth, strict=True):
        rank = next((i for i, a in enumerate(articles[:K], 1) if a == article), None)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        mrr += 1 / rank if rank else 0.0
    n = len(truth) or 1
    return {"R@1": 100 * r1 / n, "R@5": 100 * r5 / n, "MRR@10": mrr / n}


class Passages:
    """The index's chunks: ids, owning articles, texts and stored vectors."""

    def __init__(self, data_dir: Path) -> None:
        from index.store.database import Store

        store = Store.for_reading(data_dir)
        ids, owners, texts, vectors = [], [], [], []
        for chunks, batch in store.iter_chunks():
            ids += [c.id for c in chunks]
            owners += [c.article_id for c in chunks]
            texts += [c.text for c in chunks]
            vectors.append(batch)
        store.close()
        self.ids, self.owners, self.texts = ids, owners, texts
        self.vectors = np.vstack(vectors).astype(np.float32)
        self.by_text = {text: row for row, text in enumerate(texts)}


def langchain_style(passages: Passages, encode, weights=(0.5, 0.5), c: int = 60):
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([text.split() for text in passages.texts])

    def search(question: str) -> list[str]:
        lexical = np.argsort(-bm25.get_scores(question.split()), kind="stable")[:K]
        dense = np.argsort(-(passages.vectors @ encode(question)), kind="stable")[:K]
        scores: dict[int, float] = {}
        for weight, ranking in zip(weights, (lexical, dense), strict=True):
            for rank, row in enumerate(ranking, start=1):
                scores[int(row)] = scores.get(int(row), 0.0) + weight / (rank + c)
        best = sorted(scores, key=lambda row: -scores[row])
        return [passages.owners[row] for row in best]

    return search


def txtai_search(passages: Passages, encode, *, hybrid: bool):
    from txtai import Embeddings

    def transform(texts):
        rows = [passages.by_text.get(t) for t in texts]
        return np.stack(
            [
                passages.vectors[r] if r is not None else encode(t)
                for r, t in zip(rows, texts, strict=True)
            ]
        )

    if hybrid:
        embeddings = Embeddings(method="external", transform=transform, hybrid=True, content=False)
    else:
        embeddings = Embeddings(keyword=True, content=False)
    embeddings.index([(row, text, None) for row, text in enumerate(passages.texts)])

    def search(question: str) -> list[str]:
        return [passages.owners[int(row)] for row, _ in embeddings.search(question, K)]

    return search


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=WORK / "data")
    args = parser.parse_args(argv)
    from index.search.searcher import Searcher

    settings = Settings.load(dotenv=None).with_overrides(data_dir=args.data_dir)
    searcher = Searcher(settings)
    encode = searcher.embedder.encode_query
    passages = Passages(args.data_dir)
    sets = {
        name: [q for q in load_questions(path) if q.article_id]
        for name, path in question_files(None, None).items()
    }
    systems = {
        f"Newsdesk hybrid ({settings.fusion})": lambda q: [
            h.article_id for h in searcher.search(q, K, SearchMode.HYBRID)
        ],
        "Newsdesk BM25 alone": lambda q: [
            h.article_id for h in searcher.search(q, K, SearchMode.BM25)
        ],
        "Newsdesk dense alone": lambda q: [
            h.article_id for h in searcher.search(q, K, SearchMode.DENSE)
        ],
        "txtai hybrid (convex, normalised BM25)": txtai_search(passages, encode, hybrid=True),
        "txtai BM25": txtai_search(passages, encode, hybrid=False),
        "LangChain-style EnsembleRetriever (RRF c=60, 50/50)": langchain_style(passages, encode),
    }
    print(
        f"{len(passages.ids)} passages; "
        + ", ".join(f"{n}: {len(q)} questions" for n, q in sets.items())
    )
    header = " | ".join(f"{n} R@1 | {n} R@5 | {n} MRR@10" for n in sets)
    print(f"| system | {header} | ms/question |")
    print("|---|" + "---|---|---|" * len(sets) + "---|")
    for label, search in systems.items():
        cells, elapsed, asked = [], 0.0, 0
        for questions in sets.values():
            t0 = time.perf_counter()
            ranked = [search(q.question) for q in questions]
            elapsed += time.perf_counter() - t0
            asked += len(questions)
            m = article_metrics(ranked, [q.article_id for q in questions])
            cells += [f"{m['R@1']:.1f}", f"{m['R@5']:.1f}", f"{m['MRR@10']:.3f}"]
        print(f"| {label} | " + " | ".join(cells) + f" | {1000 * elapsed / asked:.0f} |")
    searcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
