"""Reward losses on hand-computed tensors, the objective registry, and RewardConfig checks."""

from __future__ import annotations

import math

import pytest
import torch

from rlhf_core.errors import ConfigError
from rlhf_core.reward.config import RewardConfig, field_help
from rlhf_core.reward.losses import LOSSES, bradley_terry, objective_loss, pointwise_mse, reward_centering


def test_pointwise_mse_hand_computed():
    rewards, targets = torch.tensor([0.5, 0.8]), torch.tensor([0.0, 1.0])
    assert pointwise_mse(rewards, targets).item() == pytest.approx((0.25 + 0.04) / 2)
    weighted = pointwise_mse(rewards, targets, torch.tensor([1.0, 3.0]))  # expert rows count x3
    assert weighted.item() == pytest.approx((0.25 + 3 * 0.04) / 4)


def test_bradley_terry_hand_computed():
    r_c, r_r = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    nll = lambda d: -math.log(1 / (1 + math.exp(-d)))  # noqa: E731
    assert bradley_terry(r_c, r_r).item() == pytest.approx((nll(2) + nll(0)) / 2, rel=1e-6)
    with_margin = bradley_terry(r_c, r_r, margin=torch.tensor([1.0, 0.0]))
    assert with_margin.item() == pytest.approx((nll(1) + nll(0)) / 2, rel=1e-6)
    weighted = bradley_terry(r_c, r_r, weights=torch.tensor([0.0, 1.0]))
    assert weighted.item() == pytest.approx(nll(0), rel=1e-6)


def test_bradley_terry_gradient_pushes_chosen_up():
    r_c = torch.tensor([0.3], requires_grad=True)
    r_r = torch.tensor([0.5], requires_grad=True)
    bradley_terry(r_c, r_r).backward()
    assert r_c.grad.item() < 0 < r_r.grad.item()  # gradient descent raises r_c and lowers r_r


def test_reward_centering_hand_computed():
    r_c, r_r = torch.tensor([1.0, 2.0]), torch.tensor([1.0, -2.0])
    assert reward_centering(r_c, r_r, 0.01).item() == pytest.approx(0.01 * (4.0 + 0.0) / 2)


def _batch():
    return {"logits": torch.tensor([0.0, 2.0]), "targets": torch.tensor([0.5, 1.0]), "weights": torch.ones(2),
            "r_chosen": torch.tensor([1.0]), "r_rejected": torch.tensor([-1.0]), "margin": torch.zeros(1),
            "pair_weights": torch.ones(1)}


def test_objective_registry_sums_terms():
    assert set(LOSSES) == {"pointwise", "pairwise", "both"}
    batch = _batch()
    point, p_parts = objective_loss("pointwise", batch)
    pair, q_parts = objective_loss("pairwise", batch)
    both, parts = objective_loss("both", batch)
    assert both.item() == pytest.approx(point.item() + pair.item())
    assert set(parts) == {"loss/pointwise", "loss/pairwise"} and set(p_parts) == {"loss/pointwise"}
    sig2 = 1 / (1 + math.exp(-2))
    assert point.item() == pytest.approx(((0.5 - 0.5) ** 2 + (sig2 - 1.0) ** 2) / 2, rel=1e-6)
    centred, _ = objective_loss("pairwise", batch, center_coef=0.5)
    assert centred.item() == pytest.approx(pair.item())  # r_c + r_r = 0: nothing to centre


def test_objective_without_rows_raises():
    batch = _batch()
    batch["r_chosen"] = batch["r_rejected"] = torch.zeros(0)
    with pytest.raises(ValueError, match="pairwise"):
        objective_loss("pairwise", batch)
    loss, parts = objective_loss("both", batch)  # pointwise rows still there
    assert set(parts) == {"loss/pointwise"} and torch.isfinite(loss)


def test_config_checks_and_help():
    cfg = RewardConfig()
    assert cfg.backbone == "minilm" and cfg.objective == "both" and cfg.expert_weight == 2.0
    with pytest.raises(ConfigError, match="objective"):
        RewardConfig(objective="listwise")
    with pytest.raises(ConfigError, match="centring"):
        RewardConfig(objective="pointwise", center_rewards_coef=0.01)
    with pytest.raises(ConfigError):
        RewardConfig(lr=0)
    with pytest.raises(ConfigError):
        RewardConfig(val_fraction=0)
    with pytest.raises(Exception):
        cfg.lr = 1.0  # frozen
    assert "Christiano" in field_help("objective")
    assert RewardConfig.from_dict({**cfg.to_dict(), "unknown": 1}) == cfg
    for name in cfg.to_dict():
        assert field_help(name), name
