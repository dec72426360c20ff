"""`train_policy(algo, ...)`: one entry point for every policy algorithm of the registry.

It does what every algorithm needs before its loop: check that a reward model is given where the
algorithm needs one (`rlhf_core.policy.algorithms`), read the data, load the policy and its frozen
reference (`start_run`), and the reward (`Rewarder`: the reward model, which training maximises,
and the hidden gold persona, which is only logged). Then the algorithm's trainer runs its loop
over that PolicyRun (`rlhf_core.policy.run`) and yields one metrics dict per step.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Iterator

from rlhf_core import paths
from rlhf_core.errors import ConfigError, StudioError
from rlhf_core.policy.algorithms import get_algorithm
from rlhf_core.policy.rewarder import Rewarder
from rlhf_core.policy.run import META_FILE, PolicyRun, load_table


def train_policy(algo: str, cfg, policy_spec: str, reward_dir=None, data=None, out_dir=None,
                 device: str = "cpu") -> Iterator[dict]:
    """Train a policy with `algo` (a name in rlhf_core.policy.algorithms); yield one flat metrics dict per step.

    Args:
        cfg: the algorithm's config (SFTConfig, PPOConfig, GRPOConfig, DPOConfig, ...).
        policy_spec: 'tiny', 'tiny-init', 'smollm2', a folder or a hub id (see models.registry).
        reward_dir: reward-model folder (needed where the algorithm says so; optional elsewhere, for the
            probes' proxy reward), or a callable `(articles, headlines) -> scores in [0, 1]`.
        data: a path, a DataFrame or a LoadedData of one of the algorithm's data kinds.
        out_dir: run folder: checkpoint-<step>/ and final/ are written there.
    """
    algorithm = get_algorithm(algo)
    if algorithm.trainer is None:
        raise ConfigError(f"{algorithm.title} trains nothing: it is tried on the Policy page or with best_of_n().")
    if algorithm.needs_reward_model and reward_dir is None:
        raise ConfigError(f"{algorithm.title} needs a reward model: train one on the Reward page (or pass --reward DIR).")
    frame = load_table(data)
    out_dir = Path(out_dir if out_dir is not None else paths.runs_dir() / paths.new_run_id(algo))
    run = start_run(algo, cfg, policy_spec, out_dir, device, need_ref=algorithm.needs_reference)
    yield from algorithm.trainer(cfg, run, frame, Rewarder(reward_dir, cfg.gold_persona, device))


def start_run(algo: str, cfg, policy_spec: str, out_dir: Path, device: str = "cpu", need_ref: bool = True) -> PolicyRun:
    """Load the policy (or the checkpoint to resume) and a frozen reference copy of the start policy.

    With `cfg.lora_r > 0` the policy is the start model with a LoRA adapter (policy/lora.py) and the
    reference is that model with its adapter switched off: no second copy (run.reference()).
    """
    import torch

    from rlhf_core.jobs import raise_if_cancelled
    from rlhf_core.models.registry import load_policy

    torch.manual_seed(cfg.seed)
    start_step, ref_spec, meta = 0, policy_spec, None
    if cfg.resume_from:
        meta = paths.read_json(Path(cfg.resume_from) / META_FILE, default=None)
        if meta is None:
            raise StudioError(f"'{cfg.resume_from}' is not a policy checkpoint (no {META_FILE}).")
        start_step, ref_spec = int(meta.get("step", 0)), meta.get("policy_spec") or policy_spec
    ref, lora = None, None
    if getattr(cfg, "lora_r", 0) > 0:
        # LoRA: only the adapter trains; the reference is the same model with the adapter off (lora.py)
        from rlhf_core.policy.lora import start_lora

        lora, bundle = start_lora(cfg, ref_spec, cfg.resume_from, device)
    else:
        bundle = load_policy(str(cfg.resume_from or policy_spec), device=device, cache=False)
        raise_if_cancelled()  # Cancel pressed while the model loaded: stop before loading more
        bundle.model.requires_grad_(True)
        if need_ref:
            # The reference is the policy we started from: frozen, in eval mode, outside autograd.
            ref = load_policy(ref_spec, device=device, cache=False).model if cfg.resume_from else copy.deepcopy(bundle.model)
            ref.eval().requires_grad_(False)
    raise_if_cancelled()
    if meta is not None:
        bundle.prompt_style = meta.get("prompt_style", bundle.prompt_style)
    bundle.model.eval()  # dropout off: PPO/GRPO ratios must be 1 before the first update
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = next(bundle.model.parameters()).device
    return PolicyRun(algo, cfg, bundle, ref, out_dir, dev, start_step, ref_spec, lora=lora)
