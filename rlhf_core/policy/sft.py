"""Supervised fine-tuning on demonstrations (Ouyang et al. 2022, step 1), and the tiny preset's pretraining.

The policy learns to write the demonstrated headline after the prompt: the loss is the weighted
NLL of the headline tokens only (the article is context, not a target), with the seed's expert
demonstrations counting twice. `pretrain_tiny` runs the same loop from a random tiny GPT-2 to
build the `tiny` preset once (the registry caches it under models_dir()/tiny-sft).
Shapes: B = examples, P = prompt tokens (left-padded), C = headline tokens (right-padded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from rlhf_core.errors import DataError
from rlhf_core.policy.config import GenerationConfig, SFTConfig
from rlhf_core.policy.run import PolicyRun, finish, index_batches, make_optimizer, optimizer_step, save_checkpoint, split_articles

PRETRAIN_SYNTH_ARTICLES = 3000  # synthetic stories of their own seed: the tiny preset's whole corpus
PRETRAIN_SYNTH_SEED = 777


def demonstrations(frame, cfg: SFTConfig) -> tuple[list[str], list[str], np.ndarray]:
    """(articles, headlines, weights) from any canonical table.

    demonstrations: as given; ratings: headlines scored >= cfg.min_score; preferences: the chosen
    answers; articles: the reference headlines. Rows weighted above 1 (the loaders' mark for
    expert rows) get cfg.expert_weight.
    """
    if {"prompt", "chosen"} <= set(frame.columns):
        frame = frame.rename(columns={"prompt": "article", "chosen": "headline"})
    elif "headline" not in frame.columns and "reference" in frame.columns:
        frame = frame.rename(columns={"reference": "headline"})
    if not {"article", "headline"} <= set(frame.columns):
        raise DataError("SFT needs (article, headline) demonstrations: upload demonstrations, ratings, preferences or articles with references.")
    if "score" in frame.columns:
        frame = frame[frame["score"] >= cfg.min_score]
    frame = frame[(frame["article"].astype(str).str.strip() != "") & (frame["headline"].astype(str).str.strip() != "")]
    if frame.empty:
        raise DataError("No usable demonstrations: every row lacks an article or a headline (or scored below min_score).")
    weights = frame["weight"].to_numpy(dtype=float) if "weight" in frame.columns else np.ones(len(frame))
    weights = np.where(weights > 1.0, cfg.expert_weight, np.maximum(weights, 0.0))
    return frame["article"].astype(str).tolist(), frame["headline"].astype(str).tolist(), weights


def train_sft(cfg: SFTConfig, run: PolicyRun, frame, rewarder) -> Iterator[dict]:
    """Fine-tune `run`'s policy on the demonstrations in `frame`; yield {step, total_steps, loss/policy, ...} per step."""
    articles, headlines, weights = demonstrations(frame, cfg)
    probes = split_articles(frame, cfg.probe_articles)[1] if cfg.probe_articles else []
    yield from sft_loop(run, cfg, articles, headlines, weights, probes, rewarder)


def sft_loop(run: PolicyRun, cfg: SFTConfig, articles, headlines, weights, probes, rewarder) -> Iterator[dict]:
    """The SFT steps over prepared demonstrations (shared by train_sft and pretrain_tiny)."""
    import torch

    from rlhf_core.policy.losses import sft_nll
    from rlhf_core.policy.rollout import completion_logprobs

    model, params = run.model, run.trainable_parameters()
    optimizer = make_optimizer(params, cfg)
    decay_steps = max(1, cfg.steps - cfg.warmup_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps))
                                                 if s < cfg.warmup_steps else max(0.1, 1.0 - (s - cfg.warmup_steps) / decay_steps))
    for _ in range(run.start_step):
        schedule.step()
    batches = index_batches(len(articles), cfg.batch_size, cfg.seed + run.start_step)
    gen = GenerationConfig(max_new_tokens=32, max_prompt_tokens=max(16, cfg.max_length - 32))
    step, completed = run.start_step, False
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1. the next batch of demonstrations (reshuffled every epoch)
            idx = next(batches)
            # 2. prompt (left-padded) + demonstrated headline ending in end-of-text (right-padded)
            prompt_ids, prompt_mask = run.encode_prompts([articles[i] for i in idx], gen.max_new_tokens, gen.max_prompt_tokens)
            answer_ids, answer_mask = run.encode_answers([headlines[i] for i in idx], gen.max_new_tokens)
            # 3. weighted NLL of the headline tokens only
            logprobs = completion_logprobs(model, prompt_ids, prompt_mask, answer_ids, answer_mask)  # (B, C)
            w = torch.tensor(weights[idx], dtype=torch.float32, device=run.device)  # (B,)
            loss = sft_nll(logprobs, answer_mask, w)
            optimizer_step(optimizer, params, loss, cfg.max_grad_norm)
            schedule.step()
            metrics = {"step": step, "total_steps": cfg.steps, "loss/policy": float(loss.detach()),
                       "loss/train": float(loss.detach()), "optim/lr": float(schedule.get_last_lr()[0]),
                       "completion/length": float(answer_mask.sum(-1).float().mean()), "time/elapsed_s": run.elapsed()}
            run.end_step(metrics, step, probes, rewarder, gen, probe_rewards=True)
            yield metrics
        completed = True
    finally:
        finish(run, step, completed)


# --------------------------------------------------------------------------- the tiny preset
PRETRAIN_CONFIG = SFTConfig(steps=1200, lr=2e-3, batch_size=32, warmup_steps=20, weight_decay=0.01, max_length=192,
                            sample_every=0, probe_articles=0, gold_persona="", seed=0)


def pretrain_corpus() -> tuple[list[str], list[str], np.ndarray]:
    """(articles, headlines, weights): synthetic stories of their own seed with their reference headlines.

    None of the sample data's articles (train or test) is used: an RL algorithm improves a policy
    on prompts it has not memorised, as InstructGPT kept separate prompt sets for SFT and for PPO
    (Ouyang et al. 2022). The policy later meets the sample articles only as RL prompts (train)
    and as held-out evaluation (test).
    """
    from rlhf_core.data.synth import generate_articles

    stories = generate_articles(PRETRAIN_SYNTH_ARTICLES, seed=PRETRAIN_SYNTH_SEED)
    return [s.text for s in stories], [s.reference for s in stories], np.ones(len(stories))


def pretrain_tiny(out_dir, cfg: SFTConfig = PRETRAIN_CONFIG, device: str = "cpu", on_step=None) -> Path:
    """Build the `tiny` preset: a random tiny GPT-2 SFT-trained on the corpus; saved to out_dir.

    Deterministic (seed 0, fixed step count); about 7 minutes on 2 quiet CPU cores (1,200 steps). It writes
    headlines of the right shape that still get some facts wrong: room for RLHF to improve.
    `on_step(metrics)`, if given, sees each step's metrics (progress bars, logs). A job's Cancel stops
    it between steps (JobCancelled), also when it runs while a training run is still loading its policy.
    """
    import torch
    from transformers import GPT2LMHeadModel

    from rlhf_core.jobs import raise_if_cancelled
    from rlhf_core.models.bundle import PolicyBundle
    from rlhf_core.models.tiny import tiny_policy_config, tiny_tokenizer

    out_dir = Path(out_dir)
    tokenizer = tiny_tokenizer()
    torch.manual_seed(cfg.seed)
    model = GPT2LMHeadModel(tiny_policy_config(tokenizer)).to(device)
    bundle = PolicyBundle(model, tokenizer, "plain", "Tiny GPT-2 (SFT)", "tiny", device)
    run = PolicyRun("sft", cfg, bundle, None, out_dir / ".pretrain", next(model.parameters()).device, policy_spec="tiny-init")
    articles, headlines, weights = pretrain_corpus()
    steps = sft_loop(run, cfg, articles, headlines, weights, [], rewarder=None)  # no probes: nothing to score
    try:
        for metrics in steps:
            raise_if_cancelled()
            if on_step is not None:
                on_step(metrics)
    finally:
        steps.close()  # on a cancel: the loop's finally runs now, in this thread
    save_checkpoint(model, tokenizer, out_dir, {"algo": "sft", "step": cfg.steps, "policy_spec": "tiny-init",
                                                "prompt_style": "plain", "purpose": "tiny preset"})
    import shutil

    shutil.rmtree(out_dir / ".pretrain", ignore_errors=True)
    return out_dir
