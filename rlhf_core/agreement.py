"""How much raters agree, and which policy wins the blind A/B votes.

Three estimators over the ratings store's tables (`RatingsStore.ratings_frame()` / `votes_frame()`):

- `krippendorff_alpha`: inter-rater reliability of the 1-5 star ratings, ordinal metric
  (Krippendorff 2004, *Content Analysis*, ch. 11), via the `krippendorff` package.
  alpha = 1 - D_observed / D_expected: 1 is perfect agreement, 0 is chance, < 0 is worse than chance.
- `ab_agreement`: among raters who voted on the same pair, the share of rater pairs that gave the
  same verdict (the same winning headline, or both "tie", or both "both bad").
- `bradley_terry`: a strength per policy from A/B votes, P(i beats j) = p_i / (p_i + p_j)
  (Bradley & Terry 1952), fitted with Hunter's MM algorithm (Hunter 2004, *MM algorithms for
  generalized Bradley-Terry models*). Ties count as half a win for each side; "both bad" says
  nothing about which is better and is ignored. This is the ranking Chatbot Arena publishes.

Column names follow the store: ratings have `rater`, `article`, `headline`, `score` (1..5 stars);
votes have `rater`, `article`, `headline_a`, `headline_b`, `source_a`, `source_b`, `winner`
with winner in {"a", "b", "tie", "both_bad"}.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

WINNERS = ("a", "b", "tie", "both_bad")


def rater_counts(ratings: pd.DataFrame | None, votes: pd.DataFrame | None) -> pd.DataFrame:
    """Per rater: how many star ratings and A/B votes they gave (most active first)."""
    parts = []
    for frame, column in ((ratings, "ratings"), (votes, "votes")):
        if frame is not None and len(frame):
            parts.append(frame.groupby("rater").size().rename(column))
    if not parts:
        return pd.DataFrame({"rater": [], "ratings": [], "votes": [], "total": []}).astype(
            {"ratings": int, "votes": int, "total": int}
        )
    table = pd.concat(parts, axis=1).fillna(0).astype(int)
    for column in ("ratings", "votes"):
        if column not in table:
            table[column] = 0
    table["total"] = table["ratings"] + table["votes"]
    table = table.rename_axis("rater").reset_index()
    return table.sort_values(["total", "rater"], ascending=[False, True], ignore_index=True)[
        ["rater", "ratings", "votes", "total"]
    ]


def reliability_matrix(ratings: pd.DataFrame, score_column: str = "score") -> np.ndarray:
    """Raters x items matrix of scores, NaN where a rater did not rate an item.

    An item is one (article, headline) pair. If a rater rated an item twice, the last score counts.
    """
    if ratings is None or ratings.empty:
        return np.empty((0, 0))
    items = ratings["article"].astype(str) + "\x1f" + ratings["headline"].astype(str)
    frame = pd.DataFrame({"rater": ratings["rater"].astype(str), "item": items, "score": ratings[score_column]})
    table = frame.pivot_table(index="rater", columns="item", values="score", aggfunc="last")
    return table.to_numpy(dtype=float)  # (R, I)


def krippendorff_alpha(ratings: pd.DataFrame, score_column: str = "score", levels=(1, 2, 3, 4, 5)) -> float:
    """Krippendorff's alpha (ordinal) of the star ratings; NaN when it is not defined.

    It is not defined with fewer than two raters, when no item has two ratings (nothing to
    compare), or when every rating has the same value (no expected disagreement).
    """
    matrix = reliability_matrix(ratings, score_column)  # (R, I)
    if matrix.shape[0] < 2:
        return float("nan")
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2  # items rated by at least two raters
    if not pairable.any():
        return float("nan")
    values = matrix[:, pairable]
    if np.unique(values[~np.isnan(values)]).size < 2:
        return float("nan")
    import krippendorff  # imported lazily: only the agreement panel needs it

    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = krippendorff.alpha(
            reliability_data=values, value_domain=list(levels), level_of_measurement="ordinal"
        )
    return float(alpha) if np.isfinite(alpha) else float("nan")


def canonical_verdicts(votes: pd.DataFrame) -> pd.DataFrame:
    """One row per (rater, pair): the verdict, independent of which side the headline was shown on.

    Returns columns rater, article, pair (the two headlines, sorted), verdict: the winning
    headline's text, "tie" or "both_bad". A rater's last vote on a pair counts.
    """
    if votes is None or votes.empty:
        return pd.DataFrame(columns=["rater", "article", "pair", "verdict"])
    rows = []
    for vote in votes.itertuples(index=False):
        a, b, winner = str(vote.headline_a), str(vote.headline_b), str(vote.winner)
        verdict = {"a": a, "b": b}.get(winner, winner)
        rows.append((str(vote.rater), str(vote.article), tuple(sorted((a, b))), verdict))
    frame = pd.DataFrame(rows, columns=["rater", "article", "pair", "verdict"])
    return frame.drop_duplicates(["rater", "article", "pair"], keep="last", ignore_index=True)


def ab_agreement(votes: pd.DataFrame) -> dict:
    """Pairwise agreement of A/B verdicts among raters who judged the same pair.

    Returns {"agreement": share of agreeing rater pairs (NaN if no pair has two raters),
    "pairs": pairs judged by at least two raters, "comparisons": rater pairs compared,
    "alpha": Krippendorff's alpha (nominal) of the verdicts, chance-corrected}.
    """
    verdicts = canonical_verdicts(votes)
    agree = total = pairs = 0
    for _, group in verdicts.groupby(["article", "pair"], sort=False):
        labels = group["verdict"].tolist()
        if len(labels) < 2:
            continue
        pairs += 1
        for left, right in itertools.combinations(labels, 2):
            agree += left == right
            total += 1
    alpha = float("nan")
    if pairs and verdicts["verdict"].nunique() >= 2:
        import krippendorff

        keys = verdicts["article"] + "\x1f" + verdicts["pair"].map("\x1f".join)
        codes = {label: i for i, label in enumerate(sorted(verdicts["verdict"].unique()))}
        table = (
            verdicts.assign(item=keys, code=verdicts["verdict"].map(codes))
            .pivot_table(index="rater", columns="item", values="code", aggfunc="last")
            .to_numpy(dtype=float)
        )  # (R, I)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = krippendorff.alpha(reliability_data=table, level_of_measurement="nominal")
        alpha = float(value) if np.isfinite(value) else float("nan")
    return {
        "agreement": agree / total if total else float("nan"),
        "pairs": pairs,
        "comparisons": total,
        "alpha": alpha,
    }


def win_matrix(votes: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Policies and the K x K matrices of wins (w[i, j]: i beat j) and ties, from A/B votes.

    Votes between two samples of the same policy and "both_bad" votes are skipped.
    """
    if votes is None or votes.empty:
        return [], np.zeros((0, 0)), np.zeros((0, 0))
    usable = votes[(votes["winner"] != "both_bad") & (votes["source_a"] != votes["source_b"])]
    policies = sorted(set(usable["source_a"].astype(str)) | set(usable["source_b"].astype(str)))
    index = {name: k for k, name in enumerate(policies)}
    wins = np.zeros((len(policies), len(policies)))  # (K, K)
    ties = np.zeros_like(wins)  # (K, K), symmetric
    for vote in usable.itertuples(index=False):
        i, j = index[str(vote.source_a)], index[str(vote.source_b)]
        if vote.winner == "a":
            wins[i, j] += 1
        elif vote.winner == "b":
            wins[j, i] += 1
        else:
            ties[i, j] += 1
            ties[j, i] += 1
    return policies, wins, ties


def bradley_terry_mm(wins: np.ndarray, prior: float = 0.5, iters: int = 1000, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry strengths p (summing to 1) by Hunter's MM iteration.

        P(i beats j) = p_i / (p_i + p_j)
        p_i <- W_i / sum_{j != i} n_ij / (p_i + p_j),  W_i = sum_j w_ij,  n_ij = w_ij + w_ji

    (Bradley & Terry 1952; Hunter 2004, eq. 3). `wins[i, j]` may be fractional (a tie adds 0.5
    to both w_ij and w_ji). `prior` adds that many virtual ties between every two policies
    (prior/2 wins each way), so a policy that never won keeps a small positive strength and
    policies that never met are still on one scale.
    """
    k = wins.shape[0]
    w = wins + (prior / 2.0) * (1.0 - np.eye(k))  # (K, K)
    n = w + w.T  # (K, K) games between i and j
    total_wins = w.sum(axis=1)  # (K,)
    p = np.full(k, 1.0 / k)
    for _ in range(iters):
        denom = (n / (p[:, None] + p[None, :])).sum(axis=1)  # (K,); diagonal of n is 0
        new = total_wins / denom
        new /= new.sum()
        if np.abs(new - p).max() < tol:
            return new
        p = new
    return p


def elo_scale(strength: np.ndarray) -> np.ndarray:
    """Bradley-Terry strengths on Chatbot Arena's Elo scale: 400 * log10(p_i / geometric mean of p) + 1000.  (K,)"""
    strength = np.asarray(strength, dtype=float)
    return 400.0 * np.log10(strength / math.exp(float(np.log(strength).mean()))) + 1000.0


def bradley_terry(votes: pd.DataFrame, prior: float = 0.5) -> pd.DataFrame:
    """Ranking of policies from A/B votes: policy, strength, elo, wins, losses, ties, games.

    `strength` sums to 1 over the policies; `elo` is the same fit on Chatbot Arena's scale
    (400 * log10(p_i / p_mean) + 1000, so +400 means 10:1 odds).
    """
    columns = ["policy", "strength", "elo", "wins", "losses", "ties", "games"]
    policies, wins, ties = win_matrix(votes)
    if not policies:
        return pd.DataFrame(columns=columns)
    strength = bradley_terry_mm(wins + 0.5 * ties, prior=prior)
    table = pd.DataFrame(
        {
            "policy": policies,
            "strength": strength,
            "elo": elo_scale(strength),
            "wins": wins.sum(axis=1).astype(int),
            "losses": wins.sum(axis=0).astype(int),
            "ties": ties.sum(axis=1).astype(int),
        }
    )
    table["games"] = table["wins"] + table["losses"] + table["ties"]
    return table.sort_values(["strength", "policy"], ascending=[False, True], ignore_index=True)[columns]
