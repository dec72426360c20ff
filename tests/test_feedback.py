"""Flow back: collected ratings / votes -> training tables, 'new since the model', and a quick retrain
on ratings from a synthetic persona that measurably improves the reward model on held-out articles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from rlhf_core import feedback
from rlhf_core.data.schema import COLUMNS
from rlhf_core.store import RatingsStore


def test_collected_ratings_average_raters_and_normalise():
    store = RatingsStore()
    store.add_rating("art", "head", 5, "ann")
    store.add_rating("art", "head", 2, "ben")
    store.add_rating("art", "other", 1, "ann")
    table = feedback.collected_ratings(store.ratings_frame())
    assert list(table.columns) == COLUMNS["ratings"]
    row = table.set_index("headline").loc["head"]
    assert row.score_raw == pytest.approx(3.5) and row.score == pytest.approx(0.625)
    assert table.set_index("headline").loc["other", "score"] == 0.0
    assert set(table["source"]) == {feedback.RATINGS_SOURCE}


def test_collected_preferences_by_majority_drop_ties_and_cancelled_pairs():
    store = RatingsStore()
    store.add_vote("art", "X", "Y", "a", "ann")
    store.add_vote("art", "Y", "X", "b", "ben")   # X again, shown on the other side
    store.add_vote("art", "X", "Y", "b", "cy")    # one vote for Y: X still wins 2-1
    store.add_vote("art", "P", "Q", "a", "ann")
    store.add_vote("art", "P", "Q", "b", "ben")   # 1-1: no preference
    store.add_vote("art", "M", "N", "tie", "ann")
    store.add_vote("art", "K", "L", "both_bad", "ann")
    table = feedback.collected_preferences(store.votes_frame())
    assert list(table.columns) == COLUMNS["preferences"]
    assert table[["prompt", "chosen", "rejected"]].values.tolist() == [["art", "X", "Y"]]


def test_merge_removes_duplicates_and_the_collected_row_wins():
    base = pd.DataFrame({"article": ["a", "a"], "headline": ["h1", "h2"], "score": [0.0, 0.5],
                         "score_raw": [1, 3], "weight": [1.0, 2.0], "source": ["file", "file"]})
    collected = pd.DataFrame({"article": ["a"], "headline": ["h1"], "score": [1.0], "score_raw": [5],
                              "weight": [1.0], "source": ["app:ratings"]})
    merged = feedback.merge_tables(base, collected, "ratings")
    assert len(merged) == 2
    assert merged.set_index("headline").loc["h1", "score"] == 1.0
    prefs = pd.DataFrame({"prompt": ["a"], "chosen": ["x"], "rejected": ["y"], "margin": [0.2], "weight": [1.0],
                          "source": ["file"]})
    flipped = prefs.assign(chosen="y", rejected="x", margin=0.0, source="app:votes")
    merged = feedback.merge_tables(prefs, flipped, "preferences")
    assert merged[["chosen", "rejected", "source"]].values.tolist() == [["y", "x", "app:votes"]]
    with pytest.raises(ValueError):
        feedback.merge_tables(base, collected, "demonstrations")


def test_count_new_follows_the_snapshot(tmp_path):
    store = RatingsStore()
    assert feedback.count_new(store, None) == {"ratings": 0, "votes": 0}
    store.add_rating("art", "one", 4, "ann")
    store.add_vote("art", "one", "two", "a", "ann")
    _, _, snapshot = feedback.training_tables(store)
    feedback.write_snapshot(tmp_path / "run", snapshot)
    model_dir = tmp_path / "run" / "model"
    assert feedback.count_new(store, model_dir) == {"ratings": 0, "votes": 0}
    store.add_rating("art", "two", 2, "ann")
    store.add_rating("art", "two", 3, "ben")
    assert feedback.count_new(store, model_dir) == {"ratings": 2, "votes": 0}
    assert feedback.count_new(store, tmp_path / "elsewhere") == {"ratings": 3, "votes": 1}  # no snapshot: all new


def test_quick_retrain_needs_data(tmp_path):
    with pytest.raises(ValueError, match="nothing to train"):
        next(feedback.quick_retrain(None, None, tmp_path))


def test_ratings_collected_for_a_persona_improve_the_reward_model_on_held_out_articles(tmp_path):
    """4 rated articles in the dataset, then two raters (the wire_editor persona, with rater noise)
    rate 30 more articles' headlines in the app. Retraining the quick reward model on the dataset
    merged with those ratings must rank 15 unseen articles' headlines closer to the persona's gold."""
    from rlhf_core.data.personas import get_persona
    from rlhf_core.data.synth import candidate_headlines, generate_articles
    from rlhf_core.reward.scorer import load_scorer

    persona = get_persona("wire_editor")
    articles = generate_articles(49, 11)

    def headlines(index):
        return [h for _, h in candidate_headlines(articles[index], np.random.default_rng([11, index]))]

    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        for h in headlines(i):
            stars = persona.rate(articles[i].text, h, rng)
            rows.append({"article": articles[i].text, "headline": h, "score": (stars - 1) / 4, "score_raw": stars,
                         "weight": 1.0, "source": "dataset"})
    dataset = pd.DataFrame(rows, columns=COLUMNS["ratings"])
    store = RatingsStore()
    for seed, rater in enumerate(("ann", "ben"), start=100):
        rater_rng = np.random.default_rng(seed)
        for i in range(4, 34):
            for h in headlines(i):
                store.add_rating(articles[i].text, h, persona.rate(articles[i].text, h, rater_rng), rater)
    held_out = [(articles[i].text, h) for i in range(34, 49) for h in headlines(i)]
    gold = [persona.score(a, h) for a, h in held_out]

    def held_out_spearman(model_dir):
        scores = load_scorer(model_dir).score([a for a, _ in held_out], [h for _, h in held_out])
        return spearmanr(scores, gold).statistic

    before_dir, after_dir = tmp_path / "before", tmp_path / "after"
    for _ in feedback.quick_retrain(dataset, None, before_dir, backbone="tiny"):
        pass
    rows_seen = list(feedback.retrain_from_store(store, after_dir, dataset=dataset, backbone="tiny"))
    assert rows_seen and all(np.isfinite(r.get("loss/train", 0.0)) for r in rows_seen)
    before, after = held_out_spearman(before_dir / "model"), held_out_spearman(after_dir / "model")
    assert after > before + 0.1, (before, after)
    assert after > 0.3
    assert feedback.count_new(store, after_dir / "model") == {"ratings": 0, "votes": 0}
    store.add_rating(articles[40].text, "A brand new headline", 3, "ann")
    assert feedback.count_new(store, after_dir / "model")["ratings"] == 1
