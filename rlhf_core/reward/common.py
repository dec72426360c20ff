"""What the full and the quick reward trainer, the scorer and the TRL import share (so none imports another).

The checkpoint's file names, the backbone loader, seeding, the raw score scale, the atomic checkpoint
folder, and the batch tensors and validation metrics both trainers compute the same way.
Shapes: N = unique texts of a batch, B = rated rows, P = pairs.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from rlhf_core import paths
from rlhf_core.paths import atomic_write_json, replace_dir

META_FILE = "studio_reward.json"
MODEL_SUBDIR = "model"  # train_reward writes the checkpoint to out_dir / "model"


def load_backbone(spec: str, device: str = "cpu"):
    """(AutoModelForSequenceClassification with num_labels=1, tokenizer) for 'minilm', 'tiny', a folder or a hub id."""
    from rlhf_core.models.registry import load_reward_backbone

    model, tokenizer = load_reward_backbone(spec)
    model.config.problem_type = "regression"
    return model.to(device), tokenizer


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


def write_full(model, tokenizer, meta: dict, folder: Path) -> None:
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


def validation_loss(cfg, tensors: dict) -> float:
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
