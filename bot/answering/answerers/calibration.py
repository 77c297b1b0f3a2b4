"""Confidence calibration for the heuristic answerer.

`confidence` maps the best candidate's score, its margin over the runner-up and the share of the
question's terms its sentence holds to an estimated probability that the answer is right (token F1
>= 0.5), with a logistic model. The coefficients were fitted by `python -m benchmarks.eval_all
--calibrate 1500` on 1,500 SQuAD v1.1 *train* questions (never the dev sets), where they are
reliable: of the answers given 0.4-0.6 confidence 54% were right, 0.6-0.8: 77%, 0.8-1.0: 100%.
"""

from __future__ import annotations

import math

# intercept, score, margin, coverage
COEFFICIENTS = (-2.374, 2.253, 4.786, 0.576)


def confidence(score: float, margin: float, coverage: float, coefficients=COEFFICIENTS) -> float:
    """P(answer right) in [0, 1]."""
    b0, b_score, b_margin, b_cover = coefficients
    z = b0 + b_score * score + b_margin * margin + b_cover * coverage
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit(rows: list[tuple[float, float, float]], labels: list[int], steps: int = 3000) -> tuple:
    """Logistic regression by gradient descent (a few hundred rows: no library needed).

    Returns coefficients for `confidence`. A small L2 penalty keeps them stable.
    """
    import numpy as np

    x = np.array([[1.0, *row] for row in rows], dtype=float)
    y = np.array(labels, dtype=float)
    w = np.zeros(x.shape[1])
    lr, l2 = 0.5, 1e-3
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]]
        w -= lr * grad
    return tuple(round(float(v), 3) for v in w)
