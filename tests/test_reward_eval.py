"""Evaluation metrics against scipy / scikit-learn on fixed inputs, calibration and worst examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score

from rlhf_core.reward.evaluate import (
    calibration_table, evaluate_reward, pairwise_accuracy, pearson, scalar_metrics, spearman, threshold_accuracy,
)

PRED = np.array([0.9, 0.2, 0.6, 0.4, 0.8, 0.1])
ACTUAL = np.array([1.0, 0.0, 0.75, 0.25, 0.5, 0.25])
RAW = ACTUAL * 4 + 1


class TableScorer:
    """A fixed lookup table in place of a network: lets the metric arithmetic be checked exactly."""

    def __init__(self, table: dict):
        self.table, self.calls = table, 0

    def score(self, articles, headlines, batch_size=32):
        self.calls += 1
        return np.array([self.table[(a, h)] for a, h in zip(articles, headlines)])


def _ratings():
    return pd.DataFrame({"article": ["A", "A", "A", "B", "B", "B"], "headline": list("abcdef"), "score": ACTUAL,
                         "score_raw": RAW, "weight": 1.0, "source": "t"})


def test_metrics_match_scipy_and_sklearn():
    assert spearman(PRED, ACTUAL) == pytest.approx(spearmanr(PRED, ACTUAL).statistic)
    assert pearson(PRED, ACTUAL) == pytest.approx(pearsonr(PRED, ACTUAL).statistic)
    assert threshold_accuracy(PRED, ACTUAL) == pytest.approx(accuracy_score(ACTUAL > 0.5, PRED > 0.5))
    assert threshold_accuracy(PRED, ACTUAL) == pytest.approx(5 / 6)  # by hand: only e (0.8 vs a score of 0.5) is wrong
    assert pairwise_accuracy([0.9, 0.1, 0.5], [0.2, 0.3, 0.5]) == pytest.approx(1 / 3)  # a tie counts as wrong
    assert spearman([1, 1, 1], [1, 2, 3]) is None and pearson([1.0], [2.0]) is None


def test_evaluate_reward_on_ratings_and_built_pairs():
    ratings = _ratings()
    scorer = TableScorer(dict(zip(zip(ratings.article, ratings.headline), PRED)))
    result = evaluate_reward(scorer, ratings)
    assert result["spearman"] == pytest.approx(spearmanr(PRED, ACTUAL).statistic)
    # pairs built from ratings of the same article: A: a>c>b (3 pairs, all right); B: e>d, e>f (d=f tie: no pair)
    assert result["n_pairs"] == 5 and result["pairwise_accuracy"] == pytest.approx(1.0)
    assert scorer.calls == 1  # each text scored once
    calib = result["calibration"]
    assert list(calib["bucket"]) == [1.0, 2.0, 3.0, 4.0, 5.0] and calib["n"].sum() == 6
    assert calib.set_index("bucket").loc[2.0, "mean_predicted"] == pytest.approx((0.4 + 0.1) / 2)
    worst = result["worst"]
    assert worst.iloc[0]["headline"] == "f"  # lowest prediction (pct rank 1/6) for a tied 2-star (pct rank 2.5/6)
    assert worst.iloc[0]["rank_error"] == pytest.approx(1.5 / 6)
    assert set(scalar_metrics(result)) >= {"spearman", "pearson", "accuracy", "pairwise_accuracy"}


def test_explicit_preferences_and_gold_persona():
    from rlhf_core.data.personas import get_persona

    persona = get_persona("wire_editor")
    article = "The council voted 7-2 on Tuesday to approve a $48 million bond for the Old Mill Bridge."
    heads = ["Council approves $48 million bridge bond", "Council approves $84 million bridge bond",
             "You won't believe what the council did"]
    gold = [persona.score(article, h) for h in heads]
    scorer = TableScorer({(article, h): g for h, g in zip(heads, gold)})  # a reward model that IS the gold
    ratings = pd.DataFrame({"article": article, "headline": heads, "score": [1.0, 0.0, 0.25]})
    prefs = pd.DataFrame({"prompt": [article], "chosen": [heads[0]], "rejected": [heads[1]], "margin": [0.5]})
    result = evaluate_reward(scorer, ratings, prefs, persona="wire_editor")
    assert result["gold_agreement"] == pytest.approx(1.0)
    # the ceiling is the gold score against the human scores: a model that is the gold reaches exactly it
    assert result["ceiling"] == pytest.approx(spearmanr(gold, [1.0, 0.0, 0.25]).statistic)
    assert result["spearman"] == pytest.approx(result["ceiling"])
    assert result["n_pairs"] == 1 and result["pairwise_accuracy"] == 1.0
    only_pairs = evaluate_reward(scorer, preferences=prefs)
    assert only_pairs["spearman"] is None and only_pairs["pairwise_accuracy"] == 1.0


def test_calibration_bins_continuous_scores():
    ratings = pd.DataFrame({"score": np.linspace(0, 1, 40), "score_raw": np.nan})
    table = calibration_table(np.linspace(0, 1, 40), ratings, buckets=4)
    assert len(table) == 4 and table["n"].sum() == 40
    assert (table["mean_predicted"] - table["mean_actual"]).abs().max() < 1e-9
