"""The Compare grid: diversity metrics by hand, and a real tiny policy across temperatures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlhf_core import compare

ARTICLE = ("The city council of Riverton voted 7 to 2 on Tuesday to approve a $49 million plan "
           "to rebuild the Main Street bridge, mayor Ana Diaz said.")
REFERENCE = "Riverton council approves $49 million bridge plan"


def test_distinct_n_by_hand():
    headlines = ["a b c", "a b d"]
    assert compare.distinct_n(headlines, 1) == pytest.approx(4 / 6)  # a b c d out of 6 unigrams
    assert compare.distinct_n(headlines, 2) == pytest.approx(3 / 4)  # ab bc ab bd
    assert math.isnan(compare.distinct_n(["a"], 2))


def test_self_rouge_is_one_for_copies_and_lower_for_different_samples():
    assert compare.self_rouge(["council approves plan"] * 3) == pytest.approx(1.0)
    assert compare.self_rouge(["council approves plan", "storm hits coast"]) == pytest.approx(0.0)
    assert math.isnan(compare.self_rouge(["only one"]))


def test_diversity_table_groups_by_policy_and_temperature():
    grid = pd.DataFrame([
        {"policy": "p", "temperature": 0.3, "sample": 0, "headline": "same words here", "reward": 0.8,
         "gold": 0.5, "rouge1": 0, "rouge2": 0, "rougeL": 0, "length": 3},
        {"policy": "p", "temperature": 0.3, "sample": 1, "headline": "same words here", "reward": 0.6,
         "gold": 0.5, "rouge1": 0, "rouge2": 0, "rougeL": 0, "length": 3},
        {"policy": "p", "temperature": 1.3, "sample": 0, "headline": "wild storm", "reward": 0.2,
         "gold": 0.1, "rouge1": 0, "rouge2": 0, "rougeL": 0, "length": 2},
        {"policy": "p", "temperature": 1.3, "sample": 1, "headline": "quiet market", "reward": 0.4,
         "gold": 0.3, "rouge1": 0, "rouge2": 0, "rougeL": 0, "length": 2},
    ])
    table = compare.diversity_by_temperature(grid).set_index("temperature")
    assert table.loc[0.3, "distinct_1"] == pytest.approx(0.5)
    assert table.loc[1.3, "distinct_1"] == pytest.approx(1.0)
    assert table.loc[0.3, "self_rouge"] == pytest.approx(1.0)
    assert table.loc[1.3, "reward_mean"] == pytest.approx(0.3)


def test_queue_items_dedupe_within_a_policy():
    grid = pd.DataFrame({"policy": ["p", "p", "q"], "temperature": [0.3, 0.7, 0.3],
                         "headline": ["same", "same", "same"]})
    items = compare.queue_items(grid, ARTICLE)
    assert [(i["source"], i["temperature"]) for i in items] == [("p", 0.3), ("q", 0.3)]


def test_queue_pairs_match_policies_at_the_same_temperature():
    grid = pd.DataFrame({"policy": ["p", "p", "q", "q", "p", "q"], "temperature": [0.3, 0.3, 0.3, 0.3, 1.0, 1.0],
                         "headline": ["p1", "p2", "q1", "q2", "same", "same"]})
    pairs = compare.queue_pairs(grid, ARTICLE, seed=0)
    assert len(pairs) == 1  # at T=1.0 both wrote the same words: nothing to compare
    assert {pairs[0]["headline_a"], pairs[0]["headline_b"]} == {"p1", "q1"}
    assert {(pairs[0]["headline_a"], pairs[0]["source_a"]), (pairs[0]["headline_b"], pairs[0]["source_b"])} == {
        ("p1", "p"), ("q1", "q")}


def test_articles_of_each_kind():
    ratings = pd.DataFrame({"article": ["A", "A", "B"], "headline": ["low", "high", "b"], "score": [0.1, 0.9, 0.5]})
    assert compare.articles_of(ratings, "ratings").values.tolist() == [["A", "high"], ["B", "b"]]
    prefs = pd.DataFrame({"prompt": ["P"], "chosen": ["c"], "rejected": ["r"]})
    assert compare.articles_of(prefs, "preferences").values.tolist() == [["P", "c"]]


@pytest.fixture(scope="module")
def tiny():
    from rlhf_core.models.registry import load_policy

    return load_policy("tiny-init")


def test_grid_with_a_real_tiny_policy_is_deterministic_and_scored(tiny):
    calls = []
    kwargs = dict(temperatures=[0.3, 1.3], n=2, seed=7, persona="wire_editor", reference=REFERENCE,
                  max_new_tokens=8)
    first = compare.compare_grid([("tiny", tiny)], ARTICLE, progress=lambda *a: calls.append(a), **kwargs)
    second = compare.compare_grid([("tiny", tiny)], ARTICLE, **kwargs)
    assert list(first.columns) == compare.GRID_COLUMNS
    assert len(first) == 4 and calls[-1][:2] == (2, 2)
    pd.testing.assert_frame_equal(first, second)  # same seed, same output
    assert first["gold"].between(0, 1).all()
    assert first["rouge1"].between(0, 1).all()
    assert first["reward"].isna().all()  # no reward model given
    assert (first["length"] == first["headline"].str.split().str.len()).all()
    # A different seed samples different headlines (the tiny random policy is far from greedy).
    third = compare.compare_grid([("tiny", tiny)], ARTICLE, **{**kwargs, "seed": 8})
    assert third["headline"].tolist() != first["headline"].tolist()


def test_best_of_n_keeps_the_highest_reward_candidate(tiny):
    class LengthScorer:
        """A real scoring rule (longer headline = higher reward), so the pick is checkable."""

        def score(self, articles, headlines):
            return np.array([len(h) for h in headlines], dtype=float)

    from rlhf_core.models.generation import generate_headlines

    pool = generate_headlines(tiny, [ARTICLE], temperature=1.0, n=6, max_new_tokens=8, seed=3)[0]
    picked = compare.best_of_n(tiny, LengthScorer(), 3, max_new_tokens=8)([ARTICLE], temperature=1.0, n=2, seed=3)[0]
    assert picked == [max(pool[:3], key=len), max(pool[3:], key=len)]
    with pytest.raises(ValueError):
        compare.best_of_n(tiny, None, 3)
