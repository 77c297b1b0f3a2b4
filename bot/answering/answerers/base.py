"""The answerer interface every answer-extraction method implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from index.models import Hit


@dataclass(frozen=True, slots=True)
class Span:
    """An answer found in one passage. Offsets are into that article's body text."""

    text: str
    hit_index: int  # index into the hits the answerer was given
    start: int  # article-body offset of the answer: article.text[start:end] == text
    end: int
    confidence: float  # calibrated probability that the answer is right, in [0, 1]
    evidence_start: int  # article-body offsets of the sentence that supports the answer
    evidence_end: int


class Answerer(Protocol):
    """Extracts the best answer span from ranked passages, or None when nothing fits."""

    name: str

    def answer(self, question: str, hits: Sequence[Hit]) -> Span | None: ...
