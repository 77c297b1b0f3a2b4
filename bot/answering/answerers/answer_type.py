"""How well a reader's span fits the answer type the question asks for, in [0, 1].

"who" asks for a person or an organisation, "when" for a date, "how many" for a number, "where"
for a place, "which country" for a place (`qtype.classify`). The reader was trained without
types, so it sometimes answers "who hosts refugees?" with a whole clause, or "who is its army
chief?" with a description ("Syria's defense minister"). `TypeFit` types a span by the typed
candidate of `candidates.extract` that overlaps it best and scores
`overlap x max over types (question's weight x candidate's weight)`: a span that is exactly a
name scores the name's fit, a clause around a name only part of it.

It is a soft feature: the reader's calibration weighs it (`Candidate.confidence`). A question that
asks for no particular type (what, why, how, yes/no) fits every span (1.0), so the feature then
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .candidates import Candidate as Typed
from .candidates import extract, tokenize_passage
from .qtype import QuestionInfo, classify

TYPED_WH = frozenset({"who", "where", "when", "how many", "how much", "how long", "how"})
# "how" alone is typed only when classify found a measure ("how far", "how tall")
UNTYPED_HOW = "NP"


def asks_a_type(info: QuestionInfo) -> bool:
    """True when the question expects a particular kind of answer (a person, a date, a number)."""
    if info.wh in ("what", "which"):
        return info.head is not None
    if info.wh == "how":
        return UNTYPED_HOW not in info.types
    return info.wh in TYPED_WH


@dataclass(slots=True)
class TypeFit:
    """The type fit of spans of one question over its contexts (typed candidates cached)."""

    info: QuestionInfo
    _typed: dict[str, list[Typed]] = field(default_factory=dict)

    @classmethod
    def of(cls, question: str) -> TypeFit:
        return cls(classify(question))

    @property
    def typed(self) -> bool:
        return asks_a_type(self.info)

    def fit(self, text: str, start: int, end: int) -> float:
        """How well `text[start:end]` fits the question's answer type: 1.0 when the question asks
        for no type; else the best overlap-weighted type fit of a candidate it overlaps."""
        if not self.typed:
            return 1.0
        best = 0.0
        for cand in self._candidates(text):
            if cand.end <= start or end <= cand.start:
                continue
            overlap = min(end, cand.end) - max(start, cand.start)
            jaccard = overlap / (max(end, cand.end) - min(start, cand.start))
            kind_fit = max((self.info.fit(k) * w for k, w in cand.types.items()), default=0.0)
            best = max(best, jaccard * kind_fit)
        return round(best, 4)

    def _candidates(self, text: str) -> list[Typed]:
        found = self._typed.get(text)
        if found is None:
            tokens, _ = tokenize_passage(text)
            found = self._typed[text] = extract(text, tokens)
        return found
