"""Configs of every policy-training stage: frozen dataclasses whose help cites the paper a default follows.

The Streamlit page and the CLI build the same objects; `__post_init__` rejects impossible values
with a sentence a learner can act on (a ConfigError). `field_help(cls, name)` gives a field's help.
Each class's RANGES bound its numeric fields (rlhf_core/bounds.py): the config checks them and the
Policy page's widgets take their min / max from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from rlhf_core.bounds import check_bounds
from rlhf_core.errors import ConfigError

LOSS_TYPES = ("grpo", "dr_grpo", "bnpo")
SCALE_REWARDS = ("std", "none")
REWARD_NORMS = ("raw", "standardise")


def _help(default, text: str):
    return field(default=default, metadata={"help": text})


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class GenerationConfig:
    """How the policy samples headlines during RL (the seed forgot `do_sample`: here sampling is explicit)."""

    max_new_tokens: int = _help(24, "Most tokens of a headline; generation also stops at the end of the line or end-of-text.")
    temperature: float = _help(1.0, "Sampling temperature. RL samples at 1.0 (Ouyang 2022; TRL's default) so the "
                                     "log-probs are the policy's own; lower values give safer, less varied headlines.")
    top_p: float = _help(1.0, "Nucleus sampling: sample only from the smallest token set with this much probability (Holtzman 2020). 1.0 = off.")
    max_prompt_tokens: int = _help(256, "Articles are cut (keeping the lede) so the prompt has at most about this many tokens.")

    RANGES = {"max_new_tokens": (1, 256), "temperature": (0.01, 10.0), "top_p": (0.01, 1.0), "max_prompt_tokens": (16, 8192)}

    def __post_init__(self):
        check_bounds(self)
        _check(1 <= self.max_new_tokens <= 256, "max_new_tokens must be between 1 and 256 (a headline needs about 24).")
        _check(self.temperature > 0, "temperature must be above 0 (use a small value such as 0.1 for almost greedy sampling).")
        _check(0 < self.top_p <= 1, "top_p must be in (0, 1]; 1.0 turns nucleus sampling off.")
        _check(self.max_prompt_tokens >= 16, "max_prompt_tokens must be at least 16: the article would not fit.")


@dataclass(frozen=True)
class _Common:
    """Fields every trainer shares (run length, optimiser, logging, checkpoints)."""

    steps: int = _help(50, "Optimiser steps to run.")
    lr: float = _help(1e-5, "AdamW learning rate. Papers use 1e-6..1e-5 for full models; the tiny preset needs ~1e-4..1e-3.")
    weight_decay: float = _help(0.0, "AdamW weight decay (Loshchilov & Hutter 2019); RLHF recipes use 0.")
    max_grad_norm: float = _help(1.0, "Clip the global gradient norm to this value (0 = no clipping).")
    seed: int = _help(0, "Random seed for data order, sampling and initialisation.")
    save_every: int = _help(0, "Write out_dir/checkpoint-<step>/ every this many steps (0 = only final/).")
    sample_every: int = _help(10, "Every this many steps, greedy headlines for the probe articles are yielded as `samples`.")
    probe_articles: int = _help(4, "How many fixed held-out articles get probe headlines.")
    gold_persona: str = _help("wire_editor", "Hidden persona whose gold score is logged next to the proxy reward "
                                             "(never used for training; '' to switch off).")
    resume_from: str = _help("", "A checkpoint folder (out_dir/checkpoint-<step>) to continue from; '' = start fresh.")
    keep_checkpoints: int = _help(3, "Keep only the newest this many checkpoint-<step>/ folders (final/ is kept apart): "
                                     "a small save_every on SmolLM2 (0.5 GB each) cannot fill the disk.")
    lora_r: int = _help(0, "LoRA rank r (Hu et al. 2021): train two small matrices B A per linear layer instead of every "
                           "weight (W x + alpha/r B A x). 0 = full fine-tuning. LoRA's backward computes no weight "
                           "gradients and its KL reference is the same model with the adapter off: faster, far less memory.")
    lora_alpha: float = _help(32.0, "LoRA scaling alpha: the update is multiplied by alpha / r (Hu 2021; 2 x r is common).")
    lora_dropout: float = _help(0.0, "Dropout on the LoRA input (Hu 2021: 0.05-0.1). 0 keeps RL's ratios exact "
                                     "(the trainers run the policy in eval mode anyway).")
    lora_targets: str = _help("all-linear", "Layers that get an adapter: 'all-linear' (every linear layer but the "
                                            "output head, as QLoRA, Dettmers 2023) or comma-separated names such as 'q_proj,v_proj' (Hu 2021).")
    save_merged: bool = _help(False, "LoRA only: save checkpoints as full models with B A folded into W (plain "
                                     "transformers loads them; 0.5 GB for SmolLM2) instead of adapters (a few MB; "
                                     "transformers + peft load them on top of the base model).")

    RANGES = {"steps": (1, 100_000), "lr": (1e-9, 0.5), "weight_decay": (0.0, 1.0), "max_grad_norm": (0.0, 1000.0),
              "seed": (0, 2**32 - 1), "save_every": (0, 100_000), "sample_every": (0, 100_000), "probe_articles": (0, 64),
              "keep_checkpoints": (1, 100), "batch_size": (1, 1024), "max_length": (32, 8192),
              "lora_r": (0, 1024), "lora_alpha": (0.01, 10_000.0), "lora_dropout": (0.0, 0.9)}

    def _check_common(self):
        check_bounds(self)
        _check(self.steps >= 1, "steps must be at least 1.")
        _check(0 < self.lr < 1, "lr must be a small positive number such as 1e-5.")
        _check(self.weight_decay >= 0 and self.max_grad_norm >= 0, "weight_decay and max_grad_norm cannot be negative.")
        _check(self.save_every >= 0 and self.sample_every >= 0, "save_every and sample_every cannot be negative (0 = off).")
        _check(self.probe_articles >= 0, "probe_articles cannot be negative.")
        _check(bool(str(self.lora_targets).strip()), "lora_targets names the layers that get an adapter: 'all-linear' or names such as 'q_proj,v_proj'.")


@dataclass(frozen=True)
class SFTConfig(_Common):
    """Supervised fine-tuning on expert demonstrations (Ouyang et al. 2022, step 1)."""

    lr: float = _help(1e-5, "AdamW learning rate (the seed uses 1e-5 for GPT-2 medium; the tiny preset needs ~2e-3).")
    batch_size: int = _help(16, "Demonstrations per step (the seed uses 16).")
    expert_weight: float = _help(2.0, "Loss weight of expert demonstrations relative to ordinary ones (the seed: x2).")
    min_score: float = _help(0.7, "When training from ratings, keep only headlines scored at least this (scores in [0, 1]).")
    max_length: int = _help(256, "Most tokens of prompt + headline per example (longer articles are cut, not the headline).")
    warmup_steps: int = _help(0, "Linear learning-rate warm-up steps, then constant.")

    RANGES = {**_Common.RANGES, "expert_weight": (0.01, 100.0), "min_score": (0.0, 1.0), "warmup_steps": (0, 100_000)}

    def __post_init__(self):
        self._check_common()
        _check(self.batch_size >= 1, "batch_size must be at least 1.")
        _check(self.expert_weight > 0, "expert_weight must be positive (1 = experts count like everyone else).")
        _check(0 <= self.min_score <= 1, "min_score is a normalised score: between 0 and 1.")
        _check(self.max_length >= 32, "max_length must be at least 32 tokens.")
        _check(self.warmup_steps >= 0, "warmup_steps cannot be negative.")


@dataclass(frozen=True)
class PPOConfig(_Common):
    """PPO with a KL penalty to the SFT policy (Ziegler 2019, Stiennon 2020, Ouyang 2022)."""

    lr: float = _help(1.41e-5, "AdamW learning rate (TRL's PPO default; Ziegler 2019 use 1.41e-5 too).")
    batch_size: int = _help(8, "Articles (one completion each) per rollout batch.")
    ppo_epochs: int = _help(4, "Optimisation passes over each rollout batch (Ziegler 2019 and TRL: 4).")
    clip_eps: float = _help(0.2, "Clip range epsilon of the probability ratio (Schulman 2017: 0.2).")
    clip_eps_value: float = _help(0.2, "Clip range of the value prediction around its old value (baselines ppo2: 0.2).")
    vf_coef: float = _help(0.1, "Weight of the value loss in the total loss (TRL's PPO: 0.1).")
    gamma: float = _help(1.0, "Discount factor; 1.0 for one short episode per headline (Ziegler 2019).")
    lam: float = _help(0.95, "GAE lambda (Schulman 2016; Ziegler 2019: 0.95).")
    beta: float = _help(0.05, "Initial KL coefficient: reward_t -= beta * (log pi - log pi_ref) per token (TRL: 0.05; Ziegler 2019: 0.1 with a controller).")
    adaptive_kl: bool = _help(False, "Adapt beta towards target_kl (Ziegler 2019 section 2.2) instead of keeping it fixed.")
    target_kl: float = _help(6.0, "Target KL per completion (nats) of the adaptive controller (Ziegler 2019: 6).")
    kl_horizon: int = _help(10000, "Horizon of the adaptive controller in completions (Ziegler 2019: 10000).")
    reward_norm: str = _help("standardise", "'standardise' reward-model scores per batch (Ziegler 2019 normalise the RM) or use them 'raw' in (0, 1).")
    whiten_advantages: bool = _help(True, "Normalise advantages over the batch (PPO reference code).")
    generation: GenerationConfig = field(default_factory=GenerationConfig, metadata={"help": "Sampling settings of the rollouts."})

    RANGES = {**_Common.RANGES, "batch_size": (2, 1024), "ppo_epochs": (1, 64), "clip_eps": (0.01, 0.99),
              "clip_eps_value": (0.01, 10.0), "vf_coef": (0.0, 100.0), "gamma": (0.01, 1.0), "lam": (0.0, 1.0),
              "beta": (0.0, 100.0), "target_kl": (0.01, 1000.0), "kl_horizon": (1, 10_000_000)}

    def __post_init__(self):
        self._check_common()
        _check(self.batch_size >= 2, "batch_size must be at least 2 (advantages are normalised over the batch).")
        _check(self.ppo_epochs >= 1, "ppo_epochs must be at least 1.")
        _check(0 < self.clip_eps < 1 and self.clip_eps_value > 0, "clip_eps must be in (0, 1) and clip_eps_value positive.")
        _check(0 < self.gamma <= 1 and 0 <= self.lam <= 1, "gamma must be in (0, 1] and lam in [0, 1].")
        _check(self.beta >= 0, "beta (the KL coefficient) cannot be negative; 0 removes the KL tie (reward hacking).")
        _check(self.target_kl > 0 and self.kl_horizon >= 1, "target_kl must be positive and kl_horizon at least 1.")
        _check(not (self.adaptive_kl and self.beta == 0), "the adaptive KL controller multiplies beta: start it above 0.")
        _check(self.reward_norm in REWARD_NORMS, f"reward_norm must be one of {REWARD_NORMS}.")
        _check(self.vf_coef >= 0, "vf_coef cannot be negative.")


@dataclass(frozen=True)
class GRPOConfig(_Common):
    """Group relative policy optimisation (Shao et al. 2024, DeepSeekMath): no value network."""

    lr: float = _help(1e-5, "AdamW learning rate (DeepSeekMath: 1e-6 for a 7B model; small models tolerate more).")
    prompts_per_step: int = _help(2, "Articles per step; each gets `group_size` completions.")
    group_size: int = _help(4, "Completions per article G; advantages are relative to the group (DeepSeekMath: 64; TRL: 8).")
    beta: float = _help(0.04, "KL coefficient of the k3 penalty to the reference (DeepSeekMath: 0.04). 0 = no tie: reward hacking.")
    clip_eps: float = _help(0.2, "Clip range epsilon of the probability ratio (DeepSeekMath / PPO: 0.2).")
    loss_type: str = _help("grpo", "'grpo': mean per completion then per batch (Shao 2024); 'dr_grpo': sum / (B x max length), "
                                   "no length bias (Liu 2025); 'bnpo': one mean over all tokens.")
    scale_rewards: str = _help("std", "'std': divide group-centred rewards by the group std (GRPO); 'none': only centre them (Dr. GRPO, Liu 2025).")
    num_iterations: int = _help(1, "Updates per generated batch (DeepSeekMath's mu). 1 = the sampling log-probs are the 'old' ones, no extra forward.")
    reward_norm: str = _help("raw", "'raw' reward-model scores in (0, 1), or 'standardise' them per batch (the group advantage normalises anyway).")
    generation: GenerationConfig = field(default_factory=GenerationConfig, metadata={"help": "Sampling settings of the rollouts."})

    RANGES = {**_Common.RANGES, "prompts_per_step": (1, 256), "group_size": (2, 256), "beta": (0.0, 100.0),
              "clip_eps": (0.01, 0.99), "num_iterations": (1, 64)}

    def __post_init__(self):
        self._check_common()
        _check(self.prompts_per_step >= 1, "prompts_per_step must be at least 1.")
        _check(self.group_size >= 2, "group_size must be at least 2: the advantage compares completions of the same article.")
        _check(self.beta >= 0, "beta (the KL coefficient) cannot be negative; 0 removes the KL tie (reward hacking).")
        _check(0 < self.clip_eps < 1, "clip_eps must be in (0, 1).")
        _check(self.loss_type in LOSS_TYPES, f"loss_type must be one of {LOSS_TYPES}.")
        _check(self.scale_rewards in SCALE_REWARDS, f"scale_rewards must be one of {SCALE_REWARDS}.")
        _check(self.num_iterations >= 1, "num_iterations must be at least 1.")
        _check(self.reward_norm in REWARD_NORMS, f"reward_norm must be one of {REWARD_NORMS}.")


@dataclass(frozen=True)
class DPOConfig(_Common):
    """Direct preference optimisation from (prompt, chosen, rejected) pairs (Rafailov et al. 2023)."""

    lr: float = _help(1e-6, "AdamW learning rate (Rafailov 2023: 1e-6; the tiny preset needs ~1e-4).")
    batch_size: int = _help(8, "Preference pairs per step (Rafailov 2023: 64; smaller on a CPU).")
    beta: float = _help(0.1, "Strength of the implicit KL tie to the reference (Rafailov 2023: 0.1; lower = drift further).")
    max_length: int = _help(256, "Most tokens of prompt + answer (the article is cut, not the answer).")

    RANGES = {**_Common.RANGES, "beta": (0.001, 100.0)}

    def __post_init__(self):
        self._check_common()
        _check(self.batch_size >= 1, "batch_size must be at least 1.")
        _check(self.beta > 0, "DPO's beta must be positive (it scales the implicit reward).")
        _check(self.max_length >= 32, "max_length must be at least 32 tokens.")


CONFIGS: dict[str, type] = {"sft": SFTConfig, "ppo": PPOConfig, "grpo": GRPOConfig, "dpo": DPOConfig}

# The dataclass defaults above are the papers' values, chosen for 1B+ models trained for hours. On the
# offline presets they barely move the policy (GRPO at lr 1e-5 left `tiny`'s gold flat over 100 steps),
# so each preset has the settings that visibly learn on it, measured by bench/bench_lesson.py and
# bench/bench_tiny_loop.py. The page and the CLI start from these; "papers' defaults" is one switch away.
PRESET_DEFAULTS: dict[str, dict[str, dict]] = {
    "tiny": {
        "sft": {"lr": 3e-4, "steps": 40},
        "ppo": {"lr": 3e-4, "batch_size": 16, "generation": {"temperature": 0.7, "max_new_tokens": 20}},
        "grpo": {"lr": 2e-4, "steps": 150, "prompts_per_step": 8,
                 "generation": {"temperature": 0.7, "max_new_tokens": 20}},
        "dpo": {"lr": 1e-4},
    },
    "smollm2": {  # LoRA (r 16 on every linear layer): bench/bench_smollm2.py and bench/bench_grpo.py
        "sft": {"lr": 3e-4, "batch_size": 8, "steps": 30, "lora_r": 16},
        "ppo": {"lr": 1e-4, "lora_r": 16},
        "grpo": {"lr": 2e-4, "steps": 60, "lora_r": 16, "generation": {"temperature": 0.7, "max_new_tokens": 24}},
        "dpo": {"lr": 5e-5, "lora_r": 16},
    },
}
PRESET_ALIASES = {"tiny-init": "tiny"}


def preset_of(policy_spec: str) -> str | None:
    """The preset a policy is or started from ('tiny', 'smollm2'), None for anything else.

    A checkpoint folder (a run's final/ or checkpoint-N/) is followed back through its metadata's
    `policy_spec`, so GRPO from a tiny SFT run gets the tiny settings.
    """
    from rlhf_core import paths

    spec = str(policy_spec or "").strip()
    for _ in range(8):  # a chain of runs, each started from the one before
        if spec in PRESET_DEFAULTS or spec in PRESET_ALIASES:
            return PRESET_ALIASES.get(spec, spec)
        folder = Path(spec).expanduser()
        meta = None
        for candidate in (folder, folder / "final"):
            meta = paths.read_json(candidate / "studio_policy.json", default=None) if folder.is_dir() else None
            if isinstance(meta, dict):
                break
        if not isinstance(meta, dict) or not meta.get("policy_spec"):
            return None
        spec = str(meta["policy_spec"])
    return None


def make_config(algo: str, policy_spec: str = "", paper_defaults: bool = False, **values):
    """The config of `algo` for `policy_spec`: the preset's settings (unless `paper_defaults`), then `values`.

    `generation` may be given as a dict of GenerationConfig fields; it is merged with the preset's.
    """
    if algo not in CONFIGS:
        raise ConfigError(f"unknown algorithm '{algo}': choose from {', '.join(CONFIGS)}")
    cls = CONFIGS[algo]
    preset = {} if paper_defaults else dict(PRESET_DEFAULTS.get(preset_of(policy_spec) or "", {}).get(algo, {}))
    generation = {**preset.pop("generation", {}), **_as_dict(values.pop("generation", {}))}
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{algo} has no setting {', '.join(unknown)}.")
    merged = {**preset, **values}
    if "generation" in known and generation:
        merged["generation"] = GenerationConfig(**generation)
    return cls(**merged)


def _as_dict(value) -> dict:
    if isinstance(value, GenerationConfig):
        return {f.name: getattr(value, f.name) for f in fields(GenerationConfig)}
    return dict(value or {})


def field_help(cls, name: str) -> str:
    """The help text of field `name` of config class `cls` ('' if it has none)."""
    for f in fields(cls):
        if f.name == name:
            return f.metadata.get("help", "")
    return ""
