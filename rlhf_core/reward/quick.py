"""Quick mode: a linear reward head on frozen sentence embeddings, trained in seconds.

The encoder (MiniLM was trained for exactly this) is frozen; each article and each headline is
embedded once (mean-pooled last hidden states, L2-normalised) and cached. A pair's features are

    x = [h, cos(a, h), alignment]        a = article embedding, h = headline embedding

h carries the headline's style (clickbait, vague, long), cos(a, h) how much it is about its
article. (InferSent's a * h and |a - h| were tried too: 768 more article-specific dimensions that
over-fit a few thousand ratings.) The alignment part is token-level, in the spirit of BERTScore
(Zhang et al. 2020): each headline token is matched to its most similar article token (cosine of
contextual token states), giving
    p_i = max_j cos(h_i, a_j)  ->  [mean_i p_i, min_i p_i, mean of the 2 lowest, share < 0.6, share < 0.7,
                                    share of headline word pieces found verbatim in the article]
so a headline naming a number or a company the article never mentions (a wrong fact) stands
out even though its sentence embedding looks like the accurate headline's.
The reward logit is r = w . standardise(x) + b, trained with the same losses as the full model
(pointwise MSE on sigmoid(r), Bradley-Terry on pairs) plus an L2 (ridge) penalty on w.
Shapes: N = texts, H = hidden size, D = H + 1 + 6 features, T = tokens, L = tokens of one text.
"""

from __future__ import annotations

import math
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from rlhf_core.paths import atomic_write_bytes, atomic_write_json
from rlhf_core.reward.config import RewardConfig
from rlhf_core.reward.scorer import META_FILE

HEAD_FILE = "head.safetensors"
ENCODER_SUBDIR = "encoder"
FEATURES = "[h, cos(a,h)] of L2-normalised mean-pooled embeddings + 6 BERTScore-style token alignments"
N_ALIGN = 6


def mean_pool(hidden, mask):
    """Average of the token states, padding excluded.  hidden (N, T, H), mask (N, T) -> (N, H)"""
    mask = mask.unsqueeze(-1).to(hidden.dtype)  # (N, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)


def pair_features(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Sentence-level pair features [h, cos(a, h)].  a, h (N, H) L2-normalised -> (N, H + 1)"""
    cos = (a * h).sum(1, keepdims=True)  # (N, 1)
    return np.concatenate([h, cos], axis=1).astype(np.float32)


def alignment_features(a_tokens: np.ndarray, a_ids: np.ndarray, h_tokens: np.ndarray, h_ids: np.ndarray) -> np.ndarray:
    """BERTScore-style precision of one headline against its article.

    a_tokens (La, H), h_tokens (Lh, H): L2-normalised token states without special tokens;
    a_ids (La,), h_ids (Lh,): their token ids. Returns (N_ALIGN,).
    """
    if len(h_tokens) == 0 or len(a_tokens) == 0:
        return np.zeros(N_ALIGN, dtype=np.float32)
    p = (h_tokens @ a_tokens.T).max(1)  # (Lh,) best match of each headline token in the article
    lowest = np.sort(p)[:2].mean()
    verbatim = np.isin(h_ids, a_ids).mean()
    return np.array([p.mean(), p.min(), lowest, (p < 0.6).mean(), (p < 0.7).mean(), verbatim], dtype=np.float32)


class Embedder:
    """A frozen encoder with a per-text cache (an article is embedded once for all its headlines).

    Each cached text keeps its pooled embedding (H,), its token states (L, H) and token ids (L,).
    """

    def __init__(self, encoder, tokenizer, max_length: int, device: str = "cpu", cache_size: int = 20_000):
        self.encoder, self.tokenizer, self.max_length, self.device = encoder.eval(), tokenizer, max_length, device
        self.cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.cache_size = cache_size
        self.special = set(getattr(tokenizer, "all_special_ids", []) or [])
        self.lock = threading.Lock()  # background jobs may share one embedder

    def missing(self, texts: Sequence[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if t not in self.cache]

    def embed_batches(self, texts: Sequence[str], batch_size: int = 64) -> Iterator[int]:
        """Embed the uncached texts, shortest first; yields how many are done after each batch."""
        import torch

        todo = sorted(self.missing(texts), key=len)
        overflow = len(self.cache) + len(todo) - self.cache_size
        if overflow > 0:  # forget the oldest texts this request does not need
            needed = set(texts)
            for key in [k for k in self.cache if k not in needed][:overflow]:
                del self.cache[key]
        with torch.no_grad():
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                enc = self.tokenizer(chunk, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}  # (n, T)
                hidden = self.encoder(**enc).last_hidden_state  # (n, T, H)
                pooled = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1)  # (n, H)
                tokens = torch.nn.functional.normalize(hidden, dim=-1).float().cpu().numpy()  # (n, T, H)
                ids = enc["input_ids"].cpu().numpy()  # (n, T)
                mask = enc["attention_mask"].cpu().numpy().astype(bool)
                for i, text in enumerate(chunk):
                    keep = mask[i] & ~np.isin(ids[i], list(self.special))  # real tokens only
                    self.cache[text] = (pooled[i].float().cpu().numpy(), tokens[i][keep].astype(np.float16), ids[i][keep])
                yield start + len(chunk)

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Pooled embeddings of `texts`.  # (N, H)"""
        with self.lock:
            for _ in self.embed_batches(texts, batch_size):
                pass
            return np.stack([self.cache[t][0] for t in texts])

    def features(self, articles: Sequence[str], headlines: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Pair features of (article, headline) pairs.  # (N, D)"""
        with self.lock:
            for _ in self.embed_batches(list(articles) + list(headlines), batch_size):
                pass
            entries = [(self.cache[a], self.cache[h]) for a, h in zip(articles, headlines)]
        a = np.stack([e[0][0] for e in entries])  # (N, H)
        h = np.stack([e[1][0] for e in entries])  # (N, H)
        align = np.stack([alignment_features(ea[1].astype(np.float32), ea[2], eh[1].astype(np.float32), eh[2])
                          for ea, eh in entries])  # (N, N_ALIGN)
        return np.concatenate([pair_features(a, h), align], axis=1)


class QuickModel:
    """Embedder + standardisation + linear head: the scorer behind a quick checkpoint."""

    def __init__(self, embedder: Embedder, weight: np.ndarray, bias: float, mean: np.ndarray, std: np.ndarray):
        self.embedder, self.weight, self.bias, self.mean, self.std = embedder, weight, bias, mean, std

    def logits(self, articles: Sequence[str], headlines: Sequence[str], batch_size: int = 32) -> np.ndarray:
        x = (self.embedder.features(articles, headlines, max(batch_size, 32)) - self.mean) / self.std  # (N, D)
        return (x @ self.weight + self.bias).astype(np.float32)  # (N,)

    @classmethod
    def load(cls, folder: Path, meta: dict, device: str = "cpu") -> "QuickModel":
        from safetensors.numpy import load_file

        head = load_file(str(folder / HEAD_FILE))
        encoder, tokenizer = _load_encoder(folder, meta, device)
        embedder = Embedder(encoder, tokenizer, int(meta.get("max_length", 128)), device)
        return cls(embedder, head["weight"], float(head["bias"][0]), head["mean"], head["std"])


_EMBEDDERS: dict[tuple, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(backbone: str, max_length: int, device: str = "cpu") -> Embedder:
    """One frozen encoder + text cache per (backbone, max_length, device) for the whole process.

    Quick mode is meant to be re-run every time a few ratings arrive: with the cache, only the new
    texts go through the encoder. A folder backbone is keyed by its modification time.
    """
    stamp = Path(backbone).stat().st_mtime_ns if Path(backbone).is_dir() else 0
    key = (backbone, stamp, max_length, device)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            encoder, tokenizer = _load_encoder(None, {"backbone": backbone}, device)
            _EMBEDDERS[key] = Embedder(encoder, tokenizer, max_length, device)
        return _EMBEDDERS[key]


def clear_embedder_cache() -> None:
    with _EMBEDDERS_LOCK:
        _EMBEDDERS.clear()


def _load_encoder(folder: Path | None, meta: dict, device: str):
    """The frozen encoder: the copy saved in the checkpoint (tiny), else the backbone it names."""
    from rlhf_core.errors import ModelLoadError

    if folder is not None and (folder / ENCODER_SUBDIR).is_dir():
        from transformers import AutoModel, AutoTokenizer

        try:
            return (AutoModel.from_pretrained(folder / ENCODER_SUBDIR).to(device).eval(),
                    AutoTokenizer.from_pretrained(folder / ENCODER_SUBDIR))
        except Exception as exc:
            raise ModelLoadError(f"could not load the quick-mode encoder in {folder}: {exc}") from exc
    from rlhf_core.reward.scorer import load_backbone

    model, tokenizer = load_backbone(meta.get("backbone_path") or meta["backbone"], device)
    return model.base_model.eval(), tokenizer


def train_quick(cfg: RewardConfig, ratings: pd.DataFrame | None, preferences: pd.DataFrame | None,
                out_dir: str | os.PathLike, score_scale=None) -> Iterator[dict]:
    """Quick mode as a generator trainer (same rows and checkpoint folder as `train_reward`)."""
    import torch

    from rlhf_core.reward.data import plan_batches, prepare_splits
    from rlhf_core.reward.losses import objective_loss
    from rlhf_core.reward.train import batch_tensors, infer_scale, rank_metrics, save_checkpoint_dir, seed_everything, validation_loss

    start, total = time.monotonic(), cfg.quick_head_steps
    elapsed = lambda: round(time.monotonic() - start, 2)  # noqa: E731
    # 1. clean, split by article, pairs from ratings; one "batch" per split holds all its texts
    splits = prepare_splits(ratings, preferences, val_fraction=cfg.val_fraction, seed=cfg.seed,
                            expert_weight=cfg.expert_weight, pairs_from_ratings_=cfg.pairs_from_ratings,
                            max_val_rows=cfg.max_val_rows)
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train = plan_batches(splits.train_ratings, splits.train_pairs, cfg.objective, 10**9, 1, rng, cfg.use_margin)[0][1]
    val_plan = plan_batches(splits.val_ratings, splits.val_pairs, "both", 10**9, 1, rng, cfg.use_margin)
    val = val_plan[0][1] if val_plan else None

    # 2. embed every article and headline once with the frozen encoder (the slow part: report progress);
    #    the embedder is kept for the process, so retraining on a few new ratings only embeds the new texts
    embedder = shared_embedder(cfg.backbone, cfg.max_length, cfg.device)
    encoder, tokenizer = embedder.encoder, embedder.tokenizer
    texts = train.articles + train.headlines + (val.articles + val.headlines if val else [])
    n_todo = len(embedder.missing(texts))
    for start_ in range(0, n_todo, 256):  # in slices, so the lock is never held across a yield
        chunk = embedder.missing(texts)[:256]
        with embedder.lock:
            for _ in embedder.embed_batches(chunk):
                pass
        yield {"step": 0, "total_steps": total, "phase": "embedding", "embed/done": min(n_todo, start_ + len(chunk)),
               "embed/total": n_todo, "time/elapsed_s": elapsed()}
    x_train = embedder.features(train.articles, train.headlines)  # (N, D)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train_t = torch.from_numpy((x_train - mean) / std).to(cfg.device)
    x_val_t = torch.from_numpy((embedder.features(val.articles, val.headlines) - mean) / std).to(cfg.device) if val else None

    # 3. a linear head, full-batch Adam on the objective + ridge penalty; keep the best on validation
    head = torch.nn.Linear(x_train_t.shape[1], 1).to(cfg.device)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    eval_every = cfg.eval_every or max(1, math.ceil(total / 12))
    best, best_metrics, best_step, bad, step, stopped = None, {}, 0, 0, 0, "completed"
    for step in range(1, total + 1):
        logits = head(x_train_t).squeeze(-1)  # (N,)
        loss, parts = objective_loss(cfg.objective, batch_tensors(logits, train, logits.device), cfg.center_rewards_coef)
        loss = loss + cfg.quick_l2 * head.weight.pow(2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        row = {"step": step, "total_steps": total, "epoch": step, "loss/train": float(loss.detach()), **parts,
               "optim/lr": optimizer.param_groups[0]["lr"], "time/elapsed_s": elapsed()}
        if val is not None and (step % eval_every == 0 or step == total):
            with torch.no_grad():
                tensors = batch_tensors(head(x_val_t).squeeze(-1), val, cfg.device)
            metrics = {"loss/val": validation_loss(cfg, tensors), **rank_metrics(tensors, val)}
            row.update(metrics)
            if not best_metrics or metrics["loss/val"] < best_metrics["loss/val"]:
                best = (head.weight.detach().cpu().numpy()[0].copy(), float(head.bias.detach()[0]))
                best_metrics, best_step, bad = metrics, step, 0
            else:
                bad += 1
        if step % eval_every == 0 or step == total or "loss/val" in row:
            yield row  # a row per evaluation: hundreds of sub-millisecond steps would flood the charts
        if cfg.early_stopping_patience and bad >= cfg.early_stopping_patience:
            stopped = "early_stopping"
            break
    weight, bias = best if best is not None else (head.weight.detach().cpu().numpy()[0].copy(), float(head.bias.detach()[0]))

    # 4. save: the head (safetensors), its standardisation, metadata naming the encoder (a copy of it for 'tiny')
    meta = {"format": "quick", "backbone": cfg.backbone, "objective": cfg.objective, "max_length": cfg.max_length,
            "backbone_path": str(Path(cfg.backbone).resolve()) if Path(cfg.backbone).is_dir() else None,
            "features": FEATURES, "score_scale": list(score_scale) if score_scale else infer_scale(ratings),
            "data_fingerprint": splits.fingerprint, "data": splits.sizes(), "config": cfg.to_dict(),
            "metrics": best_metrics, "best_step": best_step, "steps_done": step, "stopped": stopped,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def write(folder: Path) -> None:
        from safetensors.numpy import save

        folder.mkdir(parents=True, exist_ok=True)
        head_tensors = {"weight": weight.astype(np.float32), "bias": np.array([bias], np.float32),
                        "mean": mean.astype(np.float32), "std": std.astype(np.float32)}
        atomic_write_bytes(folder / HEAD_FILE, save(head_tensors))
        if cfg.backbone == "tiny":  # a random encoder cannot be rebuilt from its name
            encoder.save_pretrained(folder / ENCODER_SUBDIR)
            tokenizer.save_pretrained(folder / ENCODER_SUBDIR)
        atomic_write_json(folder / META_FILE, meta)

    model_dir = save_checkpoint_dir(Path(out_dir), write)
    yield {"step": step, "total_steps": step, "epoch": step, "time/elapsed_s": elapsed(),
           "summary": {**best_metrics, "best_step": best_step, "steps": step, "stopped": stopped, "model_dir": str(model_dir),
                       "backbone": cfg.backbone, "objective": cfg.objective, "quick": True, **splits.sizes()}}
