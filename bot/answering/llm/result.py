"""What the LLM contributed to one answer: its checked sentence, citations and any fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Citation:
    """A `[n]` in the LLM's answer: passage n of those it was sent (hit index n - 1)."""

    n: int
    hit_index: int
    article_id: str
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "article_id": self.article_id, "url": self.url}


@dataclass(slots=True)
class Generated:
    """The LLM's part of a reply. Exactly one of three outcomes:

    - an answer: `text` holds the sentence (with its valid `[n]` markers) and `citations` is not empty;
    - a refusal: `refused`, the passages do not answer the question (`text` is None);
    - a fallback: `fallback` says in a few words why the reader's answer is shown instead.
    """

    model: str
    text: str | None = None
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    fallback: str | None = None
    dropped: list[int] = field(default_factory=list)  # [n] cited but never sent: removed
    reader_agrees: bool | None = None  # None when there is nothing to compare
    passages: int = 0  # how many passages were sent
    condensed: str | None = None  # the LLM's standalone form of a follow-up, when it made one

    @property
    def answered(self) -> bool:
        return self.text is not None and bool(self.citations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.as_dict() for c in self.citations],
            "model": self.model,
            "fallback": self.fallback,
            "refused": self.refused,
            "dropped_citations": list(self.dropped),
            "reader_agrees": self.reader_agrees,
            "passages": self.passages,
        }


def fallback_line(reason: str) -> str:
    """The one line a reply carries when the LLM could not answer."""
    return f"LLM answer unavailable ({reason}); this is the extractive reader's answer."
