"""SQuAD 2.0-style unanswerable examples built from answerable ones (SQuAD v1.1, TyDi).

Three kinds, each a question paired with text that does not answer it (target: [CLS]):

- `other_paragraph`: the question with another paragraph of the same article (same topic);
- `minus_sentence`: the question with its own paragraph, less the sentence holding the answer;
- `swapped`: the question with one year, number or name swapped for another of the same type
  from the same article that its paragraph never mentions ("who won in 2030?" against a passage
  about 2022), read against its own paragraph: a near miss the reader must refuse.

Every negative is checked: no gold answer string occurs in its context. Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict

KINDS = ("other_paragraph", "minus_sentence", "swapped")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)?\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|de\s+|von\s+)?[A-Z][a-z]+)*\b")
_QUESTION_WORDS = {"What", "Who", "When", "Where", "Which", "Why", "How", "In", "The", "On", "At"}


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character ranges of the sentences of `text`."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def answerless(context: str, answers: list[str]) -> bool:
    """True when none of the answer strings occurs in `context` (case and spacing ignored)."""
    body = _normal(context)
    return not any(_normal(a) and _normal(a) in body for a in answers)


def _negative(row: dict, kind: str, question: str, context: str) -> dict:
    return {
        "id": f"{row['id']}-neg-{kind}",
        "title": row.get("title", ""),
        "question": question,
        "context": context,
        "answers": {"text": [], "answer_start": []},
        "negative": kind,
    }


def other_paragraph(row: dict, siblings: list[str], rng: random.Random) -> dict | None:
    answers = row["answers"]["text"]
    options = [c for c in siblings if c != row["context"]]
    rng.shuffle(options)
    for context in options[:6]:
        if answerless(context, answers):
            return _negative(row, "other_paragraph", row["question"], context)
    return None


def minus_sentence(row: dict) -> dict | None:
    context, answers = row["context"], row["answers"]["text"]
    start = row["answers"]["answer_start"][0]
    end = start + len(answers[0])
    kept = [(s, e) for s, e in sentences(context) if e <= start or s >= end]
    if not kept:
        return None
    rest = " ".join(context[s:e].strip() for s, e in kept)
    if len(rest.split()) < 8 or not answerless(rest, answers):
        return None
    return _negative(row, "minus_sentence", row["question"], rest)


def _mentions(question: str) -> list[tuple[str, re.Pattern]]:
    """Years, numbers and names in the question that can be swapped, each with its type."""
    found = [(m.group(), _YEAR) for m in _YEAR.finditer(question)]
    years = {text for text, _ in found}
    found += [(m.group(), _NUMBER) for m in _NUMBER.finditer(question) if m.group() not in years]
    for m in _NAME.finditer(question):
        name = m.group()
        if m.start() == 0 and " " not in name or name in _QUESTION_WORDS:
            continue
        found.append((name, _NAME))
    return found


def mention_pools(article_text: str) -> dict[re.Pattern, set[str]]:
    """The years, numbers and names of an article, by type (a name is never a sentence's first
    capitalised word such as "However")."""
    names = set()
    for m in _NAME.finditer(article_text):
        before = article_text[max(0, m.start() - 3) : m.start()].rstrip()
        if before and before[-1] not in '.!?"“':
            names.add(m.group())
    return {
        _YEAR: {m.group() for m in _YEAR.finditer(article_text)},
        _NUMBER: {m.group() for m in _NUMBER.finditer(article_text)},
        _NAME: names,
    }


def swapped(row: dict, pools: dict[re.Pattern, set[str]], rng: random.Random) -> dict | None:
    question, context = row["question"], row["context"]
    mentions = [(t, p) for t, p in _mentions(question) if t in context]
    rng.shuffle(mentions)
    for mention, pattern in mentions:
        pool = sorted(p for p in pools[pattern] if p not in context and p not in question)
        if pattern is _NAME:  # swap a name for a name of about the same shape
            pool = [p for p in pool if len(p.split()) == len(mention.split())]
        if not pool:
            continue
        replacement = rng.choice(pool)
        new_question = re.sub(rf"\b{re.escape(mention)}\b", replacement, question, count=1)
        if new_question != question:  # the answer is still there, but for another referent
            return _negative(row, "swapped", new_question, context)
    return None


def build(rows: list[dict], share: float, seed: int) -> list[dict]:
    """Negatives for about `share` of all examples (positives + negatives), kinds in turn."""
    if share <= 0:
        return []
    rng = random.Random(seed)
    by_title: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        contexts = by_title[row.get("title", "")]
        if not contexts or contexts[-1] != row["context"] and row["context"] not in contexts:
            contexts.append(row["context"])
    pools = {title: mention_pools("\n".join(contexts)) for title, contexts in by_title.items()}
    wanted = round(len(rows) * share / (1 - share))
    order = list(range(len(rows)))
    rng.shuffle(order)
    made: list[dict] = []
    for turn, i in enumerate(order):
        if len(made) >= wanted:
            break
        row = rows[i]
        title = row.get("title", "")
        first = turn % len(KINDS)
        for kind in KINDS[first:] + KINDS[:first]:
            if kind == "other_paragraph":
                negative = other_paragraph(row, by_title[title], rng)
            elif kind == "minus_sentence":
                negative = minus_sentence(row)
            else:
                negative = swapped(row, pools[title], rng)
            if negative is not None:
                made.append(negative)
                break
    return made
