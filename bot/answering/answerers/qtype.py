"""Question analysis: what kind of answer a question expects, and which of its words matter.

The answer types are coarse and shared with `candidates`:
PERSON, ORG, PLACE, NORP (nationality, religious or political group), ENTITY (a name of unknown
kind), DATE, NUMBER, MONEY, PERCENT, QUANTITY (a number with its unit), DURATION and NP (any other
noun phrase).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.tokenize import tokenize

NAMES = ("PERSON", "ORG", "PLACE", "NORP", "ENTITY")

# The answer types a question word or a head noun asks for, best fit first, with how well each fits.
WHO = {"PERSON": 1.0, "ORG": 0.8, "PLACE": 0.7, "ENTITY": 0.7, "NORP": 0.4, "NP": 0.2}
WHERE = {"PLACE": 1.0, "ORG": 0.6, "ENTITY": 0.6, "NP": 0.2}
WHEN = {"DATE": 1.0, "DURATION": 0.3}
HOW_MANY = {"NUMBER": 1.0, "QUANTITY": 0.8, "PERCENT": 0.5, "MONEY": 0.5}
HOW_MUCH = {"MONEY": 1.0, "QUANTITY": 0.9, "NUMBER": 0.8, "PERCENT": 0.8}
PERCENTAGE = {"PERCENT": 1.0, "NUMBER": 0.6}
HOW_LONG = {"DURATION": 1.0, "QUANTITY": 0.7, "DATE": 0.3, "NUMBER": 0.3}
HOW_MEASURE = {"QUANTITY": 1.0, "NUMBER": 0.7, "PERCENT": 0.3}
WHAT = {"NP": 0.7, "ENTITY": 0.7, "ORG": 0.6, "PERSON": 0.5, "PLACE": 0.5, "NORP": 0.5,
        "NUMBER": 0.2, "DATE": 0.2, "MONEY": 0.2, "QUANTITY": 0.2}  # fmt: skip
DESCRIPTION = {"NP": 0.5, "ENTITY": 0.3, "ORG": 0.3, "PERSON": 0.3, "PLACE": 0.3, "NORP": 0.3}

HEAD_NOUNS: dict[str, dict[str, float]] = {}
for _words, _types in (
    (
        "person man woman men women people leader president king queen player author writer "
        "singer actor actress scientist politician officer chief minister director chairman ceo "
        "founder inventor composer artist coach commander general senator governor spokesman "
        "spokeswoman judge mayor emperor pope member members",
        {"PERSON": 1.0, "ORG": 0.5, "NORP": 0.5, "ENTITY": 0.5},
    ),
    (
        "company companies organization organisation team group party agency university school "
        "college club band newspaper network firm bank business institution body court "
        "committee network channel station",
        {"ORG": 1.0, "ENTITY": 0.7, "PERSON": 0.3, "NP": 0.3},
    ),
    (
        "country countries nation city cities state states town region place continent island "
        "river kingdom capital location area province county village mountain sea ocean lake "
        "border neighborhood district",
        {"PLACE": 1.0, "ENTITY": 0.6, "ORG": 0.3, "NP": 0.2},
    ),
    (
        "year years month day date decade century time period era season week",
        {"DATE": 1.0, "DURATION": 0.3, "NUMBER": 0.2},
    ),
    ("percentage percent proportion share rate", PERCENTAGE),
    (
        "number amount total price cost population age score size count sum",
        {"NUMBER": 1.0, "MONEY": 0.8, "QUANTITY": 0.8, "PERCENT": 0.5},
    ),
    ("nationality religion ethnicity", {"NORP": 1.0, "ENTITY": 0.5, "NP": 0.3}),
    ("language", {"NORP": 0.8, "ENTITY": 0.8, "NP": 0.3}),
):
    for _word in _words.split():
        HEAD_NOUNS[_word] = _types

_MEASURES = {"far", "tall", "big", "large", "high", "wide", "deep", "heavy", "fast", "long"}
_LATEST = re.compile(
    r"\b(latest|most recent(ly)?|newest|current(ly)?|now|nowadays|today|these days|"
    r"so far|to date|as of|up to date|still)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+")
# Words that only frame the question; matching them in a passage says nothing about the answer.
FRAME_WORDS = frozenset(
    "name named called call known type kind sort happen happened happens happening according "
    "article say said says tell told mention mentioned".split()
)


@dataclass(frozen=True, slots=True)
class QuestionInfo:
    """What a question asks for."""

    question: str
    wh: str  # who, where, when, what, which, how many, how much, how long, how, why, yesno, other
    types: dict[str, float]  # answer type -> how well it fits, 1.0 best
    terms: tuple[str, ...]  # the question's content terms (BM25 tokens: folded, light-stemmed)
    head: str | None  # the noun after what/which ("which country" -> "country"), if any
    latest: bool  # asks for the latest / current figure

    def fit(self, kind: str) -> float:
        return self.types.get(kind, 0.0)


def asks_latest(question: str) -> bool:
    """True when the question asks for the latest, most recent or current figure."""
    return bool(_LATEST.search(question))


def _head_noun(words: list[str], start: int) -> str | None:
    """The first noun-like word after `what`/`which` that names a type ("which country")."""
    for word in words[start : start + 4]:
        if word in HEAD_NOUNS:
            return word
        if word in {"is", "was", "are", "were", "did", "does", "do", "has", "had", "have"}:
            return None
    return None


def classify(question: str) -> QuestionInfo:
    """The question word, the expected answer types and the content terms of `question`."""
    words = [w.casefold() for w in _WORD.findall(question)]
    wh, types, head = "other", dict(DESCRIPTION), None
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word in ("who", "whom", "whose"):
            wh, types = "who", dict(WHO)
        elif word == "where":
            wh, types = "where", dict(WHERE)
        elif word == "when":
            wh, types = "when", dict(WHEN)
        elif word == "how" and nxt == "many":
            wh, types = "how many", dict(HOW_MANY)
        elif word == "how" and nxt == "much":
            wh, types = "how much", dict(HOW_MUCH)
        elif word == "how" and nxt in ("long", "old"):
            wh, types = "how long", dict(HOW_LONG if nxt == "long" else HOW_MANY)
        elif word == "how" and nxt in _MEASURES:
            wh, types = "how", dict(HOW_MEASURE)
        elif word == "how":
            wh, types = "how", dict(DESCRIPTION)
        elif word == "why":
            wh, types = "why", dict(DESCRIPTION)
        elif word in ("what", "which"):
            wh = word
            head = _head_noun(words, i + 1)
            types = dict(HEAD_NOUNS[head]) if head else dict(WHAT)
        else:
            continue
        break
    else:
        if words and words[0] in {"is", "are", "was", "were", "do", "does", "did", "can", "will"}:
            wh = "yesno"
    terms = tuple(t for t in tokenize(question) if t not in FRAME_WORDS)
    return QuestionInfo(question, wh, types, terms, head, asks_latest(question))
