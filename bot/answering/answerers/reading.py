"""One reading of the trained reader: a candidate answer, the features its confidence is fitted
on, and the name a reference in it stands for ("The kingdom" -> "Jordan", named just before)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .answer_type import TypeFit
from .coref import implied_types, resolve


@dataclass(frozen=True, slots=True)
class Candidate:
    """One answer the reader found: where it is and the raw features its confidence is fitted on.

    `start:end` is the answer in context `hit_index`; for a reference resolved to a name in the
    same context ("The kingdom" -> "Jordan") that is the name, and `read_start:read_end` is the
    mention the reader chose. For a name found in the article before the passage, `text` holds it
    and `start:end` stays on the mention."""

    hit_index: int  # which of the contexts it is in
    start: int
    end: int
    margin: float  # span score - the window's "no answer" score (log-sum-exp over its readings)
    log_p: float  # the span's log-probability among the window's spans (idem, at most 0)
    rank: int = 1  # its article's place among the retrieved articles (1 = the best)
    fit: float = 1.0  # how well it fits the question's answer type (answer_type.py), in [0, 1]
    votes: int = 1  # how many readings (spans, windows, passages) it stands for
    text: str | None = None  # the answer, when it is not the context's text at start:end
    read_start: int = -1  # the mention the reader read, when start:end moved to its referent
    read_end: int = -1
    referent_sentence: int = -1  # where the sentence naming the referent starts (in the context)

    @property
    def features(self) -> tuple[float, float, float, float]:
        """(margin, log_p, log article rank, type fit): what the calibration's weights multiply."""
        return self.margin, self.log_p, math.log(self.rank), self.fit

    def confidence(self, calibration: Sequence[float]) -> float:
        """sigmoid(a * margin + b + c * log_p + d * log rank + e * fit); missing weights are 0."""
        a, b, c, d, e = (*calibration, 0.0, 0.0, 0.0)[:5]
        margin, log_p, log_rank, fit = self.features
        z = max(-30.0, min(30.0, a * margin + b + c * log_p + d * log_rank + e * fit))
        return 1.0 / (1.0 + math.exp(-z))

    def answer(self, context: str) -> str:
        """The answer text, given the context it was read in."""
        return self.text if self.text is not None else context[self.start : self.end]

    @property
    def mention(self) -> tuple[int, int]:
        """Where in its context the reader read it."""
        if self.read_start >= 0:
            return self.read_start, self.read_end
        return self.start, self.end


def resolved(
    found: Candidate, contexts: Sequence[str], befores: Sequence[str] | None, typer: TypeFit
) -> Candidate:
    """The candidate with a reference resolved to the name it stands for (in its context, or in
    the article before it) and its answer-type fit (that of the name, when resolved)."""
    context = contexts[found.hit_index]
    start, end = found.start, found.end
    referent = resolve(context, start, end)  # "the kingdom" -> "Jordan", named just before
    if referent is not None:
        return replace(
            found,
            start=referent.start,
            end=referent.end,
            read_start=start,
            read_end=end,
            referent_sentence=referent.sentence_start,
            fit=typer.fit(context, referent.start, referent.end),
        )
    before = befores[found.hit_index] if befores is not None else ""
    named = _named_before(before, context, start, end)
    if named is not None:  # named in the article before this passage: answer the name
        return replace(found, text=before[named[0] : named[1]], fit=typer.fit(before, *named))
    return replace(found, fit=typer.fit(context, start, end))


def _named_before(before: str, text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where in `before`, the article text just before a passage, the name that a reference at
    the start of the passage ("The kingdom hosts ...") points back to is, or None."""
    if not before or implied_types(text[start:end]) is None:
        return None
    shift = len(before)
    referent = resolve(before + text, start + shift, end + shift)
    if referent is None or referent.end > shift:
        return None
    return referent.start, referent.end
