"""Terminal replies when an LLM is configured: its cited sentence first, the reader's beside it.

- an answer: the LLM's sentence in bold, then the reader's short answer (or that it disagrees, or
  found none) with the sentence it was read in, then the passages with the cited ones marked;
- a refusal: Newsdesk's "couldn't find that", with the reader's suggestion when it had one;
- a fallback: the reader's reply as without an LLM, and one line saying why.
"""

from __future__ import annotations

from bot.answering.answer import NOT_FOUND, Answer
from bot.answering.llm.result import fallback_line
from bot.cli.render import Style, evidence_lines, format_reader_answer, read_as_and_sources


def reader_line(answer: Answer) -> str | None:
    """How the extractive reader's short answer stands beside the LLM's result."""
    generated = answer.generated
    assert generated is not None
    if generated.refused:
        if answer.text is None:
            return None
        return f"The extractive reader suggests “{answer.text}”, but the LLM found no answer in the passages."
    if answer.text is None:
        return "The extractive reader found no confident short answer."
    if generated.reader_agrees is False:
        return f"The extractive reader disagrees: “{answer.text}”."
    return f"Extractive reader: {answer.text}"


def format_llm_answer(answer: Answer, style: Style, *, width: int = 100, passages: int = 3) -> str:
    generated = answer.generated
    assert generated is not None
    if generated.fallback is not None:
        text = format_reader_answer(answer, style, width=width, passages=passages)
        return style.dim(fallback_line(generated.fallback)) + "\n" + text
    lines = [style.bold(generated.text if generated.answered else NOT_FOUND)]  # type: ignore[arg-type]
    said = reader_line(answer)
    if said:
        lines.append("  " + said)
        lines += evidence_lines(answer, style, width)
    if generated.dropped:
        dropped = ", ".join(f"[{n}]" for n in generated.dropped)
        lines.append(style.dim(f"(removed citations of passages the LLM was not given: {dropped})"))
    if not generated.answered and answer.sources:
        lines.append("The closest passages:")
    cited = frozenset(c.n for c in generated.citations)
    shown = max([passages, *cited])
    lines += read_as_and_sources(answer, style, width=width, passages=shown, cited=cited)
    return "\n".join(lines)
