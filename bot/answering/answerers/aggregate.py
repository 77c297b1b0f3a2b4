"""One answer, several readings: the same answer string found in several spans adds up its evidence.

The reader scores each span of each window on its own. "Jordan" read in two passages, or
"the United Nations" and "United Nations" in one, are one answer with more support than either
reading. `combine` groups readings by their normalised answer (SQuAD normalisation: case,
punctuation and articles dropped) and gives each group the log-sum-exp of its members' margins
and of their log-probabilities (the latter at most 0): the evidence of k equally strong readings
is that of one reading plus log k. The group is shown by its most confident member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

from bot.evaluation.metrics import normalize_answer


class Reading(Protocol):
    margin: float
    log_p: float
    fit: float
    votes: int


R = TypeVar("R", bound=Reading)


def answer_key(text: str) -> str:
    """What two readings must share to be one answer ("The kingdom's" ~ "kingdom s")."""
    return normalize_answer(text) or text.strip().casefold()


def logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def combine(
    readings: Sequence[R], text_of: Callable[[R], str], confidence: Callable[[R], float]
) -> list[R]:
    """One reading per distinct answer, in first-seen order, its evidence summed over the group."""
    groups: dict[str, list[R]] = {}
    for reading in readings:
        groups.setdefault(answer_key(text_of(reading)), []).append(reading)
    out = []
    for members in groups.values():
        best = max(members, key=confidence)
        if len(members) == 1:
            out.append(best)
            continue
        out.append(
            replace(
                best,
                margin=logsumexp([m.margin for m in members]),
                log_p=min(0.0, logsumexp([m.log_p for m in members])),
                fit=max(m.fit for m in members),
                votes=sum(m.votes for m in members),
            )
        )
    return out
