"""Reward over-optimisation: gold and proxy reward against sqrt(KL), with Gao et al.'s fitted forms.

Gao, Schulman & Hilton (2022), "Scaling Laws for Reward Model Overoptimization", measure how far a
policy moved from its start by d = sqrt(KL(pi || pi_init)) and find that the gold reward gained,
R(d) = gold(d) - gold(0), follows

    best-of-n:  R_bon(d) = d (alpha - beta d)
    RL:         R_RL(d)  = d (alpha - beta log d)

The proxy (the reward model being optimised) keeps rising; the gold rises, peaks and falls. Both
forms are linear in (alpha, beta), so a least-squares fit is one `lstsq` call. The peak d* solves
R'(d) = 0: d* = alpha / (2 beta) for best-of-n, d* = exp(alpha / beta - 1) for RL (beta > 0;
with beta <= 0 the fitted curve never turns down: no peak in sight).

Best-of-n needs no training: sample N headlines per article from the start policy, and the
pick of n of them has KL = log n - (n - 1) / n to the start (Stiennon et al. 2020; Gao et al. 2022).
`expected_best_of_n` scores that pick for every n <= N from one pool.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def bon_kl(n: int) -> float:
    """KL(best-of-n || pi_init) = log n - (n - 1) / n, in nats (0 for n = 1)."""
    return math.log(n) - (n - 1) / n


def rl_form(d, alpha: float, beta: float):
    """R_RL(d) = d (alpha - beta log d), with R(0) = 0."""
    d = np.asarray(d, dtype=float)
    safe = np.where(d > 0, d, 1.0)
    return np.where(d > 0, d * (alpha - beta * np.log(safe)), 0.0)


def bon_form(d, alpha: float, beta: float):
    """R_bon(d) = d (alpha - beta d)."""
    d = np.asarray(d, dtype=float)
    return d * (alpha - beta * d)


def _fit(columns: np.ndarray, gains: np.ndarray) -> tuple[float, float] | None:
    if columns.shape[0] < 2 or np.linalg.matrix_rank(columns) < 2:
        return None
    (alpha, beta), *_ = np.linalg.lstsq(columns, gains, rcond=None)
    return float(alpha), float(beta)


def fit_rl(d: Sequence[float], gains: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (alpha, beta) of R = alpha d - beta d log d over points with d > 0; None with < 2 points."""
    d, gains = np.asarray(d, dtype=float), np.asarray(gains, dtype=float)
    keep = d > 0
    d, gains = d[keep], gains[keep]
    return _fit(np.stack([d, -d * np.log(d)], axis=1), gains)  # (P, 2) design matrix


def fit_bon(d: Sequence[float], gains: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (alpha, beta) of R = alpha d - beta d^2 over points with d > 0; None with < 2 points."""
    d, gains = np.asarray(d, dtype=float), np.asarray(gains, dtype=float)
    keep = d > 0
    d, gains = d[keep], gains[keep]
    return _fit(np.stack([d, -d * d], axis=1), gains)  # (P, 2) design matrix


def rl_peak(alpha: float, beta: float) -> float | None:
    """d* = exp(alpha / beta - 1), where R_RL'(d) = alpha - beta (log d + 1) = 0; None if beta <= 0."""
    if beta <= 0:
        return None
    exponent = alpha / beta - 1.0
    return math.exp(exponent) if exponent < 50 else None


def bon_peak(alpha: float, beta: float) -> float | None:
    """d* = alpha / (2 beta), where R_bon'(d) = alpha - 2 beta d = 0; None if beta <= 0 or the peak is at d <= 0."""
    if beta <= 0 or alpha <= 0:
        return None
    return alpha / (2.0 * beta)


def expected_best_of_n(proxy: Sequence[float], gold: Sequence[float] | None, n: int) -> tuple[float, float | None]:
    """Expected proxy and gold of the best-of-n pick, over every n-subset of one article's N samples.

    Sort the N samples by proxy, ascending; the i-th (1-based) is the best of a random n-subset
    with probability C(i - 1, n - 1) / C(N, n) (it must be in the subset, with the other n - 1
    drawn from the i - 1 below it). An unbiased estimate that uses all N samples for every n,
    instead of one arbitrary subset (the estimator Gao et al. 2022 use for their best-of-n curves).
    """
    proxy = np.asarray(proxy, dtype=float)  # (N,)
    if not 1 <= n <= proxy.size:
        raise ValueError(f"n must be between 1 and the {proxy.size} samples.")
    order = np.argsort(proxy, kind="stable")
    ranks = np.arange(1, proxy.size + 1)  # (N,) 1-based rank of each sorted sample
    weights = np.array([math.comb(int(i) - 1, n - 1) for i in ranks], dtype=float) / math.comb(proxy.size, n)  # (N,)
    best_proxy = float(weights @ proxy[order])
    best_gold = None if gold is None else float(weights @ np.asarray(gold, dtype=float)[order])
    return best_proxy, best_gold


def fit_summary(family: str, d: Sequence[float], values: Sequence[float], start: float) -> dict | None:
    """Fit one family's form to (d, value) points, gains measured from `start` (the value at d = 0).

    Returns {"alpha", "beta", "start", "peak_d", "peak_value"} (peak_* None when the curve does not
    turn down), or None when there are too few points to fit.
    """
    fit, form, peak = {"rl": (fit_rl, rl_form, rl_peak), "bon": (fit_bon, bon_form, bon_peak)}[family]
    params = fit(d, np.asarray(values, dtype=float) - start)
    if params is None:
        return None
    alpha, beta = params
    peak_d = peak(alpha, beta)
    return {"alpha": alpha, "beta": beta, "start": float(start), "peak_d": peak_d,
            "peak_value": None if peak_d is None else float(start + form(peak_d, alpha, beta))}
