"""BM25 variants side by side on the EVALUATION.md index: `python -m benchmarks.lexical`.

Newsdesk's BM25 and txtai's differ in four ways at once: the tokenizer (ours folds plurals, keeps
numbers and drops ~130 stopwords including question words; txtai's keeps Lucene's 33 stopwords out
and drops every token without a letter), the text (ours indexes headline + passage, the baseline
script gave txtai the passage), the idf (rank-bm25's Okapi idf, floored at a share of the mean, vs
Lucene's log(1 + ...)), and k1 (1.5 vs 1.2). This script scores every combination with one small
BM25 of its own over the index's chunks, so each difference is measured on its own. A hit is a
passage of the question's article; R@1, R@5 and MRR@10 per dev set.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.baselines import article_metrics  # noqa: E402
from benchmarks.eval_all import WORK, question_files  # noqa: E402
from bot.evaluation.runner import load_questions  # noqa: E402
from index.tokenize import tokenize  # noqa: E402

K = 10
LUCENE_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)


def txtai_like(text: str) -> list[str]:
    """txtai's default scoring tokenizer, re-written: lower-case, whitespace split, punctuation
    stripped, tokens of 2+ characters with a letter, Lucene's stopwords out."""
    import re
    import string

    keep = re.compile(r"^\d*[a-zA-Z][\-.0-9:_a-zA-Z]{1,}$")
    tokens = (t.strip(string.punctuation) for t in text.lower().split())
    return [t for t in tokens if keep.match(t) and t not in LUCENE_STOPWORDS]


class Bm25:
    """Plain BM25 over token lists, with a choice of idf."""

    def __init__(self, docs: list[list[str]], k1: float, b: float, idf: str) -> None:
        self.k1, self.b = k1, b
        self.lengths = np.array([len(d) for d in docs], dtype=np.float64)
        self.avgdl = float(self.lengths.mean())
        postings: dict[str, list[tuple[int, int]]] = {}
        for row, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((row, tf))
        self.postings = {
            t: (np.array([r for r, _ in p]), np.array([f for _, f in p], dtype=np.float64))
            for t, p in postings.items()
        }
        n = len(docs)
        if idf == "lucene":
            self.idf = {
                t: math.log(1 + (n - len(p[0]) + 0.5) / (len(p[0]) + 0.5))
                for t, p in self.postings.items()
            }
        else:  # rank-bm25's Okapi: log((n - df + .5) / (df + .5)), negatives -> 0.25 x mean
            raw = {
                t: math.log((n - len(p[0]) + 0.5) / (len(p[0]) + 0.5))
                for t, p in self.postings.items()
            }
            floor = 0.25 * (sum(raw.values()) / len(raw))
            self.idf = {t: (v if v >= 0 else floor) for t, v in raw.items()}
        self.n = n

    def search(self, terms: list[str], k: int) -> list[int]:
        scores = np.zeros(self.n)
        for term in terms:
            if term not in self.postings:
                continue
            rows, tfs = self.postings[term]
            norm = self.k1 * (1 - self.b + self.b * self.lengths[rows] / self.avgdl)
            scores[rows] += self.idf[term] * tfs * (self.k1 + 1) / (tfs + norm)
        top = np.argsort(-scores, kind="stable")[:k]
        return [int(r) for r in top if scores[r] > 0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=WORK / "data")
    args = parser.parse_args(argv)
    from index.store.database import Store

    store = Store.for_reading(args.data_dir)
    owners, titles, texts = [], [], []
    for chunks, _ in store.iter_chunks():
        owners += [c.article_id for c in chunks]
        titles += [c.title or "" for c in chunks]
        texts += [c.text for c in chunks]
    store.close()
    sets = {
        name: [q for q in load_questions(path) if q.article_id]
        for name, path in question_files(None, None).items()
    }
    tokenizers: dict[str, Callable[[str], list[str]]] = {"ours": tokenize, "txtai": txtai_like}
    header = " | ".join(f"{n} R@1 | {n} R@5 | {n} MRR" for n in sets)
    print(f"{len(texts)} passages")
    print(f"| tokenizer | text | idf | k1 | b | {header} |")
    print("|---|---|---|---|---|" + "---|---|---|" * len(sets))
    for tok_name, text_kind in itertools.product(tokenizers, ("headline+passage", "passage")):
        tok = tokenizers[tok_name]
        docs = [
            tok(f"{h}\n{t}" if text_kind != "passage" and h else t)
            for h, t in zip(titles, texts, strict=True)
        ]
        for idf, k1, b in itertools.product(("okapi", "lucene"), (0.9, 1.2, 1.5), (0.4, 0.75)):
            bm25 = Bm25(docs, k1, b, idf)
            cells = []
            for questions in sets.values():
                ranked = [[owners[r] for r in bm25.search(tok(q.question), K)] for q in questions]
                m = article_metrics(ranked, [q.article_id for q in questions])
                cells += [f"{m['R@1']:.1f}", f"{m['R@5']:.1f}", f"{m['MRR@10']:.3f}"]
            print(f"| {tok_name} | {text_kind} | {idf} | {k1} | {b} | " + " | ".join(cells) + " |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
