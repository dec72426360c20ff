"""Win rates, bootstrap intervals, Bradley-Terry with intervals, and Gao et al.'s over-optimisation fits.

Each estimator is checked against scipy (or brute force) on fixed inputs, and the intervals against
a known value on synthetic data: they must cover it at about the stated rate.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats as sps

from rlhf_core.agreement import bradley_terry
from rlhf_core.evaluation import overoptimisation as oo
from rlhf_core.evaluation.stats import bootstrap_interval, human_win_rate, leaderboard, win_fraction, win_rate


def test_win_fraction_is_mann_whitney_u_over_pairs_with_ties_half():
    a = [0.9, 0.5, 0.5, 0.2]
    b = [0.5, 0.1, 0.7]
    u = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").statistic  # ties count 0.5 in U
    assert win_fraction(a, b) == pytest.approx(u / (len(a) * len(b)))
    # by hand: 0.9 beats all 3; each 0.5 beats 0.1, ties 0.5, loses to 0.7 -> 1.5; 0.2 beats 0.1 -> 1
    assert win_fraction(a, b) == pytest.approx((3 + 1.5 + 1.5 + 1) / 12)
    assert win_fraction([0.3], [0.3]) == 0.5 and win_fraction([1.0], [0.0]) == 1.0


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap():
    values = np.random.default_rng(3).uniform(0, 1, 50)
    estimate, low, high = bootstrap_interval(values, rounds=20_000, seed=1)
    reference = sps.bootstrap((values,), np.mean, n_resamples=20_000, method="percentile", confidence_level=0.95,
                              random_state=np.random.default_rng(2)).confidence_interval
    assert estimate == pytest.approx(values.mean())
    assert low == pytest.approx(reference.low, abs=0.01) and high == pytest.approx(reference.high, abs=0.01)
    # a ratio estimate: wins / votes per article, the articles resampled together with their votes
    estimate, low, high = bootstrap_interval([2, 0, 3], [2, 1, 4], rounds=500)
    assert estimate == pytest.approx(5 / 7) and 0 <= low <= estimate <= high <= 1


def test_win_rate_intervals_cover_the_true_rate_at_about_95_percent():
    """Synthetic articles where P(win) = 0.45 and P(tie) = 0.2, so the true rate is 0.55: the 95% interval
    must contain 0.55 in about 95 of 100 repeated experiments (percentile bootstrap: a little under)."""
    rng = np.random.default_rng(0)
    trials, articles, covered = 300, 60, 0
    for trial in range(trials):
        # 2 headlines per article scoring 1 / 0.5 / 0 against a baseline headline scoring 0.5: win / tie / loss
        policy = rng.choice([1.0, 0.5, 0.0], size=(articles, 2), p=[0.45, 0.2, 0.35]).tolist()
        result = win_rate(policy, [[0.5]] * articles, rounds=400, seed=trial)
        covered += result["low"] <= 0.55 <= result["high"]
        assert result["articles"] == articles and result["low"] <= result["rate"] <= result["high"]
    assert 0.90 <= covered / trials <= 0.985, covered / trials


def votes_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["rater", "article", "source_a", "source_b", "winner"]).assign(
        headline_a="x", headline_b="y")


def test_human_win_rate_counts_ties_half_ignores_both_bad_and_other_pairs():
    votes = votes_frame([
        ("ann", "art1", "run: g", "run: s", "a"),       # g wins
        ("bob", "art1", "run: s", "run: g", "b"),       # g wins (shown on the right)
        ("ann", "art2", "run: s", "run: g", "tie"),     # half
        ("bob", "art2", "run: s", "run: g", "a"),       # s wins
        ("cid", "art3", "run: g", "run: s", "both_bad"),  # says nothing: left out
        ("cid", "art3", "run: g", "preset: tiny", "a"),   # another pair: left out
    ])
    result = human_win_rate(votes, "run: g", "run: s", rounds=500)
    assert result["rate"] == pytest.approx(2.5 / 4) and result["votes"] == 4 and result["articles"] == 2
    assert human_win_rate(votes, "run: g", "run: nobody") is None and human_win_rate(None, "a", "b") is None


def test_leaderboard_matches_a_scipy_maximum_likelihood_fit_and_brackets_it():
    rows = [("r", f"art{i}", "A", "B", "a") for i in range(8)] + [("r", f"art{i}", "B", "A", "a") for i in range(2)]
    rows += [("r", f"c{i}", "B", "C", "a") for i in range(6)] + [("r", f"c{i}", "C", "B", "tie") for i in range(2)]
    rows += [("r", "d", "A", "C", "a"), ("r", "e", "A", "C", "both_bad")]
    votes = votes_frame(rows)
    board = leaderboard(votes, rounds=300, seed=0)
    assert board["policy"].tolist() == ["A", "B", "C"]
    assert (board["elo_low"] <= board["elo"]).all() and (board["elo"] <= board["elo_high"]).all()
    assert board["elo"].tolist() == pytest.approx(bradley_terry(votes)["elo"].tolist())
    # the same model by scipy: maximise sum_ij w_ij log sigmoid(s_i - s_j), ties half a win, prior 0.5 virtual ties
    names = ["A", "B", "C"]
    w = np.zeros((3, 3))
    for _, _, a, b, winner in rows:
        i, j = names.index(a), names.index(b)
        if winner == "a":
            w[i, j] += 1
        elif winner == "tie":
            w[i, j] += 0.5
            w[j, i] += 0.5
    w += 0.25 * (1 - np.eye(3))

    def nll(s):
        diff = s[:, None] - s[None, :]
        return -(w * -np.logaddexp(0, -diff)).sum()

    s = optimize.minimize(nll, np.zeros(3), method="BFGS").x
    elo = 400 * (s - s.mean()) / math.log(10) + 1000
    assert board.set_index("policy").loc[names, "elo"].tolist() == pytest.approx(elo.tolist(), abs=0.5)


def test_empty_votes_give_an_empty_leaderboard():
    assert leaderboard(None).empty and list(leaderboard(None).columns)[:2] == ["policy", "elo"]


@pytest.mark.parametrize("family,form,fit", [("rl", oo.rl_form, oo.fit_rl), ("bon", oo.bon_form, oo.fit_bon)])
def test_fits_recover_alpha_and_beta_from_points_of_the_formula(family, form, fit):
    d = np.sqrt([oo.bon_kl(n) for n in (2, 4, 8, 16, 32, 64)]) if family == "bon" else np.linspace(0.2, 3.0, 9)
    alpha, beta = 0.30, 0.12
    assert fit(d, form(d, alpha, beta)) == pytest.approx((alpha, beta), abs=1e-9)
    # with noise: the same least squares as scipy's curve_fit
    noisy = form(d, alpha, beta) + np.random.default_rng(0).normal(0, 0.01, d.size)
    ours = fit(d, noisy)
    theirs, _ = optimize.curve_fit(lambda x, a, b: form(x, a, b), d, noisy, p0=(0.1, 0.1))
    assert ours == pytest.approx(tuple(theirs), abs=1e-6)
    assert fit([0.5], [0.1]) is None  # one point cannot fix two parameters


def test_peaks_are_where_the_fitted_curves_turn_down():
    grid = np.linspace(1e-4, 10, 200_001)
    for form, peak, (alpha, beta) in ((oo.rl_form, oo.rl_peak, (0.3, 0.2)), (oo.bon_form, oo.bon_peak, (0.3, 0.1))):
        assert peak(alpha, beta) == pytest.approx(grid[np.argmax(form(grid, alpha, beta))], abs=1e-3)
    assert oo.rl_peak(0.3, -0.1) is None and oo.bon_peak(0.3, 0.0) is None
    summary = oo.fit_summary("bon", [0.5, 1.0, 1.5], 0.4 + oo.bon_form(np.array([0.5, 1.0, 1.5]), 0.3, 0.1), 0.4)
    assert summary["peak_d"] == pytest.approx(1.5) and summary["peak_value"] == pytest.approx(0.4 + 0.3 * 1.5 - 0.1 * 2.25)


def test_best_of_n_kl_and_expected_pick_by_brute_force():
    assert oo.bon_kl(1) == 0.0 and oo.bon_kl(2) == pytest.approx(math.log(2) - 0.5)
    proxy = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2]
    gold = [0.6, 0.1, 0.4, 0.8, 0.3, 0.5]
    for n in range(1, 7):
        picks = [max(subset, key=lambda i: proxy[i]) for subset in itertools.combinations(range(6), n)]
        best_proxy, best_gold = oo.expected_best_of_n(proxy, gold, n)
        assert best_proxy == pytest.approx(np.mean([proxy[i] for i in picks]))
        assert best_gold == pytest.approx(np.mean([gold[i] for i in picks]))
    with pytest.raises(ValueError):
        oo.expected_best_of_n(proxy, gold, 7)
