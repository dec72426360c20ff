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
import random
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from rlhf_core import paths
from rlhf_core.paths import atomic_write_json, replace_dir
from rlhf_core.reward.config import RewardConfig
from rlhf_core.reward.scorer import META_FILE, MODEL_SUBDIR


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def infer_scale(ratings: pd.DataFrame | None) -> list[float] | None:
    """The raw score range, when the loader did not say: the range of `score_raw` (e.g. [1, 5])."""
    if ratings is None or "score_raw" not in ratings or ratings["score_raw"].isna().all():
        return None
    raw = pd.to_numeric(ratings["score_raw"], errors="coerce").dropna()
    return [float(raw.min()), float(raw.max())]


def linear_warmup_decay(step: int, total: int, warmup: int) -> float:
    """LR multiplier: linear warm-up over `warmup` steps, then linear decay to 0 at `total` (BERT's schedule)."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def save_checkpoint_dir(out_dir: Path, write) -> Path:
    """Write a checkpoint into a temporary folder, then swap it in: readers never see half a model.

    `write(tmp_dir)` fills the folder. Returns out_dir / "model".
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / MODEL_SUBDIR
    tmp = paths.make_temp_dir(final)
    try:
        write(tmp)
        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


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
    from rlhf_core.reward.scorer import load_backbone

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
            "fact_checks": cfg.fact_checks,
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
            run.model_dir = save_checkpoint_dir(Path(out_dir), lambda d: _write_full(model, tokenizer, meta, d))
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


def _write_full(model, tokenizer, meta: dict, folder: Path) -> None:
    model.save_pretrained(folder)  # safetensors
    tokenizer.save_pretrained(folder)
    atomic_write_json(folder / META_FILE, meta)


def batch_tensors(logits, batch, device, index: dict | None = None) -> dict:
    """Gather the pointwise rows and the pairs of a batch from the logits of its unique texts.  # logits (N,)

    `index` = batch_index(batch, device), when the same batch is used many times (quick mode's
    full-batch head steps): turning long Python lists into tensors at every step costs more than the step.
    """
    index = index if index is not None else batch_index(batch, device)
    return {"logits": logits[index["point_idx"]], "targets": index["targets"], "weights": index["weights"],  # (B,)
            "r_chosen": logits[index["chosen_idx"]], "r_rejected": logits[index["rejected_idx"]],  # (P,)
            "margin": index["margins"], "pair_weights": index["pair_weights"]}


def batch_index(batch, device) -> dict:
    """The index and value lists of a Batch as tensors."""
    import torch

    idx = lambda values: torch.as_tensor(values, dtype=torch.long, device=device)  # noqa: E731
    val = lambda values: torch.as_tensor(values, dtype=torch.float32, device=device)  # noqa: E731
    return {"point_idx": idx(batch.point_idx), "targets": val(batch.targets), "weights": val(batch.weights),
            "chosen_idx": idx(batch.chosen_idx), "rejected_idx": idx(batch.rejected_idx),
            "margins": val(batch.margins), "pair_weights": val(batch.pair_weights)}


def _batch_loss(model, tokenizer, batch, cfg: RewardConfig):
    from rlhf_core.reward.data import encode
    from rlhf_core.reward.losses import objective_loss

    enc = encode(tokenizer, batch.articles, batch.headlines, cfg.max_length, cfg.fact_checks)
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
                         cfg.fact_checks)
            logits[torch.as_tensor(idx, device=cfg.device)] = model(**{k: v.to(cfg.device) for k, v in enc.items()}).logits.squeeze(-1)
        tensors = batch_tensors(logits, batch, logits.device)
    return {"loss/val": validation_loss(cfg, tensors), **rank_metrics(tensors, batch)}


def validation_loss(cfg: RewardConfig, tensors: dict) -> float:
    """The training objective on validation data (the other objective's loss if this one has no rows there)."""
    from rlhf_core.reward.losses import objective_loss

    try:
        return float(objective_loss(cfg.objective, tensors, cfg.center_rewards_coef)[0])
    except ValueError:
        return float(objective_loss("both", tensors, 0.0)[0])


def rank_metrics(tensors: dict, batch) -> dict:
    """eval/spearman on the rated rows and eval/pairwise_accuracy on the pairs (where there are any)."""
    from rlhf_core.reward.evaluate import pairwise_accuracy, spearman

    metrics = {}
    rho = spearman(tensors["logits"].cpu().numpy(), batch.targets) if batch.point_idx else None
    acc = pairwise_accuracy(tensors["r_chosen"].cpu().numpy(), tensors["r_rejected"].cpu().numpy()) if batch.chosen_idx else None
    if rho is not None:
        metrics["eval/spearman"] = rho
    if acc is not None:
        metrics["eval/pairwise_accuracy"] = acc
    return metrics
