"""What `newsdesk eval` reports about LLM answers: citations, refusals, fallbacks, agreement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def llm_summary(rows: Sequence[Any]) -> dict[str, Any] | None:
    """Shares over the questions the LLM was asked (rows with `.generated`); None when none was.

    `cited`: answered with at least one valid citation; `refused`: said the passages do not answer;
    `fallback`: no usable reply (the reader's answer stood), with the reasons counted;
    `cited_answerable` / `refused_unanswerable`: the same over answerable / unanswerable questions.
    """
    asked = [r for r in rows if getattr(r, "generated", None) is not None]
    if not asked:
        return None

    def share(items: Sequence[Any], test) -> float | None:
        return sum(1 for r in items if test(r.generated)) / len(items) if items else None

    answerable = [r for r in asked if r.answerable]
    unanswerable = [r for r in asked if not r.answerable]
    compared = [r for r in asked if r.generated.reader_agrees is not None]
    reasons = Counter(r.generated.fallback for r in asked if r.generated.fallback is not None)
    return {
        "asked": len(asked),
        "model": asked[0].generated.model,
        "cited": share(asked, lambda g: g.answered),
        "refused": share(asked, lambda g: g.refused),
        "fallback": share(asked, lambda g: g.fallback is not None),
        "cited_answerable": share(answerable, lambda g: g.answered),
        "refused_unanswerable": share(unanswerable, lambda g: g.refused),
        "dropped_citations": sum(len(r.generated.dropped) for r in asked),
        "agrees_with_reader": share(compared, lambda g: bool(g.reader_agrees)),
        "fallback_reasons": dict(reasons.most_common()),
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:5.1f}%"


def llm_lines(llm: dict[str, Any] | None) -> list[str]:
    """The LLM part of the readable report (nothing without an LLM)."""
    if not llm:
        return []
    lines = [
        f"LLM ({llm['model']}, {llm['asked']} asked)",
        f"  cited answers      {_pct(llm['cited'])}  (of answerable {_pct(llm['cited_answerable'])})",
        f"  refusals           {_pct(llm['refused'])}"
        f"  (of unanswerable {_pct(llm['refused_unanswerable'])})",
        f"  fell back          {_pct(llm['fallback'])}",
        f"  dropped citations  {llm['dropped_citations']:>6}",
        f"  agrees with reader {_pct(llm['agrees_with_reader'])}",
    ]
    for reason, count in list(llm["fallback_reasons"].items())[:3]:
        lines.append(f"    {count} × {reason}")
    return lines
