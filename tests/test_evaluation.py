"""ROUGE (as the seed computes it), distinct-n and self-ROUGE."""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from rlhf_core.evaluation import distinct_n, mean_rouge, rouge_scores, self_rouge

REF = "Council approves $42 million road budget"
GEN = "City council approved a budget for roads"


def test_rouge_matches_rouge_score_with_stemmer():
    direct = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(REF, GEN)
    ours = rouge_scores(REF, GEN)
    assert ours == pytest.approx({k: direct[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")})
    # The stemmer is on: "approves"/"approved" and "roads"/"road" match, so ROUGE-1 beats the unstemmed score.
    plain = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False).score(REF, GEN)["rouge1"].fmeasure
    assert ours["rouge1"] > plain
    assert rouge_scores(REF, REF) == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    assert rouge_scores(REF, "") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_mean_rouge_averages_pairs():
    result = mean_rouge([REF, REF], [REF, ""])
    assert result == pytest.approx({"rouge1": 0.5, "rouge2": 0.5, "rougeL": 0.5})
    assert mean_rouge([], []) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    with pytest.raises(ValueError):
        mean_rouge([REF], [])


def test_distinct_n_by_hand():
    texts = ["the cat sat", "the cat ran"]
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)  # the, cat, sat, ran over 6 words
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)  # "the cat" twice, "cat sat", "cat ran"
    assert distinct_n(["Same words", "same WORDS!"], 1) == pytest.approx(2 / 4)  # lower-cased, punctuation dropped
    assert distinct_n([], 1) == 0.0 and distinct_n(["one"], 2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(texts, 0)


def test_self_rouge_is_one_for_copies_and_lower_for_variety():
    assert self_rouge([REF, REF, REF]) == pytest.approx(1.0)
    assert self_rouge(["alpha beta", "gamma delta"]) == 0.0
    mixed = self_rouge([REF, REF, "Storm closes schools"])
    assert mixed == pytest.approx((1.0 + 0.0 + 0.0) / 3)
    assert self_rouge([REF]) == 0.0
