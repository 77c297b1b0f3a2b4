"""The reply to a question at the command line: the LLM's checked sentence leading when an LLM
wrote one (render_llm), else the reader's short answer, its sentence and the sources (render)."""

from __future__ import annotations

from bot.answering.answer import Answer
from bot.cli.render import Style, format_reader_answer
from bot.cli.render_llm import format_llm_answer


def format_answer(answer: Answer, style: Style, *, width: int = 100, passages: int = 3) -> str:
    if answer.generated is not None:
        return format_llm_answer(answer, style, width=width, passages=passages)
    return format_reader_answer(answer, style, width=width, passages=passages)
