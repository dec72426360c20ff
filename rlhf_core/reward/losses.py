"""Reward-model losses: small pure tensor functions, one per objective, plus a registry.

Shapes: B = rated (article, headline) rows in a batch, P = preference pairs in a batch.
The reward model outputs one logit per (article, headline) pair: `r = logit`, and the reward
shown to users and to the policy is `sigmoid(r)` in (0, 1).

- pointwise (the seed's objective, fixed): MSE between sigmoid(r) and the score normalised to
  [0, 1]. The seed regressed sigmoid(r) against raw 1-5 scores, a target it can never reach.
- pairwise (Christiano et al. 2017; Ouyang et al. 2022; TRL RewardTrainer): Bradley-Terry
  negative log-likelihood that the chosen headline beats the rejected one, with an optional
  margin (Touvron et al. 2023, Llama 2) and optional reward centring (Eisenstein et al. 2023).
- both: the sum of the two.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """sum_i w_i v_i / sum_i w_i (plain mean when `weights` is None)."""
    if weights is None:
        return values.mean()
    weights = weights.to(values.dtype)
    return (weights * values).sum() / weights.sum().clamp_min(1e-12)


def pointwise_mse(rewards: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted MSE between predicted rewards and normalised human scores (the seed's objective).

        L = sum_i w_i (sigmoid(r_i) - y_i)^2 / sum_i w_i,   y_i = (s_i - s_min) / (s_max - s_min) in [0, 1]

    Args:
        rewards: sigmoid of the reward logits, in (0, 1).   # (B,)
        targets: human scores normalised to [0, 1].          # (B,)
        weights: per-example weights, e.g. 2 for expert data as in the seed.  # (B,) or None
    Returns:
        A scalar loss.
    """
    return _weighted_mean((rewards - targets) ** 2, weights)


def bradley_terry(
    r_chosen: torch.Tensor,
    r_rejected: torch.Tensor,
    margin: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bradley-Terry pairwise loss on reward logits (Christiano et al. 2017; TRL RewardTrainer form).

        P(chosen > rejected) = sigmoid(r_c - r_r)
        L = -sum_p w_p log sigmoid(r_c,p - r_r,p - m_p) / sum_p w_p

    With a margin m_p > 0 (Llama 2, Touvron et al. 2023) the chosen reward must exceed the rejected
    one by at least about m_p before the loss flattens: clearer preferences push harder.

    Args:
        r_chosen, r_rejected: reward logits.  # (P,)
        margin: non-negative margins, e.g. the normalised score gap.  # (P,) or None
        weights: per-pair weights.  # (P,) or None
    """
    diff = r_chosen - r_rejected  # (P,)
    if margin is not None:
        diff = diff - margin
    return _weighted_mean(-F.logsigmoid(diff), weights)


def reward_centering(r_chosen: torch.Tensor, r_rejected: torch.Tensor, coef: float) -> torch.Tensor:
    """Auxiliary loss that keeps rewards centred on zero (Eisenstein et al. 2023; TRL's center_rewards_coefficient).

        L_c = coef * mean_p (r_c,p + r_r,p)^2

    Bradley-Terry only sees reward differences, so the absolute level drifts freely; this term pins
    the mean near 0, i.e. sigmoid(r) near 0.5 for an average headline.
    """
    return coef * ((r_chosen + r_rejected) ** 2).mean()


# ---------------------------------------------------------------------------------------------
# Objectives: each term reads a dict of batch tensors and returns (name, scalar loss).
# Keys: "logits" (B,), "targets" (B,), "weights" (B,), "r_chosen" (P,), "r_rejected" (P,),
# "margin" (P,), "pair_weights" (P,). A term whose rows are missing in the batch contributes 0.
# ---------------------------------------------------------------------------------------------
Term = Callable[[dict, float], torch.Tensor | None]


def _pointwise_term(batch: dict, center_coef: float) -> torch.Tensor | None:
    if batch.get("logits") is None or batch["logits"].numel() == 0:
        return None
    return pointwise_mse(torch.sigmoid(batch["logits"]), batch["targets"], batch.get("weights"))


def _pairwise_term(batch: dict, center_coef: float) -> torch.Tensor | None:
    if batch.get("r_chosen") is None or batch["r_chosen"].numel() == 0:
        return None
    loss = bradley_terry(batch["r_chosen"], batch["r_rejected"], batch.get("margin"), batch.get("pair_weights"))
    if center_coef > 0:
        loss = loss + reward_centering(batch["r_chosen"], batch["r_rejected"], center_coef)
    return loss


LOSSES: dict[str, dict[str, Term]] = {
    "pointwise": {"pointwise": _pointwise_term},
    "pairwise": {"pairwise": _pairwise_term},
    "both": {"pointwise": _pointwise_term, "pairwise": _pairwise_term},
}


def objective_loss(objective: str, batch: dict, center_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss of an objective from LOSSES (the sum of its terms) and each term's value.

    Returns (loss, parts) where parts maps "loss/pointwise" / "loss/pairwise" to floats.
    Raises ValueError when the batch holds no rows any term can use.
    """
    total, parts = None, {}
    for name, term in LOSSES[objective].items():
        value = term(batch, center_coef)
        if value is None:
            continue
        parts[f"loss/{name}"] = float(value.detach())
        total = value if total is None else total + value
    if total is None:
        raise ValueError(f"a '{objective}' batch needs rated rows or preference pairs; it had neither")
    return total, parts
