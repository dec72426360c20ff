"""RLOO: REINFORCE with a leave-one-out baseline (Ahmadian et al. 2024, "Back to Basics"), as TRL's RLOOTrainer.

For each article the policy writes k headlines. A headline's reward is the reward model's score
minus beta times its KL to the frozen reference (k1, summed over its tokens: a penalty on the
whole sequence); its advantage is that reward minus the mean reward of the article's other k - 1
headlines. No value network, no per-token credit: each headline is one action, and the loss is
REINFORCE on its log-probability (PPO's ratio clip only matters when a batch is reused).
Shapes: N = articles per step, k = completions per article, B = N * k, C = completion tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from rlhf_core.bounds import bounded
from rlhf_core.policy.config import _Group
from rlhf_core.policy.run import PolicyRun, finish, group_loop, optimizer_step


@dataclass(frozen=True)
class RLOOConfig(_Group):
    """REINFORCE leave-one-out (Ahmadian et al. 2024); defaults are TRL's RLOOConfig (1.16). With one update per
    batch (num_iterations = 1, the paper's) it is plain REINFORCE; more reuse the batch with a clipped ratio."""

    lr: float = bounded(1e-6, "AdamW learning rate (TRL's RLOO: 1e-6; Ahmadian 2024 tune 1e-6..1e-5 for 1B+ models).",
                        1e-9, 0.5)
    group_size: int = bounded(2, "Completions per article k, at least 2: each one's baseline is the mean reward of the "
                                 "others (Ahmadian 2024: k = 2 or 4; TRL: 2).", 2, 256)
    beta: float = bounded(0.05, "KL coefficient: each headline's reward is r - beta * sum_t (log pi - log pi_ref) "
                                "(TRL: 0.05). 0 = no tie: reward hacking.", 0.0, 100.0)
    normalize_advantages: bool = bounded(False, "Standardise the advantages over the batch (TRL's option; off in TRL "
                                                "and the paper).")


def train_rloo(cfg: RLOOConfig, run: PolicyRun, frame, rewarder) -> Iterator[dict]:
    """Run RLOO for cfg.steps steps on `run` with articles from `frame`; yield one metrics dict per step."""
    import torch

    from rlhf_core.policy.losses import kl_k1, masked_mean, rloo_advantages, rloo_loss
    from rlhf_core.policy.rollout import completion_logprobs

    model, gen, k, timer = run.model, cfg.generation, cfg.group_size, run.timer
    loop, step, completed = group_loop(run, cfg, frame), run.start_step, False
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1-3. a batch of articles, k headlines sampled for each by the current policy (pi_old, with their
            #      log-probs), each scored by the reward model (the gold persona is only logged)
            group = loop.groups.next(rewarder)
            roll, mask = group.roll, group.roll.completion_mask  # mask (B, C)
            seq = (roll.prompt_ids, roll.prompt_mask, roll.completion_ids, mask)
            # 4. the KL penalty on the whole headline: R_i = r_i - beta * sum_t (log pi_old - log pi_ref)
            with timer("reference"), torch.no_grad(), run.reference() as ref:
                ref_logprobs = completion_logprobs(ref, *seq, gen.temperature, group_size=k)  # (B, C)
            kl = (kl_k1(roll.logprobs, ref_logprobs) * mask).sum(-1)  # (B,)
            rewards = group.rewards - cfg.beta * kl
            # 5. leave-one-out advantages: each headline against the mean of its article's other k - 1
            advantages = rloo_advantages(rewards, k)  # (B,)
            if cfg.normalize_advantages:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-4)
            # 6. REINFORCE on each headline's log-probability (clipped ratio when the batch is reused)
            for iteration in range(cfg.num_iterations):
                with timer("forward"):
                    logprobs, entropy = completion_logprobs(model, *seq, gen.temperature, with_entropy=True,
                                                            group_size=k)  # (B, C)
                    logps = logprobs.sum(-1)  # (B,) padding is 0
                    old_logps = logps.detach() if cfg.num_iterations == 1 else roll.logprobs.sum(-1)
                    loss, clipfrac = rloo_loss(logps, old_logps, advantages, cfg.clip_eps)
                optimizer_step(loop.optimizer, loop.params, loss, cfg.max_grad_norm, timer)
            yield loop.end_step({
                "step": step, "total_steps": cfg.steps, "reward/kl_penalised": float(rewards.mean()),
                "policy/kl_k1": float(kl.mean()), "policy/entropy": float(masked_mean(entropy, mask)),
                "policy/clipfrac": float(clipfrac), "policy/beta": cfg.beta, "loss/policy": float(loss.detach()),
            }, step, group, rewarder)
        completed = True
    finally:
        finish(run, step, completed)
