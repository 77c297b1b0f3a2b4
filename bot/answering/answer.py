"""The Answer a front end formats: short answer, evidence, sources and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.answering.llm.result import Generated
from index.models import Hit

NOT_FOUND = "I couldn't find that in the indexed articles."


def unclear_reference(word: str) -> str:
    """The reply to a question whose "its"/"their"/... refers to nothing said before."""
    return f"Who or what does “{word}” refer to? Ask again with the name in the question."


@dataclass
class Answer:
    """One reply. `text` is None when no answer was confident enough (the sources still come)."""

    question: str
    rewritten_query: str
    text: str | None
    confidence: float
    sources: list[Hit]
    source_index: int | None = None  # which source holds the answer
    answer_start: int | None = None  # offsets into that source's article body
    answer_end: int | None = None
    evidence_start: int | None = None
    evidence_end: int | None = None
    as_of: str | None = None  # publication date when the question asked for the latest figure
    note: str | None = None  # instead of an answer: what the question needs to be answerable
    answerer: str | None = None
    filter: dict[str, Any] | None = None  # the filter applied (Filter.as_dict), when one was
    filter_articles: int | None = None  # how many articles it lets through
    assumed: str | None = None  # what the question's dates were taken to mean
    dated_text: str | None = None  # `text` with its relative date made absolute
    resolved_date: str | None = None  # that date (ISO day, month or year)
    generated: Generated | None = None  # the LLM's checked sentence, when an LLM is configured
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.text is not None

    @property
    def source(self) -> Hit | None:
        return self.sources[self.source_index] if self.source_index is not None else None

    @property
    def evidence(self) -> str | None:
        """The sentence that supports the answer (with the one before the passage that names what
        it refers to, "Jordan ... The kingdom hosts ...", when that is where the answer is)."""
        hit = self.source
        if hit is None or self.evidence_start is None or self.evidence_end is None:
            return None
        base = hit.start - len(hit.before)  # hit.before is the article just before the passage
        if not base <= self.evidence_start <= self.evidence_end:
            return None
        return (hit.before + hit.text)[self.evidence_start - base : self.evidence_end - base]

    def as_dict(self) -> dict[str, Any]:
        data = self._as_dict()
        if self.generated is not None:
            data["generated"] = self.generated.as_dict()
        return data

    def _as_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "rewritten_query": self.rewritten_query,
            "answer": self.text,
            "confidence": round(self.confidence, 4),
            "answer_start": self.answer_start,
            "answer_end": self.answer_end,
            "evidence": self.evidence,
            "as_of": self.as_of,
            "note": self.note,
            "answerer": self.answerer,
            "answer_dated": self.dated_text,
            "resolved_date": self.resolved_date,
            "filter": self.filter,
            "filter_articles": self.filter_articles,
            "assumed": self.assumed,
            "sources": [
                {
                    "article_id": h.article_id,
                    "chunk_id": h.chunk_id,
                    "title": h.title,
                    "published": h.published,
                    "url": h.url,
                    "source": h.source,
                    "text": h.text,
                    "start": h.start,
                    "end": h.end,
                    "score": round(h.score, 6),
                }
                for h in self.sources
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
