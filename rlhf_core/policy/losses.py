"""Pure loss functions and estimators of policy optimisation (SFT, PPO, GRPO, RLOO, DPO, KTO).

Each function is a few lines of tensor algebra with its equation and paper; trainers call them
and never branch on a loss name (variants come from the small registries at the bottom).
Shapes: B = completions in the batch, C = completion tokens (right-padded), G = group size.
`mask` is 1 for real completion tokens (the stop token included) and 0 for padding.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `x` over the positions where `mask` is 1 (all of them, or along `dim`)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp_min(1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp_min(1.0)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(x - mean) / std over the masked positions: PPO's advantage normalisation (Schulman 2017 code)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    whitened = (x - mean) * torch.rsqrt(var + 1e-8)
    return whitened if shift_mean else whitened + mean


# ----------------------------------------------------------------------------------------- SFT
def sft_nll(logprobs: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted negative log-likelihood of demonstration tokens (supervised fine-tuning).

        L = - sum_i w_i sum_t m_it log pi(y_it | x_i, y_i<t)  /  sum_i w_i sum_t m_it

    Ouyang et al. 2022 (InstructGPT, step 1). The seed weights expert demonstrations x2: an
    expert headline counts as two ordinary ones (w_i = 2).
    Args: logprobs (B, C) of the target tokens, mask (B, C), weights (B,).
    """
    token_weights = mask.to(logprobs.dtype) * weights.to(logprobs.dtype)[:, None]  # (B, C)
    return -(logprobs * token_weights).sum() / token_weights.sum().clamp_min(1e-8)


# ----------------------------------------------------------------------------------------- KL
def kl_k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate k1 = log pi(y_t) - log pi_ref(y_t) (unbiased, can be negative).  # (B, C)

    This is the per-token KL penalty of Ziegler et al. 2019 / Stiennon et al. 2020 / Ouyang et al.
    2022: the PPO reward of token t is -beta * k1_t, plus the reward-model score on the last token.
    """
    return logprobs - ref_logprobs


per_token_kl_penalty = kl_k1  # the name the PPO papers use for the same quantity


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(pi || pi_ref), per token, always >= 0.  # (B, C)

        k3 = exp(log pi_ref - log pi) - (log pi_ref - log pi) - 1

    Unbiased for samples y ~ pi with lower variance than k1 (http://joschu.net/blog/kl-approx.html);
    GRPO (Shao et al. 2024, DeepSeekMath eq. 4) adds beta * k3 to the per-token loss.
    """
    log_ratio = ref_logprobs - logprobs  # (B, C)
    return torch.exp(log_ratio) - log_ratio - 1.0


# ----------------------------------------------------------------------------------------- PPO
def ppo_clipped_surrogate(logprobs, old_logprobs, advantages, mask, clip_eps: float):
    """PPO's clipped surrogate objective, as a loss to minimise (Schulman et al. 2017, eq. 7).

        ratio_t = pi(y_t) / pi_old(y_t)
        L = E_t[ max(-A_t * ratio_t, -A_t * clip(ratio_t, 1 - eps, 1 + eps)) ]

    Args: logprobs, old_logprobs (B, C); advantages (B, C) or (B,) (one per completion); mask (B, C).
    Returns: (loss, clipfrac) where clipfrac is the share of tokens whose ratio left [1-eps, 1+eps].
    """
    if advantages.dim() == 1:
        advantages = advantages[:, None]  # (B, 1): the same advantage for every token
    ratio = torch.exp(logprobs - old_logprobs)  # (B, C)
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    loss = masked_mean(torch.max(pg_loss1, pg_loss2), mask)
    clipfrac = masked_mean(((ratio - 1.0).abs() > clip_eps).float(), mask)
    return loss, clipfrac.detach()


def value_loss_clipped(values, old_values, returns, mask, clip_eps_value: float) -> torch.Tensor:
    """Clipped value loss of PPO's reference code (baselines ppo2; Ziegler et al. 2019).

        V_clip = V_old + clip(V - V_old, -eps_v, eps_v)
        L_V = 1/2 E_t[ max((V - R)^2, (V_clip - R)^2) ]
    Args: values, old_values, returns, mask: all (B, C).
    """
    values_clipped = old_values + torch.clamp(values - old_values, -clip_eps_value, clip_eps_value)
    loss1 = (values - returns) ** 2
    loss2 = (values_clipped - returns) ** 2
    return 0.5 * masked_mean(torch.max(loss1, loss2), mask)


def gae(rewards, values, mask, gamma: float, lam: float):
    """Generalised advantage estimation (Schulman et al. 2016), per token, backwards in time.

        delta_t = r_t + gamma * V_{t+1} - V_t           (V_{t+1} = 0 after the last real token)
        A_t = delta_t + gamma * lambda * A_{t+1}          returns R_t = A_t + V_t
    Args: rewards, values, mask: (B, C), right-padded. Returns: (advantages, returns), each (B, C).
    """
    B, C = rewards.shape
    mask = mask.to(values.dtype)
    next_value = torch.zeros(B, dtype=values.dtype, device=values.device)  # (B,)
    next_advantage = torch.zeros_like(next_value)
    advantages = torch.zeros_like(values)  # (B, C)
    for t in reversed(range(C)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_advantage) * mask[:, t]
        next_value, next_advantage = values[:, t] * mask[:, t], advantages[:, t]
    return advantages, (advantages + values) * mask


def adaptive_kl_controller(beta: float, kl: float, target: float, horizon: int, n_steps: int) -> float:
    """Adaptive KL coefficient (Ziegler et al. 2019, section 2.2): steer the KL towards `target`.

        e_t = clip(KL_t / target - 1, -0.2, 0.2)        beta_{t+1} = beta_t * (1 + K_beta * e_t)
    with K_beta = n_steps / horizon (n_steps = completions seen in this update).
    """
    proportional_error = min(max(kl / target - 1.0, -0.2), 0.2)
    return beta * (1.0 + proportional_error * n_steps / horizon)


# ---------------------------------------------------------------------------------------- GRPO
def grpo_advantages(rewards: torch.Tensor, group_size: int, scale: str = "std", eps: float = 1e-4) -> torch.Tensor:
    """Group-relative advantages (Shao et al. 2024, DeepSeekMath, outcome supervision).

        A_i = (r_i - mean(r_group)) / (std(r_group) + eps)     scale = "std"   (GRPO; std is unbiased, as TRL)
        A_i =  r_i - mean(r_group)                             scale = "none"  (Dr. GRPO, Liu et al. 2025)
    Args: rewards (B,) with the G completions of each prompt adjacent (B = prompts x G). Returns (B,).
    """
    grouped = rewards.view(-1, group_size)  # (B/G, G)
    advantages = grouped - grouped.mean(dim=1, keepdim=True)
    if scale == "std":
        advantages = advantages / (grouped.std(dim=1, keepdim=True) + eps)
    elif scale != "none":
        raise ValueError(f"scale must be 'std' or 'none', not {scale!r}")
    return advantages.reshape(-1)


def _aggregate_grpo(per_token_loss, mask, max_completion_length):
    """GRPO (Shao 2024): mean over each completion's tokens, then over completions."""
    return masked_mean(per_token_loss, mask, dim=1).mean()


def _aggregate_bnpo(per_token_loss, mask, max_completion_length):
    """BNPO / DAPO token-level: one mean over every token in the batch (Yu et al. 2025)."""
    return masked_mean(per_token_loss, mask)


def _aggregate_dr_grpo(per_token_loss, mask, max_completion_length):
    """Dr. GRPO (Liu et al. 2025): sum over tokens / (B x max completion length): no length bias."""
    return (per_token_loss * mask).sum() / (per_token_loss.shape[0] * max_completion_length)


GRPO_AGGREGATORS: dict[str, Callable] = {"grpo": _aggregate_grpo, "bnpo": _aggregate_bnpo, "dr_grpo": _aggregate_dr_grpo}


def grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta: float, clip_eps: float,
              loss_type: str = "grpo", max_completion_length: int | None = None):
    """GRPO objective as a loss (Shao et al. 2024, eq. 3), written as TRL's GRPOTrainer computes it.

        ratio_t = exp(log pi - log pi_old)
        l_t = -min(ratio_t * A, clip(ratio_t, 1 - eps, 1 + eps) * A) + beta * k3_t(pi || pi_ref)
        L = aggregate_{loss_type}(l, mask)            (see GRPO_AGGREGATORS)
    Args: logprobs, old_logprobs, ref_logprobs, mask (B, C) (ref may be None when beta = 0);
        advantages (B,). Returns (loss, {"clipfrac", "kl"}) with detached statistics.
    """
    ratio = torch.exp(logprobs - old_logprobs)  # (B, C)
    A = advantages[:, None]  # (B, 1)
    per_token_loss = -torch.min(ratio * A, torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * A)
    kl = kl_k3(logprobs, ref_logprobs) if ref_logprobs is not None else torch.zeros_like(logprobs)
    per_token_loss = per_token_loss + beta * kl
    loss = GRPO_AGGREGATORS[loss_type](per_token_loss, mask, max_completion_length or mask.shape[1])
    clipped = ((ratio < 1.0 - clip_eps) & (A < 0)) | ((ratio > 1.0 + clip_eps) & (A > 0))  # TRL's definition
    return loss, {"clipfrac": masked_mean(clipped.float(), mask).detach(), "kl": masked_mean(kl, mask).detach()}


# ---------------------------------------------------------------------------------------- RLOO
def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Leave-one-out advantages (Ahmadian et al. 2024, eq. 5; Kool et al. 2019): each completion's
    baseline is the mean reward of the other k - 1 completions of its prompt, so it needs no value network
    and stays unbiased (a completion's own reward is not in its baseline).

        b_i = 1/(k-1) sum_{j != i} r_j          A_i = r_i - b_i
    Args: rewards (B,) with the k completions of each prompt adjacent (B = prompts x k). Returns (B,).
    """
    grouped = rewards.view(-1, group_size)  # (B/k, k)
    baseline = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)  # (B/k, k)
    return (grouped - baseline).reshape(-1)


def rloo_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, clip_eps: float):
    """RLOO's REINFORCE loss on whole headlines (Ahmadian et al. 2024, eq. 6), clipped as TRL's RLOOTrainer
    clips it when a batch is reused; each completion is one action, so the ratio is of sequence probabilities.

        ratio_i = exp(log pi(y_i | x) - log pi_old(y_i | x))           log pi(y | x) = sum_t log pi(y_t | ...)
        L = -1/B sum_i min(ratio_i A_i, clip(ratio_i, 1 - eps, 1 + eps) A_i)
    With one update per batch ratio_i = 1, and the gradient is REINFORCE's -1/B sum_i A_i grad log pi(y_i | x).
    Args: logps, old_logps, advantages (B,). Returns (loss, clipfrac): clipfrac detached, TRL's definition.
    """
    ratio = torch.exp(logps - old_logps)  # (B,)
    loss = -torch.min(ratio * advantages, torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages).mean()
    clipped = ((ratio < 1.0 - clip_eps) & (advantages < 0)) | ((ratio > 1.0 + clip_eps) & (advantages > 0))
    return loss, clipped.float().mean().detach()


# ----------------------------------------------------------------------------------------- DPO
def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta: float):
    """Direct preference optimisation (Rafailov et al. 2023, eq. 7).

        h = beta * [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))]
        L = -E[ log sigmoid(h) ]
    Args: sequence log-probs (sum over completion tokens), each (B,).
    Returns: (loss, chosen_rewards, rejected_rewards), the implicit rewards beta * log-ratio (B,), detached.
    """
    chosen_logratios = policy_chosen_logps - ref_chosen_logps  # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps  # (B,)
    loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()
    return loss, (beta * chosen_logratios).detach(), (beta * rejected_logratios).detach()


def rpo_nll(policy_chosen_logps: torch.Tensor, chosen_lengths: torch.Tensor) -> torch.Tensor:
    """RPO's extra term (Pang et al. 2024): the chosen headlines' negative log-likelihood per token,
    added to DPO's loss as rpo_alpha * NLL (TRL's DPOConfig.rpo_alpha).

        NLL = - sum_i log pi(y_w,i | x_i) / sum_i |y_w,i|
    Pure DPO may lower both headlines' likelihood as long as the rejected one falls faster; this term
    keeps the chosen ones likely, so a model that never wrote headlines learns to write them.
    Args: sequence log-probs of the chosen headlines (B,), their token counts (B,). Returns a scalar.
    """
    return -policy_chosen_logps.sum() / chosen_lengths.sum().clamp(min=1)


# ----------------------------------------------------------------------------------------- KTO
def kto_reference_point(mismatched_logps: torch.Tensor, mismatched_ref_logps: torch.Tensor) -> torch.Tensor:
    """KTO's reference point z_ref, an estimate of KL(pi || pi_ref) (Ethayarajh et al. 2024, section 4.1).

        z_ref = max(0, mean_j [log pi(y'_j | x_j) - log pi_ref(y'_j | x_j)])
    over mismatched pairs (each article with another example's answer, TRL: the previous one), detached:
    no gradient flows through it. Args: sequence log-probs (B,). Returns a scalar.
    """
    return (mismatched_logps - mismatched_ref_logps).mean().clamp(min=0).detach()


def kto_loss(policy_logps, ref_logps, desirable, kl_ref, beta: float, desirable_weight: float = 1.0,
             undesirable_weight: float = 1.0):
    """Kahneman-Tversky optimisation (Ethayarajh et al. 2024, eq. 7), as TRL's KTOTrainer computes it: no pairs,
    only each answer's label, desirable or not.

        r = log pi(y | x) - log pi_ref(y | x)
        v(x, y) = lambda_D sigmoid(beta (r - z_ref))    y desirable
                  lambda_U sigmoid(beta (z_ref - r))    y undesirable
        L = mean over examples of lambda_y - v(x, y)
    Args: sequence log-probs (B,); desirable (B,) bool; kl_ref the reference point (a detached scalar).
    Returns: (loss, desirable_rewards, undesirable_rewards): the implicit rewards beta * r of each group, detached.
    """
    logratios = policy_logps - ref_logps  # (B,)
    desirable = desirable.bool()
    losses = torch.where(desirable, desirable_weight * (1 - torch.sigmoid(beta * (logratios - kl_ref))),
                         undesirable_weight * (1 - torch.sigmoid(beta * (kl_ref - logratios))))  # (B,)
    rewards = (beta * logratios).detach()
    return losses.mean(), rewards[desirable], rewards[~desirable]


# ------------------------------------------------------------------------------------ helpers
def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each softmax distribution: H = logsumexp(z) - sum_v softmax(z)_v z_v.  (..., V) -> (...)"""
    return torch.logsumexp(logits, dim=-1) - (torch.softmax(logits, dim=-1) * logits).sum(-1)


def normalise_rewards(rewards: torch.Tensor, mode: str) -> torch.Tensor:
    """'raw': reward-model scores in (0, 1) as they are; 'standardise': (r - mean) / std over the batch
    (Ziegler et al. 2019 normalise the reward model's output so the KL coefficient has a stable meaning)."""
    return REWARD_NORMALISERS[mode](rewards)


REWARD_NORMALISERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "raw": lambda r: r,
    "standardise": lambda r: (r - r.mean()) / (r.std(unbiased=False) + 1e-6),
}
