"""One reading of the trained reader: a candidate answer, the features its confidence is fitted
on, and the name a reference in it stands for ("The kingdom" -> "Jordan", named just before)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.chunking import split_sentences
from index.tokenize import tokenize

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
    name_before: int = 0  # for a name in the article before the context: how far before it starts
    sentence_before: int = 0  # and how far before the context the sentence naming it starts
    cover: float = 1.0  # the share of the question's terms in the sentence it was read in

    @property
    def features(self) -> tuple[float, float, float, float, float]:
        """(margin, log_p, log article rank, type fit, question cover): what the calibration's
        weights multiply."""
        return self.margin, self.log_p, math.log(self.rank), self.fit, self.cover

    def confidence(self, calibration: Sequence[float]) -> float:
        """sigmoid(a * margin + b + c * log_p + d * log rank + e * fit + f * cover); missing
        weights are 0."""
        a, b, c, d, e, f = (*calibration, 0.0, 0.0, 0.0, 0.0)[:6]
        margin, log_p, log_rank, fit, cover = self.features
        z = a * margin + b + c * log_p + d * log_rank + e * fit + f * cover
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def answer(self, context: str) -> str:
        """The answer text, given the context it was read in."""
        return self.text if self.text is not None else context[self.start : self.end]

    @property
    def mention(self) -> tuple[int, int]:
        """Where in its context the reader read it."""
        if self.read_start >= 0:
            return self.read_start, self.read_end
        return self.start, self.end


def question_terms(question: str) -> frozenset[str]:
    """The question's content words, as BM25 sees them (case-folded, no stopwords)."""
    return frozenset(tokenize(question))


def cover(terms: frozenset[str], context: str, start: int) -> float:
    """The share of `terms` found in the sentence of `context` at `start` (1.0 without terms):
    an answer read where the question's own words are is more often the answer; a span in a
    sentence that shares none of them is what a passage that does not say it offers."""
    if not terms:
        return 1.0
    sentence = next((context[a:b] for a, b in split_sentences(context) if a <= start < b), context)
    return len(terms & set(tokenize(sentence))) / len(terms)


def resolved(
    found: Candidate,
    contexts: Sequence[str],
    befores: Sequence[str] | None,
    typer: TypeFit,
    terms: frozenset[str] = frozenset(),
) -> Candidate:
    """The candidate with a reference resolved to the name it stands for (in its context, or in
    the article before it), its answer-type fit (that of the name, when resolved) and how much of
    the question the sentence it was read in covers."""
    context = contexts[found.hit_index]
    start, end = found.start, found.end
    found = replace(found, cover=cover(terms, context, start))
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
        name_start, name_end, sentence_start = named
        return replace(
            found,
            text=before[name_start:name_end],
            fit=typer.fit(before, name_start, name_end),
            name_before=len(before) - name_start,
            sentence_before=len(before) - sentence_start,
        )
    return replace(found, fit=typer.fit(context, start, end))


def _named_before(before: str, text: str, start: int, end: int) -> tuple[int, int, int] | None:
    """Where in `before`, the article text just before a passage, the name that a reference at
    the start of the passage ("The kingdom hosts ...") points back to is (start, end, and the start
    of the sentence naming it), or None."""
    if not before or implied_types(text[start:end]) is None:
        return None
    shift = len(before)
    referent = resolve(before + text, start + shift, end + shift)
    if referent is None or referent.end > shift:
        return None
    return referent.start, referent.end, referent.sentence_start
