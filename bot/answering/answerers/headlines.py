"""Headlines as evidence: a news headline often states the fact a question asks about.

"Argentina beat France on penalties to win the World Cup" answers "who won the World Cup?" more
directly than the body's "Lionel Messi finally lifted the World Cup on Sunday as Argentina beat
France 4-2 ...". The reader reads each retrieved article's headline as one more (short) context;
an answer read there is shown where the article's own passage says it, so the evidence a user
sees is always a sentence of the article. A headline answer no passage repeats is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.chunking import split_sentences
from index.models import Hit

_WORD = re.compile(r"[^\W\d_]{3,}")


def headline_sources(hits: Sequence[Hit]) -> list[int]:
    """For each distinct article among the hits with a headline, the index of its first hit."""
    seen: set[str] = set()
    first = []
    for index, hit in enumerate(hits):
        if hit.title.strip() and hit.article_id not in seen:
            seen.add(hit.article_id)
            first.append(index)
    return first


def place(answer: str, hits: Sequence[Hit], article_id: str) -> tuple[int, int, int] | None:
    """(hit index, start, end) of a whole-word occurrence of `answer` (any case) in the article's
    passages among the hits, or None where none says it. Of several, the one whose sentence shares
    the most words with the headline ("... as Argentina beat France 4-2 ..."), then the first."""
    words = answer.strip()
    if not words:
        return None
    pattern = re.compile(rf"(?<!\w){re.escape(words)}(?!\w)", re.IGNORECASE)
    best, best_overlap = None, -1
    for index, hit in enumerate(hits):
        if hit.article_id != article_id:
            continue
        headline = _words(hit.title)
        for found in pattern.finditer(hit.text):
            sentence = next(
                (hit.text[s:e] for s, e in split_sentences(hit.text) if s <= found.start() < e),
                hit.text,
            )
            overlap = len(headline & _words(sentence))
            if overlap > best_overlap:
                best, best_overlap = (index, found.start(), found.end()), overlap
    return best


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}
