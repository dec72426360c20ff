"""GRPO: group relative policy optimisation (Shao et al. 2024, DeepSeekMath, Algorithm 1).

For each article the policy writes G headlines; each headline's advantage is its reward relative
to its group (no value network). The loss is PPO's clipped ratio plus beta * k3 KL to the frozen
reference, aggregated per `loss_type` (GRPO, Dr. GRPO, BNPO). With num_iterations = 1 each batch
is used once, so the "old" log-probs are the current ones detached (ratio = 1, as in TRL).
Shapes: N = articles per step, G = group size, B = N * G completions, C = completion tokens.
"""

from __future__ import annotations

from typing import Iterator

from rlhf_core.policy.config import GRPOConfig
from rlhf_core.policy.run import PolicyRun, finish, group_loop, optimizer_step


def train_grpo(cfg: GRPOConfig, run: PolicyRun, frame, rewarder) -> Iterator[dict]:
    """Run GRPO for cfg.steps steps on `run` (policy + frozen reference) with articles from `frame`;
    yield one metrics dict per step (and `samples` every cfg.sample_every)."""
    import torch

    from rlhf_core.policy.losses import grpo_advantages, grpo_loss, kl_k3, masked_mean
    from rlhf_core.policy.rollout import completion_logprobs

    model, gen, G, timer = run.model, cfg.generation, cfg.group_size, run.timer
    loop, step, completed = group_loop(run, cfg, frame), run.start_step, False
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1-3. a batch of articles, G headlines sampled for each by pi_old (= the current policy), each scored
            #      by the reward model (the gold persona is only logged)
            group = loop.groups.next(rewarder)
            roll, mask = group.roll, group.roll.completion_mask  # mask (B, C)
            # 4. group-relative advantages A_i = (r_i - mean_group) / std_group
            advantages = grpo_advantages(group.rewards, G, cfg.scale_rewards)  # (B,)
            # 5. reference log-probs, once per batch, without autograd (each group's prompt runs once)
            with timer("reference"), torch.no_grad(), run.reference() as ref:
                ref_logprobs = completion_logprobs(ref, roll.prompt_ids, roll.prompt_mask, roll.completion_ids, mask,
                                                   gen.temperature, group_size=G)  # (B, C)
            # 6. mu gradient steps on the clipped objective with the k3 KL penalty
            for iteration in range(cfg.num_iterations):
                with timer("forward"):
                    logprobs, entropy = completion_logprobs(model, roll.prompt_ids, roll.prompt_mask, roll.completion_ids,
                                                            mask, gen.temperature, with_entropy=True, group_size=G)  # (B, C)
                    old_logprobs = logprobs.detach() if cfg.num_iterations == 1 else roll.logprobs
                    loss, stats = grpo_loss(logprobs, old_logprobs, ref_logprobs if cfg.beta > 0 else None, advantages,
                                            mask, cfg.beta, cfg.clip_eps, cfg.loss_type, gen.max_new_tokens)
                optimizer_step(loop.optimizer, loop.params, loss, cfg.max_grad_norm, timer)
            # 7. diagnostics: KL to the reference (k3, summed per completion), sampler-vs-learner mismatch
            with torch.no_grad():
                kl_per_completion = (kl_k3(logprobs.detach(), ref_logprobs) * mask).sum(-1).mean()
                approx_kl = masked_mean(kl_k3(logprobs.detach(), roll.logprobs), mask)
            yield loop.end_step({
                "step": step, "total_steps": cfg.steps, "policy/kl_k3": float(kl_per_completion),
                "policy/entropy": float(masked_mean(entropy, mask)), "policy/clipfrac": float(stats["clipfrac"]),
                "policy/approx_kl": float(approx_kl), "policy/beta": cfg.beta, "loss/policy": float(loss.detach()),
            }, step, group, rewarder)
        completed = True
    finally:
        finish(run, step, completed)
