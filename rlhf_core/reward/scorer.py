"""Load a trained reward model and score (article, headline) pairs: `load_scorer(dir).score(a, h)`.

Two checkpoint formats share one interface (both written by this package, both with a
`studio_reward.json` metadata file):
- "full":  a fine-tuned AutoModelForSequenceClassification (num_labels=1) saved with save_pretrained;
- "quick": a linear head (head.safetensors) on the mean-pooled embeddings of a frozen encoder.
A plain transformers sequence-classification folder without metadata also loads (as "full").
A model trained without segment ids (TRL's RewardTrainer, imported by rlhf_core.trl_import) says
`"token_type_ids": false` in its metadata and is scored without them.
Rewards are sigmoid(logit) in (0, 1). Shapes: N = pairs scored, T = tokens, H = hidden size.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from rlhf_core.errors import ModelLoadError
from rlhf_core.paths import read_json
from rlhf_core.reward.checks import fact_checks_version
from rlhf_core.reward.common import META_FILE, MODEL_SUBDIR, load_backbone  # noqa: F401 - one import for callers

# --------------------------------------------------------------------------- scorers
class RewardScorer:
    """Scores (article, headline) pairs with a trained reward model. Thread-safe for reading."""

    def __init__(self, kind: str, meta: dict, device: str = "cpu", model=None, tokenizer=None, quick=None):
        self.kind, self.meta, self.device = kind, meta, device
        self.model, self.tokenizer, self.quick = model, tokenizer, quick
        self.max_length = int(meta.get("max_length", 256))
        self._lock = threading.Lock()

    def logits(self, articles: Sequence[str], headlines: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Raw reward logits r, one per pair.  # (N,)"""
        articles, headlines = [str(a) for a in articles], [str(h) for h in headlines]
        if len(articles) != len(headlines):
            raise ValueError(f"{len(articles)} articles but {len(headlines)} headlines")
        if not articles:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            if self.quick is not None:
                return self.quick.logits(articles, headlines, batch_size)
            return self._full_logits(articles, headlines, batch_size)

    def score(self, articles: Sequence[str], headlines: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Rewards sigmoid(r) in (0, 1), one per pair.  # (N,)"""
        r = self.logits(articles, headlines, batch_size).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-r))

    def _full_logits(self, articles, headlines, batch_size):
        import torch

        from rlhf_core.reward.data import encode

        order = np.argsort([len(a) + len(h) for a, h in zip(articles, headlines)], kind="stable")  # less padding
        out = np.zeros(len(articles), dtype=np.float32)
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                enc = encode(self.tokenizer, [articles[i] for i in idx], [headlines[i] for i in idx], self.max_length,
                             fact_checks_version(self.meta))
                if not self.meta.get("token_type_ids", True):  # trained without segment ids (TRL's RewardTrainer)
                    enc.pop("token_type_ids", None)
                enc = {k: v.to(self.device) for k, v in enc.items()}
                out[idx] = self.model(**enc).logits.squeeze(-1).float().cpu().numpy()  # (n,)
        return out


_CACHE: dict[tuple, RewardScorer] = {}
_CACHE_LOCK = threading.Lock()


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint folder: `path` itself, or `path/model` for a run folder written by train_reward."""
    path = Path(path).expanduser()
    if (path / META_FILE).exists() or ((path / "config.json").exists() and (path / "model.safetensors").exists()):
        return path
    if (path / MODEL_SUBDIR / META_FILE).exists():
        return path / MODEL_SUBDIR
    raise ModelLoadError(f"no reward model in {path} (expected {META_FILE} or a transformers checkpoint)")


def load_scorer(path: str | os.PathLike, device: str = "cpu") -> RewardScorer:
    """Load a reward model once per (folder, version, device); later calls return the cached scorer."""
    folder = resolve_checkpoint(path).resolve()
    meta_path = folder / META_FILE
    stamp = meta_path.stat().st_mtime_ns if meta_path.exists() else (folder / "config.json").stat().st_mtime_ns
    key = (str(folder), stamp, device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(folder, device)
        return _CACHE[key]


def clear_scorer_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def _load(folder: Path, device: str) -> RewardScorer:
    meta = read_json(folder / META_FILE, default={}) or {}
    if meta.get("format") == "quick":
        from rlhf_core.reward.quick import QuickModel

        return RewardScorer("quick", meta, device, quick=QuickModel.load(folder, meta, device))
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder).to(device)
    except Exception as exc:
        raise ModelLoadError(f"could not load the reward model in {folder}: {exc}") from exc
    if model.config.num_labels != 1:
        raise ModelLoadError(f"{folder} has {model.config.num_labels} labels; a reward model has exactly 1")
    model.eval()
    return RewardScorer("full", meta, device, model=model, tokenizer=tokenizer)
