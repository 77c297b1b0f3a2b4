"""Best answer spans from a reader's start/end logits over one tokenised window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SpanScore:
    start_char: int  # offsets into the window's context text
    end_char: int
    score: float  # start logit + end logit
    null_score: float  # the window's [CLS] start + end logit: "no answer here"
    # logsumexp of the context tokens' start logits + of their end logits: `score - log_partition`
    # is the span's log-probability under the reader's start/end softmaxes over this window
    log_partition: float = 0.0


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: list[tuple[int, int] | None],
    *,
    max_answer_tokens: int = 30,
    top_n: int = 1,
    candidates: int = 20,
) -> list[SpanScore]:
    """The `top_n` best context spans (end ≥ start, at most `max_answer_tokens` long).

    `offsets[i]` is the (start, end) character range of token i in the context, or None for
    question, special and padding tokens, which can never be part of an answer.
    """
    n = len(offsets)
    start_logits, end_logits = start_logits[:n], end_logits[:n]
    valid = np.array([o is not None for o in offsets])
    if not valid.any():
        return []
    null = float(start_logits[0] + end_logits[0])
    masked_start = np.where(valid, start_logits, -np.inf)
    masked_end = np.where(valid, end_logits, -np.inf)
    partition = float(
        np.logaddexp.reduce(masked_start[valid]) + np.logaddexp.reduce(masked_end[valid])
    )
    k = min(candidates, int(valid.sum()))
    starts = np.argpartition(-masked_start, k - 1)[:k]
    ends = np.argpartition(-masked_end, k - 1)[:k]
    found: list[SpanScore] = []
    for s in starts:
        for e in ends:
            if e < s or e - s + 1 > max_answer_tokens:
                continue
            score = float(start_logits[s] + end_logits[e])
            found.append(SpanScore(offsets[s][0], offsets[e][1], score, null, partition))
    found.sort(key=lambda span: -span.score)
    return found[:top_n]
