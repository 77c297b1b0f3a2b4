"""The chat messages an LLM gets: numbered passages, the conversation so far, the question."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from index.models import Hit
from index.text import one_line

REFUSAL_PHRASE = "NOT IN THE ARTICLES"
MAX_PASSAGES = 5  # passages sent; each is at most ~128 model tokens
HISTORY_TURNS = 3

SYSTEM = f"""You answer questions about news articles using ONLY the numbered passages given.
Rules:
- Answer in one or two short sentences.
- After every claim, cite the passage it comes from as [n], for example [1] or [2][3].
- Use only facts stated in the passages; do not use outside knowledge.
- If the passages do not contain the answer, reply with exactly: {REFUSAL_PHRASE}"""


def passage_block(hits: Sequence[Hit]) -> str:
    """The passages as `[n] headline — outlet, date` then the text, one block each."""
    blocks = []
    for n, hit in enumerate(hits, 1):
        meta = ", ".join(one_line(p) for p in (hit.source, hit.published) if p)
        head = f"[{n}] {one_line(hit.title) or '(untitled)'}" + (f" — {meta}" if meta else "")
        blocks.append(f"{head}\n{one_line(hit.text)}")
    return "\n\n".join(blocks)


def answer_messages(
    question: str, query: str, hits: Sequence[Hit], history: Sequence[Any] = ()
) -> list[dict[str, str]]:
    """System rules, the last few turns (question, Newsdesk's short answer), then the passages and
    the question; `query` (the standalone rewrite) is added when it differs from the question."""
    messages = [{"role": "system", "content": SYSTEM}]
    for turn in list(history)[-HISTORY_TURNS:]:
        messages.append({"role": "user", "content": one_line(turn.question)})
        messages.append({"role": "assistant", "content": one_line(turn.answer or REFUSAL_PHRASE)})
    asked = one_line(question)
    if one_line(query).casefold() != asked.casefold():
        asked += f"\n(Standalone form of the question: {one_line(query)})"
    messages.append(
        {"role": "user", "content": f"Passages:\n\n{passage_block(hits)}\n\nQuestion: {asked}"}
    )
    return messages


CONDENSE_SYSTEM = """Rewrite the user's last question as one standalone question that can be
understood without the conversation: replace pronouns with the names they refer to. Reply with the
question only, nothing else."""


def condense_messages(question: str, history: Sequence[Any]) -> list[dict[str, str]]:
    """Messages asking for `question` rewritten as a standalone question."""
    lines = []
    for turn in list(history)[-HISTORY_TURNS:]:
        lines.append(f"User: {one_line(turn.query or turn.question)}")
        lines.append(f"Answer: {one_line(turn.answer or 'not found')}")
    lines.append(f"User: {one_line(question)}")
    return [
        {"role": "system", "content": CONDENSE_SYSTEM},
        {"role": "user", "content": "Conversation:\n" + "\n".join(lines)},
    ]
