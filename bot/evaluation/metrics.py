"""SQuAD answer metrics: normalisation, exact match and token F1, best over acceptable answers."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and English articles, collapse whitespace (the SQuAD recipe)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def best_em_f1(prediction: str, answers: Iterable[str]) -> tuple[float, float]:
    """(EM, F1) of `prediction` against the best-matching acceptable answer; (0, 0) if none."""
    answers = list(answers)
    if not answers:
        return 0.0, 0.0
    return (
        max(exact_match(prediction, a) for a in answers),
        max(token_f1(prediction, a) for a in answers),
    )
