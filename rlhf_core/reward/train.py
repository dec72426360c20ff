"""Fine-tune a reward model on ratings and/or preferences: a generator yielding one metrics row per step.

    for row in train_reward(RewardConfig(), ratings, preferences, out_dir): ...

The model is an encoder with a 1-logit head over the (article, headline) pair (the seed's
BertForSequenceClassification(num_labels=1)); reward = sigmoid(logit). The best checkpoint on the
validation split is written to `out_dir/model/` (save_pretrained, safetensors, tokenizer and
studio_reward.json), also when the run is cancelled. Shapes: N = texts in a batch, B = rated rows,
P = pairs, T = tokens.
"""

from __future__ import annotations

import math
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from rlhf_core.reward.checks import FACT_CHECKS_VERSION
from rlhf_core.reward.common import (batch_tensors, infer_scale, load_backbone, rank_metrics, save_checkpoint_dir,
                                     seed_everything, validation_loss, write_full)
from rlhf_core.reward.config import RewardConfig


def linear_warmup_decay(step: int, total: int, warmup: int) -> float:
    """LR multiplier: linear warm-up over `warmup` steps, then linear decay to 0 at `total` (BERT's schedule)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


class _Run:
    """Mutable state of one run, shared by the loop and its `finally` (save on exit)."""

    def __init__(self):
        self.best_state, self.best_metrics, self.best_step = None, {}, 0
        self.step, self.stopped, self.model_dir = 0, "cancelled", None


def train_reward(cfg: RewardConfig, ratings: pd.DataFrame | None, preferences: pd.DataFrame | None,
                 out_dir: str | os.PathLike, score_scale: tuple[float, float] | None = None) -> Iterator[dict]:
    """Train a reward model; yield a flat metrics dict per step, the last one with a `summary`.

    Args:
        cfg: RewardConfig (cfg.quick selects the frozen-encoder linear head of rlhf_core.reward.quick).
        ratings: canonical ratings (score in [0, 1]) or None.
        preferences: canonical preferences or None.
        out_dir: run folder; the checkpoint goes to out_dir/model.
        score_scale: raw score range of the ratings (for the metadata), inferred when None.
    Yields:
        {step, total_steps, epoch, loss/train, optim/lr, time/elapsed_s} and, at evaluations,
        loss/val, eval/spearman, eval/pairwise_accuracy; finally {..., summary: {...}}.
    """
    if cfg.quick:
        from rlhf_core.reward.quick import train_quick

        yield from train_quick(cfg, ratings, preferences, out_dir, score_scale)
        return
    import torch

    from rlhf_core.reward.data import prepare_splits, plan_batches

    # 1. clean the data, split by article, turn ratings of the same article into pairs
    splits = prepare_splits(ratings, preferences, val_fraction=cfg.val_fraction, seed=cfg.seed,
                            expert_weight=cfg.expert_weight, pairs_from_ratings_=cfg.pairs_from_ratings,
                            max_val_rows=cfg.max_val_rows)
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    plan = plan_batches(splits.train_ratings, splits.train_pairs, cfg.objective, cfg.batch_size, cfg.epochs, rng, cfg.use_margin)
    total = min(len(plan), cfg.max_steps) if cfg.max_steps else len(plan)
    # validation holds rated rows AND pairs whatever the objective: Spearman and pairwise accuracy always apply
    val_batch = plan_batches(splits.val_ratings, splits.val_pairs, "both", 10**9, 1, rng, cfg.use_margin)
    eval_every = cfg.eval_every or max(1, math.ceil(total / 8))

    # 2. the backbone with a fresh 1-logit head, AdamW, warm-up then linear decay
    model, tokenizer = load_backbone(cfg.backbone, cfg.device)
    freeze_lower_layers(model, cfg.freeze_layers)
    optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = int(cfg.warmup_ratio * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_warmup_decay(s, total, warmup))

    run, start = _Run(), time.monotonic()
    meta = {"format": "full", "backbone": cfg.backbone, "objective": cfg.objective, "max_length": cfg.max_length,
            "fact_checks": cfg.fact_checks, "fact_checks_version": FACT_CHECKS_VERSION if cfg.fact_checks else 0,
            "score_scale": list(score_scale) if score_scale else infer_scale(ratings),
            "data_fingerprint": splits.fingerprint, "data": splits.sizes(), "config": cfg.to_dict()}
    try:
        bad_evals = 0
        for run.step, (epoch, batch) in enumerate(plan[:total], start=1):
            # 3. one forward pass over the batch's unique texts, both losses read from it
            model.train()
            loss, parts = _batch_loss(model, tokenizer, batch, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            row = {"step": run.step, "total_steps": total, "epoch": epoch, "loss/train": float(loss.detach()), **parts,
                   "optim/lr": optimizer.param_groups[0]["lr"], "time/elapsed_s": round(time.monotonic() - start, 2)}

            # 4. evaluate on held-out articles; keep the best weights; stop when it stops improving
            if val_batch and (run.step % eval_every == 0 or run.step == total):
                metrics = _validate(model, tokenizer, val_batch[0][1], cfg)
                row.update(metrics)
                if not run.best_metrics or metrics["loss/val"] < run.best_metrics["loss/val"]:
                    run.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                    run.best_metrics, run.best_step, bad_evals = metrics, run.step, 0
                else:
                    bad_evals += 1
            yield row
            if cfg.early_stopping_patience and bad_evals >= cfg.early_stopping_patience:
                run.stopped = "early_stopping"
                break
        else:
            run.stopped = "max_steps" if total < len(plan) else "completed"
    except Exception:
        run.stopped = "failed"
        raise
    finally:
        # 5. save the best weights (or the last ones if never evaluated), also on cancel
        if run.step > 0 and run.stopped != "failed":
            if run.best_state is not None:
                model.load_state_dict(run.best_state)
            meta.update(metrics=run.best_metrics, best_step=run.best_step, steps_done=run.step, stopped=run.stopped,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            run.model_dir = save_checkpoint_dir(Path(out_dir), lambda d: write_full(model, tokenizer, meta, d))
    yield {"step": run.step, "total_steps": run.step, "epoch": plan[run.step - 1][0] if run.step else 0,
           "time/elapsed_s": round(time.monotonic() - start, 2),
           "summary": {**run.best_metrics, "best_step": run.best_step, "steps": run.step, "stopped": run.stopped,
                       "model_dir": str(run.model_dir), "backbone": cfg.backbone, "objective": cfg.objective,
                       "quick": False, **splits.sizes()}}


def freeze_lower_layers(model, n_layers: int) -> None:
    """Freeze the embeddings and the first `n_layers` blocks of a BERT-style encoder (no-op for 0)."""
    base = model.base_model
    blocks = getattr(getattr(base, "encoder", None), "layer", None)
    if n_layers <= 0 or blocks is None:
        return
    base.embeddings.requires_grad_(False)
    for block in blocks[:n_layers]:
        block.requires_grad_(False)


def param_groups(model, cfg: RewardConfig) -> list[dict]:
    """Trainable parameters: the encoder at cfg.lr, the new head (classifier, pooler) at cfg.head_lr."""
    head, body = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (head if "classifier" in name or "pooler" in name else body).append(param)
    return [{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr or cfg.lr}]


def _batch_loss(model, tokenizer, batch, cfg: RewardConfig):
    from rlhf_core.reward.data import encode
    from rlhf_core.reward.losses import objective_loss

    enc = encode(tokenizer, batch.articles, batch.headlines, cfg.max_length, FACT_CHECKS_VERSION if cfg.fact_checks else 0)
    enc = {k: v.to(cfg.device) for k, v in enc.items()}  # (N, T)
    logits = model(**enc).logits.squeeze(-1)  # (N,)
    return objective_loss(cfg.objective, batch_tensors(logits, batch, logits.device), cfg.center_rewards_coef)


def _validate(model, tokenizer, batch, cfg: RewardConfig, chunk: int = 64) -> dict:
    """Validation loss, Spearman vs the human score, and pairwise accuracy, in one pass over the texts."""
    import torch

    from rlhf_core.reward.data import encode

    model.eval()
    with torch.no_grad():
        order = np.argsort([len(a) + len(h) for a, h in zip(batch.articles, batch.headlines)], kind="stable")
        logits = torch.zeros(len(batch), device=cfg.device)  # (N,)
        for s in range(0, len(order), chunk):
            idx = order[s:s + chunk]
            enc = encode(tokenizer, [batch.articles[i] for i in idx], [batch.headlines[i] for i in idx], cfg.max_length,
                         FACT_CHECKS_VERSION if cfg.fact_checks else 0)
            logits[torch.as_tensor(idx, device=cfg.device)] = model(**{k: v.to(cfg.device) for k, v in enc.items()}).logits.squeeze(-1)
        tensors = batch_tensors(logits, batch, logits.device)
    return {"loss/val": validation_loss(cfg, tensors), **rank_metrics(tensors, batch)}


