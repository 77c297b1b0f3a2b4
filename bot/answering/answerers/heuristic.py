"""The heuristic answerer: the fallback when no trained reader is shipped.

For a question and its ranked passages it
1. types the question (`qtype.classify`: who -> person/organisation/place, how many -> number ...);
2. ranks the passages' sentences by how much of the question's (locally IDF-weighted) terms they
   hold;
3. collects candidate spans (`candidates.extract`) from the best sentences, plus the antecedent of a
   sentence-initial pronoun or description ("The kingdom hosts ..." -> "Jordan" from the sentence
   before);
4. scores each candidate by type fit, closeness to the question's terms, the score of its sentence,
   the side of the question's verb it is on, and agreement across passages;
5. turns the best score and its margin over the runner-up into a calibrated confidence
   (`calibration`), so that the service can refuse below `settings.min_confidence`.

When the question asks for the latest / current figure, a near-best answer from a newer article wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from index.models import Hit

from .base import Span
from .calibration import confidence
from .candidates import Candidate, Token, extract, term_of, tokenize_passage
from .coref import DESCRIPTIONS, PRONOUNS
from .qtype import NAMES, QuestionInfo, classify
from .recency import parse_date

DISTANCE_SCALE = 6.0  # tokens: closeness exp(-d / scale)
SENTENCE_GAP = 4  # extra tokens of distance per sentence boundary crossed
AUXILIARIES = frozenset(
    "is are was were be been being do does did has have had will would can could shall should "
    "may might must".split()
)
_SKIP_START = frozenset({"but", "and", "so", "yet", "now", "then", "meanwhile", "still"})


@dataclass(slots=True)
class _Passage:
    hit_index: int
    text: str
    tokens: list[Token]
    sentences: list[tuple[int, int]]
    terms: list[str | None]
    candidates: list[Candidate]
    by_sentence: dict[int, list[Candidate]]


@dataclass(slots=True)
class _Scored:
    score: float
    passage: _Passage
    cand: Candidate
    first: int  # token range after trimming question words
    last: int
    evidence: tuple[int, int]  # local offsets of the supporting sentence(s)
    coverage: float


@lru_cache(maxsize=1024)
def _analyse(text: str) -> tuple[list[Token], list[tuple[int, int]], list[str | None], list]:
    tokens, sentences = tokenize_passage(text)
    terms = [term_of(t.text) if t.text[0].isalnum() else None for t in tokens]
    return tokens, sentences, terms, extract(text, tokens)


class HeuristicAnswerer:
    """Answer spans from question typing, candidate spans and closeness to the question's terms."""

    name = "heuristic"

    def __init__(self, *, max_hits: int = 5, max_sentences: int = 6) -> None:
        self.max_hits = max_hits
        self.max_sentences = max_sentences
        self.last_features: tuple[float, float, float] | None = None

    # --- the Answerer protocol ------------------------------------------------------------------
    def answer(self, question: str, hits: Sequence[Hit]) -> Span | None:
        info = classify(question)
        if not info.terms or not hits:
            return None
        passages = [self._passage(i, h) for i, h in enumerate(hits[: self.max_hits])]
        weights = self._weights(info, passages)
        total = sum(weights.values()) or 1.0
        matches = [self._matches(p, weights) for p in passages]
        ranked = self._rank_sentences(info, passages, matches, weights, total)
        if not ranked:
            return None
        scored = self._score(info, passages, matches, weights, total, ranked)
        if not scored:
            return None
        best, runner_up = self._choose(info, scored, hits)
        margin = best.score - runner_up if runner_up is not None else best.score
        conf = confidence(best.score, margin, best.coverage)
        self.last_features = (best.score, margin, best.coverage)  # read by the calibration fit
        passage = passages[best.passage.hit_index]
        hit = hits[passage.hit_index]
        start = passage.tokens[best.first].start
        end = passage.tokens[best.last].end
        return Span(
            text=passage.text[start:end],
            hit_index=passage.hit_index,
            start=hit.start + start,
            end=hit.start + end,
            confidence=conf,
            evidence_start=hit.start + best.evidence[0],
            evidence_end=hit.start + best.evidence[1],
        )

    # --- steps ----------------------------------------------------------------------------------
    def _passage(self, index: int, hit: Hit) -> _Passage:
        tokens, sentences, terms, cands = _analyse(hit.text)
        by_sentence: dict[int, list[Candidate]] = {}
        for cand in cands:
            by_sentence.setdefault(cand.sentence, []).append(cand)
        return _Passage(index, hit.text, tokens, sentences, terms, cands, by_sentence)

    @staticmethod
    def _weights(info: QuestionInfo, passages: list[_Passage]) -> dict[str, float]:
        """Question terms weighted by rarity among the passages' sentences (a local IDF)."""
        n = sum(len(p.sentences) for p in passages)
        df = dict.fromkeys(info.terms, 0)
        for p in passages:
            seen: dict[int, set[str]] = {}
            for tok_term, tok in zip(p.terms, p.tokens, strict=True):
                if tok_term is None:
                    continue
                for q in info.terms:
                    if _match(tok_term, q):
                        seen.setdefault(tok.sentence, set()).add(q)
            for found in seen.values():
                for q in found:
                    df[q] += 1
        return {q: math.log(1 + (n + 1) / (df[q] + 0.5)) for q in dict.fromkeys(info.terms)}

    @staticmethod
    def _matches(p: _Passage, weights: dict[str, float]) -> dict[str, list[int]]:
        """Token positions where each question term occurs in the passage."""
        out: dict[str, list[int]] = {}
        for i, tok_term in enumerate(p.terms):
            if tok_term is None:
                continue
            for q in weights:
                if _match(tok_term, q):
                    out.setdefault(q, []).append(i)
        return out

    def _rank_sentences(self, info, passages, matches, weights, total):
        """(score, passage, sentence, coverage) of the best sentences, best first."""
        rows = []
        for p, found in zip(passages, matches, strict=True):
            cover: dict[int, set[str]] = {}
            for q, positions in found.items():
                for pos in positions:
                    cover.setdefault(p.tokens[pos].sentence, set()).add(q)
            for s, terms in cover.items():
                coverage = sum(weights[q] for q in terms) / total
                rows.append([coverage + 0.05 / (1 + p.hit_index), p, s, coverage])
        rows.sort(key=lambda r: -r[0])
        rows = rows[: self.max_sentences]
        return rows

    def _score(self, info, passages, matches, weights, total, ranked) -> list[_Scored]:
        out: list[_Scored] = []
        subject_term = _subject_term(info)
        top = ranked[0][0] or 1.0
        for rank_score, p, s, coverage in ranked:
            found = matches[p.hit_index]
            sentence_weight = rank_score / top
            for cand in p.by_sentence.get(s, []) + self._antecedents(p, s):
                fit = max((info.fit(k) * w for k, w in cand.types.items()), default=0.0)
                if fit <= 0:
                    continue
                first, last = _trim(p, cand, weights)
                if first > last:
                    continue
                words = [i for i in range(first, last + 1) if p.tokens[i].text[0].isalnum()]
                overlap = sum(1 for i in words if _is_question_term(p.terms[i], weights))
                overlap /= max(1, len(words))
                mention = cand.mention or (first, last)
                prox = _closeness(p, found, weights, total, mention)
                side = 0.0
                if subject_term and subject_term in found:
                    verb = [i for i in found[subject_term] if p.tokens[i].sentence == s]
                    if verb:
                        side = 1.0 if mention[1] < verb[0] else -1.0
                length = max(0, len(words) - 4) * 0.04
                score = (
                    fit * (0.5 * prox + 0.35 * coverage + 0.15 * sentence_weight)
                    + 0.08 * side * fit
                    - 0.4 * overlap
                    - length
                )
                if cand.mention is not None:
                    lo = p.sentences[p.tokens[cand.first].sentence][0]
                    evidence = (lo, p.sentences[s][1])
                else:
                    evidence = p.sentences[s]
                out.append(_Scored(score, p, cand, first, last, evidence, coverage))
        return out

    @staticmethod
    def _antecedents(p: _Passage, s: int) -> list[Candidate]:
        """For a sentence opening with "It"/"He"/"The kingdom"..., the name it refers back to."""
        if s == 0:
            return []
        first = next((i for i, t in enumerate(p.tokens) if t.sentence == s), None)
        if first is None:
            return []
        i = first
        if p.tokens[i].text.casefold() in _SKIP_START:
            i += 1
            if i < len(p.tokens) and p.tokens[i].text == ",":
                i += 1
        if i >= len(p.tokens) or p.tokens[i].sentence != s:
            return []
        word = p.tokens[i].text.casefold()
        implied, mention = None, None
        if word in PRONOUNS:
            implied, mention = PRONOUNS[word], (i, i)
        elif word in ("the", "this", "that") and i + 1 < len(p.tokens):
            noun = p.tokens[i + 1].text.casefold()
            if noun in DESCRIPTIONS:
                implied, mention = DESCRIPTIONS[noun], (i, i + 1)
        if implied is None or mention is None:
            return []
        for back in (s - 1, s - 2):
            if back < 0:
                break
            for cand in p.by_sentence.get(back, []):
                if not any(cand.types.get(k, 0) >= 0.5 for k in NAMES):
                    continue
                compatible = max((implied.get(k, 0) * w for k, w in cand.types.items()), default=0)
                if compatible >= 0.4:
                    types = dict(cand.types)
                    for k, w in implied.items():
                        types[k] = max(types.get(k, 0.0), w)
                    types.pop("NP", None)
                    return [
                        Candidate(
                            cand.start,
                            cand.end,
                            cand.text,
                            cand.first,
                            cand.last,
                            s,
                            types,
                            mention,
                        )
                    ]
        return []

    @staticmethod
    def _choose(info: QuestionInfo, scored: list[_Scored], hits: Sequence[Hit]):
        """The best candidate (votes across passages added) and the runner-up's score."""
        groups: dict[str, list[_Scored]] = {}
        for item in scored:
            key = _normal(item.passage.text[
                item.passage.tokens[item.first].start : item.passage.tokens[item.last].end
            ])  # fmt: skip
            groups.setdefault(key, []).append(item)
        ranked = []
        for items in groups.values():
            items.sort(key=lambda x: -x.score)
            support = len({x.passage.hit_index for x in items}) + len(
                {(x.passage.hit_index, x.cand.sentence) for x in items}
            )
            best = items[0]
            best.score += 0.03 * (support - 2)
            ranked.append(best)
        ranked.sort(key=lambda x: -x.score)
        best = ranked[0]
        if info.latest:
            dated = [(parse_date(hits[x.passage.hit_index].published), x) for x in ranked[:5]]
            near = [(d, x) for d, x in dated if d is not None and x.score >= best.score - 0.08]
            if near:
                best = max(near, key=lambda dx: (dx[0], dx[1].score))[1]
        others = [x.score for x in ranked if x is not best]
        return best, (max(others) if others else None)


# --- helpers --------------------------------------------------------------------------------------
def _match(token_term: str, q: str) -> bool:
    if token_term == q:
        return True
    if min(len(token_term), len(q)) >= 4 and abs(len(token_term) - len(q)) <= 3:
        return token_term.startswith(q) or q.startswith(token_term)
    return False


def _is_question_term(token_term: str | None, weights: dict[str, float]) -> bool:
    return token_term is not None and any(_match(token_term, q) for q in weights)


def _trim(p: _Passage, cand: Candidate, weights: dict[str, float]) -> tuple[int, int]:
    """The candidate without question words, stopwords and punctuation at its ends."""
    first, last = cand.first, cand.last
    if cand.mention is not None:
        return first, last

    def drop(i: int) -> bool:
        term = p.terms[i]
        return term is None or _is_question_term(term, weights)

    while first <= last and drop(first):
        first += 1
    while last >= first and drop(last):
        last -= 1
    return first, last


def _closeness(p, found, weights, total, span: tuple[int, int]) -> float:
    """Weighted share of question terms near the span: sum w * exp(-distance / scale)."""
    lo, hi = span
    here = p.tokens[lo].sentence
    score = 0.0
    for q, positions in found.items():
        best = 0.0
        for pos in positions:
            if lo <= pos <= hi:
                continue
            d = lo - pos if pos < lo else pos - hi
            d += SENTENCE_GAP * abs(p.tokens[pos].sentence - here)
            best = max(best, math.exp(-d / DISTANCE_SCALE))
        score += weights[q] * best
    return score / total


def _subject_term(info: QuestionInfo) -> str | None:
    """For "who hosts ...?" the verb term ("host"): the answer is its subject, before it."""
    words = re.findall(r"[A-Za-z']+", info.question.casefold())
    if len(words) < 2 or words[0] not in ("who", "what", "which"):
        return None
    verb = words[1]
    if verb in AUXILIARIES or words[0] != "who" and not verb.endswith(("s", "ed")):
        return None
    term = term_of(verb)
    return term if term in info.terms else None


def _sentence_text(p: _Passage, s: int) -> str:
    start, end = p.sentences[s]
    return p.text[start:end]


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))
