"""How good is a reward model? Correlation with human scores, pairwise accuracy, calibration.

All statistics come from scipy / scikit-learn (the seed imported spearmanr from sklearn.metrics;
it lives in scipy.stats). `evaluate_reward` returns a plain dict: floats plus two DataFrames
(`calibration`, `worst`) that pages can chart and show as tables.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

SEED_THRESHOLD = 0.5  # the seed's binary accuracy: good headline <=> normalised score > 0.5


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def spearman(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    """Spearman rank correlation (scipy.stats.spearmanr); None when undefined (constant input, < 2 rows)."""
    from scipy.stats import spearmanr

    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return None
    return _finite(spearmanr(predicted, actual).statistic)


def pearson(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    """Pearson linear correlation (scipy.stats.pearsonr); None when undefined."""
    from scipy.stats import pearsonr

    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return None
    return _finite(pearsonr(predicted, actual).statistic)


def threshold_accuracy(predicted: Sequence[float], actual: Sequence[float], threshold: float = SEED_THRESHOLD) -> float | None:
    """The seed's binary accuracy: sklearn accuracy_score of (reward > 0.5) vs (normalised score > 0.5)."""
    from sklearn.metrics import accuracy_score

    if len(predicted) == 0:
        return None
    return float(accuracy_score(np.asarray(actual) > threshold, np.asarray(predicted) > threshold))


def pairwise_accuracy(score_chosen: Sequence[float], score_rejected: Sequence[float]) -> float | None:
    """Share of pairs with reward(chosen) > reward(rejected) (ties count as wrong)."""
    score_chosen, score_rejected = np.asarray(score_chosen, float), np.asarray(score_rejected, float)
    if len(score_chosen) == 0:
        return None
    return float(np.mean(score_chosen > score_rejected))


def calibration_table(predicted: np.ndarray, ratings: pd.DataFrame, buckets: int = 5) -> pd.DataFrame:
    """Mean predicted reward vs mean actual (normalised) score per score bucket.

    Buckets are the raw scores when there are few distinct ones (1..5 stars), else equal-width
    bins of the normalised score. A calibrated model lies on the diagonal.
    """
    frame = pd.DataFrame({"actual": ratings["score"].to_numpy(float), "predicted": predicted})
    raw = ratings["score_raw"] if "score_raw" in ratings else pd.Series(np.nan, index=ratings.index)
    if raw.notna().all() and raw.nunique() <= 11:
        frame["bucket"] = raw.to_numpy()
    elif frame["actual"].nunique() <= 11:
        frame["bucket"] = frame["actual"].round(3)
    else:
        frame["bucket"] = pd.cut(frame["actual"], np.linspace(0, 1, buckets + 1), include_lowest=True).astype(str)
    table = frame.groupby("bucket", sort=True).agg(n=("actual", "size"), mean_actual=("actual", "mean"),
                                                    mean_predicted=("predicted", "mean"), std_predicted=("predicted", "std"))
    return table.reset_index().fillna({"std_predicted": 0.0})


def worst_examples(predicted: np.ndarray, ratings: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The k most mis-ranked rows: largest gap between predicted and actual rank (as percentiles)."""
    frame = ratings[["article", "headline", "score"]].copy().reset_index(drop=True)
    frame["predicted"] = predicted
    frame["rank_error"] = (frame["predicted"].rank(pct=True) - frame["score"].rank(pct=True)).abs()
    return frame.sort_values("rank_error", ascending=False).head(k).reset_index(drop=True)


def _persona(persona):
    if persona is None or not isinstance(persona, str):
        return persona
    from rlhf_core.data.personas import get_persona

    return get_persona(persona)


def evaluate_reward(scorer, ratings: pd.DataFrame | None = None, preferences: pd.DataFrame | None = None,
                    persona=None, batch_size: int = 32, worst_k: int = 10) -> dict:
    """Evaluate a RewardScorer on rated rows and/or preference pairs.

    Args:
        scorer: anything with `.score(articles, headlines) -> np.ndarray` (a RewardScorer).
        ratings: canonical ratings table (score normalised to [0, 1]).
        preferences: canonical preferences table; without it, pairs are built from the ratings.
        persona: a Persona or its name (synthetic data): adds `gold_agreement`, the Spearman
            correlation between the reward model and the persona's gold scores, and `ceiling`,
            the gold score's own Spearman correlation with the human scores: rater noise and
            ties between stars keep even a perfect model of the persona at that value, so a
            reward model's `spearman` is read against `ceiling`, not against 1.
    Returns:
        dict with n_ratings, n_pairs, spearman, pearson, accuracy, pairwise_accuracy,
        gold_agreement, ceiling (None where they do not apply), calibration and worst (DataFrames).
    """
    from rlhf_core.reward.data import clean_preferences, clean_ratings, pairs_from_ratings

    out: dict = {"n_ratings": 0, "n_pairs": 0, "spearman": None, "pearson": None, "accuracy": None,
                 "pairwise_accuracy": None, "gold_agreement": None, "ceiling": None,
                 "calibration": pd.DataFrame(), "worst": pd.DataFrame()}
    ratings = clean_ratings(ratings) if ratings is not None else None
    if ratings is not None and len(ratings):
        predicted = scorer.score(ratings["article"].tolist(), ratings["headline"].tolist(), batch_size=batch_size)
        actual = ratings["score"].to_numpy(float)
        out.update(n_ratings=len(ratings), spearman=spearman(predicted, actual), pearson=pearson(predicted, actual),
                   accuracy=threshold_accuracy(predicted, actual),
                   calibration=calibration_table(predicted, ratings), worst=worst_examples(predicted, ratings, worst_k))
        persona = _persona(persona)
        if persona is not None:
            gold = [persona.score(a, h) for a, h in zip(ratings["article"], ratings["headline"])]
            out.update(gold_agreement=spearman(predicted, gold), ceiling=spearman(gold, actual))
    pairs = clean_preferences(preferences) if preferences is not None else None
    if pairs is None or len(pairs) == 0:
        pairs = pairs_from_ratings(ratings) if ratings is not None and len(ratings) else None
    if pairs is not None and len(pairs):
        known = dict(zip(zip(ratings["article"], ratings["headline"]), predicted)) if out["n_ratings"] else {}
        needed = [key for key in dict.fromkeys(zip(pairs["prompt"], pairs["chosen"]))] + \
                 [key for key in dict.fromkeys(zip(pairs["prompt"], pairs["rejected"]))]
        needed = [key for key in dict.fromkeys(needed) if key not in known]  # score each text once
        if needed:
            fresh = scorer.score([a for a, _ in needed], [h for _, h in needed], batch_size=batch_size)
            known.update(zip(needed, fresh))
        chosen = [known[key] for key in zip(pairs["prompt"], pairs["chosen"])]
        rejected = [known[key] for key in zip(pairs["prompt"], pairs["rejected"])]
        out.update(n_pairs=len(pairs), pairwise_accuracy=pairwise_accuracy(chosen, rejected))
    return out


def scalar_metrics(result: dict) -> dict:
    """The JSON-able part of an evaluate_reward result (drops the DataFrames and None values)."""
    return {k: v for k, v in result.items() if not isinstance(v, pd.DataFrame) and v is not None}
