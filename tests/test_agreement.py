"""Agreement estimators on hand-computed tables: Krippendorff's alpha, A/B agreement, Bradley-Terry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlhf_core.agreement import (
    ab_agreement,
    bradley_terry,
    bradley_terry_mm,
    krippendorff_alpha,
    rater_counts,
    win_matrix,
)


def _ratings(table: dict[str, list]) -> pd.DataFrame:
    """{rater: [stars per item or None]} -> a store-like ratings frame."""
    rows = [
        {"rater": rater, "article": f"art {i // 2}", "headline": f"head {i}", "score": s}
        for rater, scores in table.items()
        for i, s in enumerate(scores)
        if s is not None
    ]
    return pd.DataFrame(rows)


def _vote(rater, a, b, winner, src_a="p1", src_b="p2", article="art"):
    return {"rater": rater, "article": article, "headline_a": a, "headline_b": b,
            "source_a": src_a, "source_b": src_b, "winner": winner}


def test_alpha_is_one_for_identical_raters_and_negative_for_reversed():
    same = _ratings({"ann": [1, 2, 3, 4, 5], "bob": [1, 2, 3, 4, 5]})
    assert krippendorff_alpha(same) == pytest.approx(1.0)
    reversed_ = _ratings({"ann": [1, 2, 3, 4, 5], "bob": [5, 4, 3, 2, 1]})
    assert krippendorff_alpha(reversed_) < 0


def test_alpha_matches_the_package_on_a_matrix_with_gaps():
    import krippendorff

    table = {"ann": [1, 2, 3, 3, 2, 1, 4, 1, 2, None],
             "bob": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5],
             "cy": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5]}
    expected = krippendorff.alpha(
        reliability_data=np.array([[np.nan if v is None else v for v in row] for row in table.values()]),
        value_domain=[1, 2, 3, 4, 5], level_of_measurement="ordinal")
    assert krippendorff_alpha(_ratings(table)) == pytest.approx(expected)


def test_alpha_undefined_cases_are_nan():
    assert math.isnan(krippendorff_alpha(_ratings({"ann": [1, 2, 3]})))  # one rater
    assert math.isnan(krippendorff_alpha(_ratings({"ann": [1, 2, None], "bob": [None, None, 4]})))  # no overlap
    assert math.isnan(krippendorff_alpha(_ratings({"ann": [3, 3], "bob": [3, 3]})))  # one value only


def test_ab_agreement_ignores_side_swaps():
    votes = pd.DataFrame([
        _vote("ann", "X", "Y", "a"),
        _vote("bob", "Y", "X", "b"),   # same verdict (X), shown on the other side
        _vote("cy", "X", "Y", "b"),    # disagrees
        _vote("ann", "P", "Q", "tie"),
        _vote("bob", "Q", "P", "tie"),  # agrees (tie)
        _vote("ann", "M", "N", "a"),    # only one rater: not comparable
    ])
    result = ab_agreement(votes)
    # pair X/Y: ann-bob agree, ann-cy and bob-cy disagree; pair P/Q: one agreeing comparison.
    assert result["pairs"] == 2
    assert result["comparisons"] == 4
    assert result["agreement"] == pytest.approx(2 / 4)


def test_ab_agreement_without_overlap_is_nan():
    result = ab_agreement(pd.DataFrame([_vote("ann", "X", "Y", "a")]))
    assert result["pairs"] == 0 and math.isnan(result["agreement"])


def test_bradley_terry_mm_matches_the_closed_form_for_two_players():
    wins = np.array([[0.0, 3.0], [1.0, 0.0]])
    p = bradley_terry_mm(wins, prior=0.0)
    assert p[0] / p[1] == pytest.approx(3.0, rel=1e-6)  # MLE: p_i / p_j = w_ij / w_ji
    assert p.sum() == pytest.approx(1.0)


def test_bradley_terry_ranks_policies_and_counts_ties_and_skips_both_bad():
    votes = pd.DataFrame(
        [_vote("r", f"a{i}", f"b{i}", "a", "rlhf", "base") for i in range(6)]
        + [_vote("r", f"c{i}", f"d{i}", "b", "base", "rlhf") for i in range(2)]  # rlhf wins when on side B too
        + [_vote("r", "e", "f", "a", "base", "rlhf")]
        + [_vote("r", "g", "h", "tie", "sft", "base"), _vote("r", "i", "j", "both_bad", "sft", "rlhf")]
        + [_vote("r", "k", "l", "a", "sft", "sft")]  # same policy: no information
    )
    policies, wins, ties = win_matrix(votes)
    assert policies == ["base", "rlhf", "sft"]
    table = bradley_terry(votes)
    assert table["policy"].tolist()[0] == "rlhf"
    rlhf = table.set_index("policy").loc["rlhf"]
    assert (rlhf.wins, rlhf.losses, rlhf.ties) == (8, 1, 0)
    sft = table.set_index("policy").loc["sft"]
    assert (sft.wins, sft.losses, sft.ties, sft.games) == (0, 0, 1, 1)  # both_bad and self-votes skipped
    assert table["strength"].sum() == pytest.approx(1.0)
    assert table["elo"].is_monotonic_decreasing


def test_bradley_terry_on_empty_votes():
    assert bradley_terry(pd.DataFrame(columns=["rater", "article", "headline_a", "headline_b",
                                               "source_a", "source_b", "winner"])).empty


def test_rater_counts():
    ratings = _ratings({"ann": [1, 2, 3], "bob": [4, None, None]})
    votes = pd.DataFrame([_vote("bob", "X", "Y", "a"), _vote("cy", "X", "Y", "a")])
    table = rater_counts(ratings, votes).set_index("rater")
    assert table.loc["ann"].tolist() == [3, 0, 3]
    assert table.loc["bob"].tolist() == [1, 1, 2]
    assert table.loc["cy"].tolist() == [0, 1, 1]
