"""Holding an LLM's reply to the passages it was sent: citations, refusals, agreement.

- every `[n]` (also `[1, 3]` and `[2][3]`) must name a passage that was sent; other numbers are
  removed from the text and reported as dropped;
- a reply that is the refusal phrase (whatever its case and punctuation) is a refusal;
- a reply left with no valid citation is not an answer (the caller falls back to the reader).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.answering.llm.prompt import REFUSAL_PHRASE
from bot.answering.llm.result import Citation
from index.models import Hit
from index.tokenize import tokenize

_CITE = re.compile(r"\s*\[(\s*\d{1,4}(?:\s*[,;]\s*\d{1,4})*\s*)\]")
_WORDS = re.compile(r"[^\w]+")


@dataclass(slots=True)
class Checked:
    text: str | None  # the reply with only valid citations left (None for a refusal or nothing)
    citations: list[Citation] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    refused: bool = False


def _plain(text: str) -> str:
    return _WORDS.sub(" ", _CITE.sub(" ", text)).strip().casefold()


def is_refusal(text: str) -> bool:
    """The reply is the fixed "not in the articles" phrase (it may open a longer reply)."""
    return _plain(text).startswith(_plain(REFUSAL_PHRASE))


def check_reply(reply: str, hits: Sequence[Hit]) -> Checked:
    """`reply` held to `hits` (the passages sent, numbered from 1)."""
    reply = " ".join(reply.split())
    if not reply:
        return Checked(None)
    if is_refusal(reply):
        return Checked(None, refused=True)
    citations: dict[int, Citation] = {}
    dropped: list[int] = []

    def keep_valid(match: re.Match) -> str:
        numbers = [int(part) for part in re.split(r"[,;]", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= len(hits)]
        dropped.extend(n for n in numbers if n not in valid and n not in dropped)
        for n in valid:
            hit = hits[n - 1]
            citations.setdefault(n, Citation(n, n - 1, hit.article_id, hit.url))
        lead = " " if match.group(0)[:1].isspace() else ""
        return "".join(f"{lead if i == 0 else ''}[{n}]" for i, n in enumerate(valid))

    text = _CITE.sub(keep_valid, reply)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text).strip()
    return Checked(text or None, list(citations.values()), dropped)


def agrees(reader_answer: str, generated: str) -> bool:
    """Whether the LLM's sentence contains the reader's short answer: every search term of it
    (`650,000` = `650000`, case folded), or its whole text when it has no terms."""
    terms = set(tokenize(reader_answer))
    if not terms:
        return _plain(reader_answer) in _plain(generated)
    return terms <= set(tokenize(_CITE.sub(" ", generated)))
