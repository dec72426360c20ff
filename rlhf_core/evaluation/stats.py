"""Did a policy beat the baseline? Win rates with paired bootstrap intervals, and the people's leaderboard.

- `win_fraction`: of all pairs (one headline of policy A, one of baseline B, same article), the
  share where A scores higher, ties counted as half. It is the Mann-Whitney U statistic divided by
  n_A * n_B (Mann & Whitney 1947), i.e. P(A > B) + 0.5 P(A = B): 0.5 means "no better, no worse".
- `bootstrap_interval`: the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) over articles.
  An article is resampled with everything measured on it (both policies' headlines, all votes
  about it), so the interval is paired and respects that headlines of one article are not
  independent. The estimate is sum(numerators) / sum(denominators) over the articles: a plain mean
  of per-article win fractions (denominator 1), or wins / votes for people's A/B verdicts.
- `human_win_rate`: A/B votes between the policy and the baseline from the Rate page: a win 1, a
  tie 0.5, a loss 0; "both bad" says nothing about which is better and is left out (as in
  `rlhf_core.agreement`).
- `leaderboard`: Bradley-Terry scores of every policy from all A/B votes (ties half a win each),
  on the Elo scale, with bootstrap intervals from resampled votes: how Chatbot Arena reports them
  (Chiang et al. 2024, "Chatbot Arena", section 5).
Shapes: A = articles, n = samples of a policy per article, R = bootstrap resamples, K = policies.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rlhf_core.agreement import bradley_terry, bradley_terry_mm, elo_scale, win_matrix

TIE_TOLERANCE = 1e-9  # two scores closer than this are a tie (the same headline scores the same)


def win_fraction(scores: Sequence[float], baseline_scores: Sequence[float]) -> float:
    """P(policy > baseline) + 0.5 P(policy = baseline) over all pairs of samples on one article.

        w = 1 / (n_A n_B) * sum_i sum_j [ 1(a_i > b_j) + 0.5 * 1(a_i = b_j) ]   (= U / (n_A n_B))
    """
    diff = np.asarray(scores, dtype=float)[:, None] - np.asarray(baseline_scores, dtype=float)[None, :]  # (n_A, n_B)
    wins = (diff > TIE_TOLERANCE) + 0.5 * (np.abs(diff) <= TIE_TOLERANCE)
    return float(wins.mean())


def bootstrap_interval(numerators: Sequence[float], denominators: Sequence[float] | None = None,
                       rounds: int = 1000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): sum(num) / sum(den) and its percentile-bootstrap interval over articles.

    Each resample draws A articles with replacement and recomputes the ratio; the interval is the
    (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the R ratios.
    """
    num = np.asarray(numerators, dtype=float)  # (A,)
    den = np.ones_like(num) if denominators is None else np.asarray(denominators, dtype=float)  # (A,)
    if num.size == 0 or den.sum() <= 0:
        return float("nan"), float("nan"), float("nan")
    estimate = float(num.sum() / den.sum())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, num.size, size=(rounds, num.size))  # (R, A) article indices
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = num[picks].sum(axis=1) / den[picks].sum(axis=1)  # (R,)
    ratios = ratios[np.isfinite(ratios)]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail]) if ratios.size else (float("nan"), float("nan"))
    return estimate, float(low), float(high)


def win_rate(per_article: Sequence[Sequence[float]], baseline_per_article: Sequence[Sequence[float]],
             rounds: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Win rate of a policy over the baseline judged by one scorer, paired over articles.

    Args:
        per_article: the policy's scores, one list per article (n samples each).
        baseline_per_article: the baseline's scores on the same articles, in the same order.
    Returns: {"rate", "low", "high", "articles"}: the mean of the per-article win fractions.
    """
    if len(per_article) != len(baseline_per_article):
        raise ValueError("The policy and the baseline must be scored on the same articles.")
    fractions = [win_fraction(a, b) for a, b in zip(per_article, baseline_per_article) if len(a) and len(b)]
    rate, low, high = bootstrap_interval(fractions, rounds=rounds, confidence=confidence, seed=seed)
    return {"rate": rate, "low": low, "high": high, "articles": len(fractions)}


def human_win_rate(votes: pd.DataFrame | None, policy: str, baseline: str, rounds: int = 1000,
                   confidence: float = 0.95, seed: int = 0) -> dict | None:
    """People's win rate of `policy` over `baseline` from A/B votes between the two (None without votes).

    Returns: {"rate", "low", "high", "votes", "articles"}; the interval resamples articles.
    """
    if votes is None or votes.empty:
        return None
    sources = votes["source_a"].astype(str), votes["source_b"].astype(str)
    between = ((sources[0] == policy) & (sources[1] == baseline)) | ((sources[0] == baseline) & (sources[1] == policy))
    usable = votes[between & (votes["winner"] != "both_bad")]
    if usable.empty:
        return None
    policy_side = np.where(usable["source_a"].astype(str) == policy, "a", "b")
    score = np.where(usable["winner"] == "tie", 0.5, (usable["winner"].to_numpy() == policy_side).astype(float))
    per_article = pd.DataFrame({"article": usable["article"].astype(str).to_numpy(), "score": score}).groupby("article")["score"]
    rate, low, high = bootstrap_interval(per_article.sum().to_numpy(), per_article.size().to_numpy(), rounds, confidence, seed)
    return {"rate": rate, "low": low, "high": high, "votes": int(len(usable)), "articles": int(per_article.ngroups)}


def leaderboard(votes: pd.DataFrame | None, rounds: int = 200, confidence: float = 0.95, seed: int = 0,
                prior: float = 0.5) -> pd.DataFrame:
    """Bradley-Terry ranking of all policies from A/B votes, with bootstrap intervals on the Elo scale.

    Columns: policy, elo, elo_low, elo_high, wins, losses, ties, games (best first). Each of the
    R rounds refits the model on votes drawn with replacement (Chatbot Arena's recipe); a policy
    missing from a resample keeps its place through `prior`'s virtual ties.
    """
    table = bradley_terry(votes, prior=prior)
    columns = ["policy", "elo", "elo_low", "elo_high", "wins", "losses", "ties", "games"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    usable = votes[(votes["winner"] != "both_bad") & (votes["source_a"] != votes["source_b"])].reset_index(drop=True)
    policies = list(table["policy"])
    index = {name: k for k, name in enumerate(policies)}
    rng = np.random.default_rng(seed)
    elos = np.empty((rounds, len(policies)))  # (R, K)
    for r in range(rounds):
        names, wins, ties = win_matrix(usable.iloc[rng.integers(0, len(usable), len(usable))])
        full = np.zeros((len(policies), len(policies)))  # (K, K) in the leaderboard's order
        where = [index[name] for name in names]
        full[np.ix_(where, where)] = wins + 0.5 * ties
        elos[r] = elo_scale(bradley_terry_mm(full, prior=prior))
    tail = (1.0 - confidence) / 2.0
    table["elo_low"], table["elo_high"] = np.quantile(elos, tail, axis=0), np.quantile(elos, 1.0 - tail, axis=0)
    return table[columns]
