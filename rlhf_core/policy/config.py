"""Configs of every policy-training stage: frozen dataclasses whose help cites the paper a default follows.

The Streamlit page and the CLI build the same objects. Each field carries its help text and its
bounds (or choices) in its metadata (`rlhf_core.bounds.bounded`): `__post_init__` checks them first
(`check_bounds`), then the cross-field rules, and rejects an impossible value with a sentence a
learner can act on (a ConfigError); the config form on the Policy page reads the same metadata.
The defaults are the papers'; the settings that learn visibly on the offline presets are declared
per algorithm in `rlhf_core.policy.algorithms` (`make_config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rlhf_core.bounds import bounded, check_bounds, field_help  # noqa: F401 - field_help: one import for pages
from rlhf_core.errors import ConfigError

LOSS_TYPES = ("grpo", "dr_grpo", "bnpo")
SCALE_REWARDS = ("std", "none")
REWARD_NORMS = ("raw", "standardise")
MAX_STEPS = 100_000


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class GenerationConfig:
    """How the policy samples headlines during RL (the seed forgot `do_sample`: here sampling is explicit)."""

    max_new_tokens: int = bounded(24, "Most tokens of a headline; generation also stops at the end of the line or "
                                      "end-of-text.", 1, 256)
    temperature: float = bounded(1.0, "Sampling temperature. RL samples at 1.0 (Ouyang 2022; TRL's default) so the "
                                      "log-probs are the policy's own; lower values give safer, less varied headlines.",
                                 0.01, 10.0)
    top_p: float = bounded(1.0, "Nucleus sampling: sample only from the smallest token set with this much probability "
                                "(Holtzman 2020). 1.0 = off.", 0.01, 1.0)
    max_prompt_tokens: int = bounded(256, "Articles are cut (keeping the lede) so the prompt has at most about this "
                                          "many tokens.", 16, 8192)

    def __post_init__(self):
        check_bounds(self)


@dataclass(frozen=True)
class _Common:
    """Fields every trainer shares (run length, optimiser, logging, checkpoints)."""

    steps: int = bounded(50, "Optimiser steps to run.", 1, MAX_STEPS)
    lr: float = bounded(1e-5, "AdamW learning rate. Papers use 1e-6..1e-5 for full models; the tiny preset needs "
                              "~1e-4..1e-3.", 1e-9, 0.5)
    weight_decay: float = bounded(0.0, "AdamW weight decay (Loshchilov & Hutter 2019); RLHF recipes use 0.", 0.0, 1.0)
    max_grad_norm: float = bounded(1.0, "Clip the global gradient norm to this value (0 = no clipping).", 0.0, 1000.0)
    seed: int = bounded(0, "Random seed for data order, sampling and initialisation.", 0, 2**32 - 1)
    save_every: int = bounded(0, "Write out_dir/checkpoint-<step>/ every this many steps (0 = only final/).", 0, MAX_STEPS)
    sample_every: int = bounded(10, "Every this many steps, greedy headlines for the probe articles are yielded as "
                                    "`samples`.", 0, MAX_STEPS)
    probe_articles: int = bounded(4, "How many fixed held-out articles get probe headlines.", 0, 64)
    gold_persona: str = bounded("wire_editor", "Hidden persona whose gold score is logged next to the proxy reward "
                                               "(never used for training; '' to switch off).")
    resume_from: str = bounded("", "A checkpoint folder (out_dir/checkpoint-<step>) to continue from; '' = start fresh.")
    keep_checkpoints: int = bounded(3, "Keep only the newest this many checkpoint-<step>/ folders (final/ is kept apart): "
                                       "a small save_every on SmolLM2 (0.5 GB each) cannot fill the disk.", 1, 100)
    lora_r: int = bounded(0, "LoRA rank r (Hu et al. 2021): train two small matrices B A per linear layer instead of "
                             "every weight (W x + alpha/r B A x). 0 = full fine-tuning. LoRA's backward computes no "
                             "weight gradients and its KL reference is the same model with the adapter off: faster, far "
                             "less memory.", 0, 1024)
    lora_alpha: float = bounded(32.0, "LoRA scaling alpha: the update is multiplied by alpha / r (Hu 2021; 2 x r is "
                                      "common).", 0.01, 10_000.0)
    lora_dropout: float = bounded(0.0, "Dropout on the LoRA input (Hu 2021: 0.05-0.1). 0 keeps RL's ratios exact (the "
                                       "trainers run the policy in eval mode anyway).", 0.0, 0.9)
    lora_targets: str = bounded("all-linear", "Layers that get an adapter: 'all-linear' (every linear layer but the "
                                              "output head, as QLoRA, Dettmers 2023) or comma-separated names such as "
                                              "'q_proj,v_proj' (Hu 2021).")
    save_merged: bool = bounded(False, "LoRA only: save checkpoints as full models with B A folded into W (plain "
                                       "transformers loads them; 0.5 GB for SmolLM2) instead of adapters (a few MB; "
                                       "transformers + peft load them on top of the base model).")

    def __post_init__(self):
        check_bounds(self)
        _check(bool(str(self.lora_targets).strip()), "lora_targets names the layers that get an adapter: 'all-linear' "
                                                     "or names such as 'q_proj,v_proj'.")


@dataclass(frozen=True)
class SFTConfig(_Common):
    """Supervised fine-tuning on expert demonstrations (Ouyang et al. 2022, step 1)."""

    lr: float = bounded(1e-5, "AdamW learning rate (the seed uses 1e-5 for GPT-2 medium; the tiny preset needs ~2e-3).",
                        1e-9, 0.5)
    batch_size: int = bounded(16, "Demonstrations per step (the seed uses 16).", 1, 1024)
    expert_weight: float = bounded(2.0, "Loss weight of expert demonstrations relative to ordinary ones (the seed: x2).",
                                   0.01, 100.0)
    min_score: float = bounded(0.7, "When training from ratings, keep only headlines scored at least this (scores in "
                                    "[0, 1]).", 0.0, 1.0)
    max_length: int = bounded(256, "Most tokens of prompt + headline per example (longer articles are cut, not the "
                                   "headline).", 32, 8192)
    warmup_steps: int = bounded(0, "Linear learning-rate warm-up steps, then constant.", 0, MAX_STEPS)


@dataclass(frozen=True)
class PPOConfig(_Common):
    """PPO with a KL penalty to the SFT policy (Ziegler 2019, Stiennon 2020, Ouyang 2022)."""

    lr: float = bounded(1.41e-5, "AdamW learning rate (TRL's PPO default; Ziegler 2019 use 1.41e-5 too).", 1e-9, 0.5)
    batch_size: int = bounded(8, "Articles (one completion each) per rollout batch; at least 2, advantages are "
                                 "normalised over the batch.", 2, 1024)
    ppo_epochs: int = bounded(4, "Optimisation passes over each rollout batch (Ziegler 2019 and TRL: 4).", 1, 64)
    clip_eps: float = bounded(0.2, "Clip range epsilon of the probability ratio (Schulman 2017: 0.2).", 0.01, 0.99)
    clip_eps_value: float = bounded(0.2, "Clip range of the value prediction around its old value (baselines ppo2: 0.2).",
                                    0.01, 10.0)
    vf_coef: float = bounded(0.1, "Weight of the value loss in the total loss (TRL's PPO: 0.1).", 0.0, 100.0)
    gamma: float = bounded(1.0, "Discount factor; 1.0 for one short episode per headline (Ziegler 2019).", 0.01, 1.0)
    lam: float = bounded(0.95, "GAE lambda (Schulman 2016; Ziegler 2019: 0.95).", 0.0, 1.0)
    beta: float = bounded(0.05, "Initial KL coefficient: reward_t -= beta * (log pi - log pi_ref) per token (TRL: 0.05; "
                                "Ziegler 2019: 0.1 with a controller).", 0.0, 100.0)
    adaptive_kl: bool = bounded(False, "Adapt beta towards target_kl (Ziegler 2019 section 2.2) instead of keeping it fixed.")
    target_kl: float = bounded(6.0, "Target KL per completion (nats) of the adaptive controller (Ziegler 2019: 6).",
                               0.01, 1000.0)
    kl_horizon: int = bounded(10000, "Horizon of the adaptive controller in completions (Ziegler 2019: 10000).", 1, 10**7)
    reward_norm: str = bounded("standardise", "'standardise' reward-model scores per batch (Ziegler 2019 normalise the "
                                              "RM) or use them 'raw' in (0, 1).", choices=REWARD_NORMS)
    whiten_advantages: bool = bounded(True, "Normalise advantages over the batch (PPO reference code).")
    generation: GenerationConfig = bounded(GenerationConfig, "Sampling settings of the rollouts.")

    def __post_init__(self):
        super().__post_init__()
        _check(not (self.adaptive_kl and self.beta == 0), "the adaptive KL controller multiplies beta: start it above 0.")


@dataclass(frozen=True)
class _Group(_Common):
    """Fields of the algorithms that sample a group of headlines per article and learn from their rewards (GRPO, ...)."""

    prompts_per_step: int = bounded(2, "Articles per step; each gets `group_size` completions.", 1, 256)
    clip_eps: float = bounded(0.2, "Clip range epsilon of the probability ratio when a batch is reused (Schulman 2017, "
                                   "DeepSeekMath and TRL: 0.2).", 0.01, 0.99)
    num_iterations: int = bounded(1, "Updates per generated batch (DeepSeekMath's mu). 1 = the sampling log-probs are the "
                                     "'old' ones, no extra forward.", 1, 64)
    reward_norm: str = bounded("raw", "'raw' reward-model scores in (0, 1), or 'standardise' them per batch (the group "
                                      "baseline centres them anyway).", choices=REWARD_NORMS)
    generation: GenerationConfig = bounded(GenerationConfig, "Sampling settings of the rollouts.")


@dataclass(frozen=True)
class GRPOConfig(_Group):
    """Group relative policy optimisation (Shao et al. 2024, DeepSeekMath): no value network."""

    lr: float = bounded(1e-5, "AdamW learning rate (DeepSeekMath: 1e-6 for a 7B model; small models tolerate more).",
                        1e-9, 0.5)
    group_size: int = bounded(4, "Completions per article G, at least 2: advantages are relative to the group "
                                 "(DeepSeekMath: 64; TRL: 8).", 2, 256)
    beta: float = bounded(0.04, "KL coefficient of the k3 penalty to the reference (DeepSeekMath: 0.04). 0 = no tie: "
                                "reward hacking.", 0.0, 100.0)
    loss_type: str = bounded("grpo", "'grpo': mean per completion then per batch (Shao 2024); 'dr_grpo': sum / (B x max "
                                     "length), no length bias (Liu 2025); 'bnpo': one mean over all tokens.",
                             choices=LOSS_TYPES)
    scale_rewards: str = bounded("std", "'std': divide group-centred rewards by the group std (GRPO); 'none': only "
                                        "centre them (Dr. GRPO, Liu 2025).", choices=SCALE_REWARDS)


@dataclass(frozen=True)
class DPOConfig(_Common):
    """Direct preference optimisation from (prompt, chosen, rejected) pairs (Rafailov et al. 2023)."""

    lr: float = bounded(1e-6, "AdamW learning rate (Rafailov 2023: 1e-6; the tiny preset needs ~1e-4).", 1e-9, 0.5)
    batch_size: int = bounded(8, "Preference pairs per step (Rafailov 2023: 64; smaller on a CPU).", 1, 1024)
    beta: float = bounded(0.1, "Strength of the implicit KL tie to the reference (Rafailov 2023: 0.1; lower = drift "
                               "further). Must be positive: it scales the implicit reward.", 1e-4, 100.0)
    max_length: int = bounded(256, "Most tokens of prompt + answer (the article is cut, not the answer).", 32, 8192)
    rpo_alpha: float = bounded(0.0, "Weight of the chosen headlines' NLL added to the loss (RPO, Pang et al. 2024: 1.0; "
                                    "0 = pure DPO). Keeps chosen headlines likely: a model new to headlines learns the form.",
                               0.0, 100.0)
