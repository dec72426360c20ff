"""Smoke test on the real MiniLM backbone (from its pip package): 2 fine-tuning steps, then scoring."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rlhf_core.paths import sample_data_dir
from rlhf_core.reward.config import RewardConfig
from rlhf_core.reward.data import load_training_files
from rlhf_core.reward.scorer import load_scorer
from rlhf_core.reward.train import train_reward


@pytest.mark.real_model
def test_minilm_two_steps_and_score(tmp_path):
    ratings, _, _ = load_training_files([sample_data_dir() / "realstyle_headlines.csv"])
    cfg = RewardConfig(backbone="minilm", max_steps=2, batch_size=8, max_length=64, val_fraction=0.2, eval_every=2)
    rows = list(train_reward(cfg, ratings, None, tmp_path))
    assert math.isfinite(rows[-2]["loss/train"]) and math.isfinite(rows[-2]["eval/spearman"])
    meta = json.loads((tmp_path / "model" / "studio_reward.json").read_text())
    assert meta["backbone"] == "minilm" and meta["steps_done"] == 2
    scores = load_scorer(tmp_path).score(ratings.article[:4].tolist(), ratings.headline[:4].tolist())
    assert scores.shape == (4,) and np.all((scores > 0) & (scores < 1))
