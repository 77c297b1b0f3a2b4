"""Referring expressions: "The kingdom hosts ..." -> "Jordan", named in the sentence before.

A reader trained on SQuAD answers "who hosts 650,000 refugees?" with the span it reads the answer
in: "kingdom". `resolve` maps such a span (a pronoun, or a definite description such as "the
kingdom", "the company") to the name it refers back to in one of the two sentences before it, the
first name there whose type fits the description. Rules, no model: it only fires on those words.
"""

from __future__ import annotations

from dataclasses import dataclass

from .candidates import extract, tokenize_passage
from .qtype import NAMES

PRONOUNS = {
    "it": {"PLACE": 0.8, "ORG": 0.8, "ENTITY": 0.8},
    "he": {"PERSON": 1.0},
    "she": {"PERSON": 1.0},
    "they": {"ORG": 0.8, "NORP": 0.8, "PERSON": 0.6, "ENTITY": 0.6},
}
DESCRIPTIONS = {
    **dict.fromkeys(
        "kingdom country nation state republic city capital island region province town "
        "emirate territory".split(),
        {"PLACE": 1.0},
    ),
    **dict.fromkeys(
        "company firm group organization organisation agency team club party bank ministry "
        "government band network carrier airline retailer manufacturer insurer bloc alliance".split(),
        {"ORG": 1.0},
    ),
    **dict.fromkeys(
        "man woman president minister leader official player singer actor general chief "
        "senator governor premier prince king queen lawmaker".split(),
        {"PERSON": 1.0},
    ),
}

_DETERMINERS = ("the ", "this ", "that ")


@dataclass(frozen=True, slots=True)
class Referent:
    """The name a mention refers to: `text[start:end]`, named in the sentence at `sentence_start`."""

    start: int
    end: int
    sentence_start: int


def implied_types(mention: str) -> dict[str, float] | None:
    """The answer types a pronoun or a description implies ("the kingdom" -> place), else None."""
    words = mention.strip().casefold()
    if words in PRONOUNS:
        return PRONOUNS[words]
    for det in _DETERMINERS:
        if words.startswith(det):
            words = words[len(det) :]
            break
    return DESCRIPTIONS.get(words)


def resolve(text: str, start: int, end: int) -> Referent | None:
    """The name that `text[start:end]` refers back to, or None when it is not a reference."""
    implied = implied_types(text[start:end])
    if implied is None:
        return None
    tokens, sentences = tokenize_passage(text)
    here = next((i for i, (s, e) in enumerate(sentences) if s <= start < e), None)
    if not here:
        return None
    candidates = extract(text, tokens)
    for back in (here - 1, here - 2):
        if back < 0:
            break
        for cand in candidates:
            if cand.sentence != back or not any(cand.types.get(k, 0) >= 0.5 for k in NAMES):
                continue
            fit = max((implied.get(k, 0) * w for k, w in cand.types.items()), default=0.0)
            if fit >= 0.4:
                return Referent(cand.start, cand.end, sentences[back][0])
    return None
