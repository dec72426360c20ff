"""PPO with a KL penalty to the SFT policy (Ziegler et al. 2019; Stiennon et al. 2020; Ouyang et al. 2022).

Each headline is one episode. Token t's reward is -beta * (log pi_old(y_t) - log pi_ref(y_t)); the
last token also gets the reward-model score. A value head (one linear layer on the policy's final
hidden states, sharing its body) estimates V_t; GAE turns rewards and values into advantages;
the policy follows the clipped surrogate and the value head the clipped value loss, for
`ppo_epochs` passes over each batch. beta is fixed or adapted towards a target KL (Ziegler 2019).
Shapes: B = completions (one per article), C = completion tokens, H = hidden size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from rlhf_core.policy.config import PPOConfig
from rlhf_core.policy.run import (PolicyRun, article_stream, finish, load_extra_module, make_optimizer, mean_or_none,
                                  optimizer_step, split_articles, take)

VALUE_HEAD = "value_head"


def make_value_head(model):
    """V(s_t) = w . h_t + b on the policy's final hidden states, initialised to predict 0."""
    import torch

    hidden = getattr(model.config, "hidden_size", None) or model.config.n_embd
    head = torch.nn.Linear(hidden, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return head.to(next(model.parameters()).device)


def token_rewards(score, old_logprobs, ref_logprobs, mask, beta: float):
    """r_t = -beta * k1_t, plus the sequence score on the last real token (Ziegler 2019 eq. 2).

    score (B,), old_logprobs, ref_logprobs, mask (B, C) -> rewards (B, C), kl per completion (B,)
    """

    from rlhf_core.policy.losses import kl_k1

    kl = kl_k1(old_logprobs, ref_logprobs) * mask  # (B, C)
    rewards = -beta * kl
    last = (mask.sum(-1) - 1).clamp_min(0)  # (B,) index of the stop token
    rewards = rewards.scatter_add(1, last[:, None], score[:, None].to(rewards.dtype))
    return rewards * mask, kl.sum(-1)


def train_ppo(cfg: PPOConfig, run: PolicyRun, frame, rewarder) -> Iterator[dict]:
    """Run PPO for cfg.steps rollout batches on `run` with articles from `frame`; yield one metrics dict per batch."""
    import torch

    from rlhf_core.policy.losses import (adaptive_kl_controller, gae, kl_k3, masked_mean, masked_whiten,
                                         normalise_rewards, ppo_clipped_surrogate, value_loss_clipped)
    from rlhf_core.policy.rollout import completion_logprobs, sample

    train_articles, probes = split_articles(frame, cfg.probe_articles)
    model, gen = run.model, cfg.generation
    value_head = make_value_head(model)
    if cfg.resume_from:
        load_extra_module(Path(cfg.resume_from), VALUE_HEAD, value_head)
    run.extra_modules[VALUE_HEAD] = value_head
    params = run.trainable_parameters() + list(value_head.parameters())  # with LoRA: the adapter and the head
    optimizer = make_optimizer(params, cfg)
    stream = article_stream(train_articles, cfg.seed + run.start_step)
    sampler = torch.Generator(device=run.device).manual_seed(cfg.seed + run.start_step)
    stop_ids, beta, step, completed = run.stop_ids(), cfg.beta, run.start_step, False
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1. roll out one headline per article with pi_old, keeping its per-token log-probs
            articles = take(stream, cfg.batch_size)
            prompt_ids, prompt_mask = run.encode_prompts(articles, gen.max_new_tokens, gen.max_prompt_tokens)
            roll = sample(model, prompt_ids, prompt_mask, max_new_tokens=gen.max_new_tokens, temperature=gen.temperature,
                          top_p=gen.top_p, stop_ids=stop_ids, pad_id=run.pad_id, generator=sampler)
            mask, old_logprobs = roll.completion_mask, roll.logprobs  # (B, C)
            seq = (roll.prompt_ids, roll.prompt_mask, roll.completion_ids, mask)
            # 2. score with the reward model (normalised); the gold persona is only logged
            proxy, gold = rewarder(articles, run.decode(roll.completion_ids, mask))
            score = normalise_rewards(torch.tensor(proxy, dtype=torch.float32, device=run.device), cfg.reward_norm)  # (B,)
            # 3. per-token rewards with the KL penalty to the frozen reference
            with torch.no_grad(), run.reference() as ref:
                ref_logprobs = completion_logprobs(ref, *seq, gen.temperature)  # (B, C)
            rewards, kl = token_rewards(score, old_logprobs, ref_logprobs, mask, beta)
            # 4. ppo_epochs passes: advantages from the values of the first pass (= the old values)
            for epoch in range(cfg.ppo_epochs):
                logprobs, entropy, hidden = completion_logprobs(model, *seq, gen.temperature, with_entropy=True,
                                                                return_hidden=True)  # (B, C), (B, C), (B, C, H)
                values = value_head(hidden.float()).squeeze(-1)  # (B, C)
                if epoch == 0:
                    old_values = values.detach()
                    advantages, returns = gae(rewards, old_values, mask, cfg.gamma, cfg.lam)
                    if cfg.whiten_advantages:
                        advantages = masked_whiten(advantages, mask) * mask
                pg_loss, clipfrac = ppo_clipped_surrogate(logprobs, old_logprobs, advantages, mask, cfg.clip_eps)
                vf_loss = value_loss_clipped(values, old_values, returns, mask, cfg.clip_eps_value)
                optimizer_step(optimizer, params, pg_loss + cfg.vf_coef * vf_loss, cfg.max_grad_norm)
            # 5. adapt beta towards the target KL (Ziegler 2019), if asked
            mean_kl = float(kl.mean())
            if cfg.adaptive_kl:
                beta = adaptive_kl_controller(beta, mean_kl, cfg.target_kl, cfg.kl_horizon, cfg.batch_size)
            with torch.no_grad():
                approx_kl = masked_mean(kl_k3(logprobs.detach(), old_logprobs), mask)
            metrics = {
                "step": step, "total_steps": cfg.steps,
                "reward/mean": float(proxy.mean()), "reward/gold_mean": mean_or_none(gold),
                "reward/kl_penalised": float((score - beta * kl).mean()),
                "policy/kl_k1": mean_kl, "policy/entropy": float(masked_mean(entropy, mask)),
                "policy/clipfrac": float(clipfrac), "policy/approx_kl": float(approx_kl), "policy/beta": beta,
                "loss/policy": float(pg_loss.detach()), "loss/value": float(vf_loss.detach()),
                "completion/length": float(mask.sum(-1).float().mean()), "time/elapsed_s": run.elapsed(),
            }
            run.end_step(metrics, step, probes, rewarder, gen)
            yield metrics
        completed = True
    finally:
        finish(run, step, completed)
