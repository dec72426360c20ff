"""GRPO: group relative policy optimisation (Shao et al. 2024, DeepSeekMath, Algorithm 1).

For each article the policy writes G headlines; each headline's advantage is its reward relative
to its group (no value network). The loss is PPO's clipped ratio plus beta * k3 KL to the frozen
reference, aggregated per `loss_type` (GRPO, Dr. GRPO, BNPO). With num_iterations = 1 each batch
is used once, so the "old" log-probs are the current ones detached (ratio = 1, as in TRL).
Shapes: N = articles per step, G = group size, B = N * G completions, C = completion tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from rlhf_core.policy.config import GRPOConfig
from rlhf_core.policy.train import (PhaseTimer, Rewarder, article_stream, finish, load_table, make_optimizer,
                                    mean_or_none, most_overrated, optimizer_step, split_articles, start_run, take)


def train_grpo(cfg: GRPOConfig, policy_spec: str, reward_dir, data, out_dir: Path, device: str = "cpu") -> Iterator[dict]:
    """Run GRPO for cfg.steps steps; yield one metrics dict per step (and `samples` every cfg.sample_every)."""
    import torch

    from rlhf_core.policy.losses import grpo_advantages, grpo_loss, kl_k3, masked_mean, normalise_rewards
    from rlhf_core.policy.rollout import completion_logprobs, sample

    if reward_dir is None:
        raise ValueError("GRPO needs a reward model: train one on the Reward page (or pass --reward DIR).")
    train_articles, probes = split_articles(load_table(data), cfg.probe_articles)
    run = start_run("grpo", cfg, policy_spec, out_dir, device)
    model, gen, G = run.model, cfg.generation, cfg.group_size
    rewarder = Rewarder(reward_dir, cfg.gold_persona, device)
    params = run.trainable_parameters()
    optimizer = make_optimizer(params, cfg)
    stream = article_stream(train_articles, cfg.seed + run.start_step)
    sampler = torch.Generator(device=run.device).manual_seed(cfg.seed + run.start_step)
    stop_ids, step, completed, timer = run.stop_ids(), run.start_step, False, PhaseTimer()
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1. a batch of articles, each prompt encoded once
            articles = take(stream, cfg.prompts_per_step)
            prompt_ids, prompt_mask = run.encode_prompts(articles, gen.max_new_tokens, gen.max_prompt_tokens)
            # 2. sample G completions per article with pi_old (= the current policy), KV cache, shared prefill
            with timer("generation"):
                roll = sample(model, prompt_ids, prompt_mask, max_new_tokens=gen.max_new_tokens, temperature=gen.temperature,
                              top_p=gen.top_p, stop_ids=stop_ids, pad_id=run.pad_id, repeats=G, generator=sampler)
            mask = roll.completion_mask  # (B, C)
            # 3. score each headline with the reward model; the gold persona is only logged
            headlines = run.decode(roll.completion_ids, mask)
            group_articles = [a for a in articles for _ in range(G)]
            with timer("scoring"):
                proxy, gold = rewarder(group_articles, headlines)
            rewards = normalise_rewards(torch.tensor(proxy, dtype=torch.float32, device=run.device), cfg.reward_norm)  # (B,)
            # 4. group-relative advantages A_i = (r_i - mean_group) / std_group
            advantages = grpo_advantages(rewards, G, cfg.scale_rewards)  # (B,)
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
                optimizer_step(optimizer, params, loss, cfg.max_grad_norm, timer)
            # 7. diagnostics: KL to the reference (k3, summed per completion), sampler-vs-learner mismatch
            with torch.no_grad():
                kl_per_completion = (kl_k3(logprobs.detach(), ref_logprobs) * mask).sum(-1).mean()
                approx_kl = masked_mean(kl_k3(logprobs.detach(), roll.logprobs), mask)
            metrics = {
                "step": step, "total_steps": cfg.steps,
                "reward/mean": float(proxy.mean()), "reward/std": float(proxy.std()), "reward/gold_mean": mean_or_none(gold),
                "policy/kl": float(kl_per_completion), "policy/entropy": float(masked_mean(entropy, mask)),
                "policy/clipfrac": float(stats["clipfrac"]), "policy/approx_kl": float(approx_kl),
                "policy/beta": cfg.beta, "loss/policy": float(loss.detach()),
                "completion/length": float(mask.sum(-1).float().mean()), "time/elapsed_s": run.elapsed(), **timer.metrics(),
            }
            run.end_step(metrics, step, probes, rewarder, gen)
            if gold is not None:  # the headline the reward model over-rates most: reward hacking as it appears
                metrics["samples"] = metrics.get("samples", []) + [most_overrated(group_articles, headlines, proxy, gold)]
            yield metrics
        completed = True
    finally:
        finish(run, step, completed)
