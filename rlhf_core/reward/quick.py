"""Quick mode: a linear reward head on frozen sentence embeddings, trained in seconds.

The encoder (MiniLM was trained for exactly this) is frozen; each article and each headline is
embedded once (mean-pooled last hidden states, L2-normalised) and cached. A pair's features are

    x = [h, cos(a, h), alignment, surface]        a = article embedding, h = headline embedding

h carries the headline's style (clickbait, vague, long), cos(a, h) how much it is about its
article. (InferSent's a * h and |a - h| were tried too: 768 more article-specific dimensions that
over-fit a few thousand ratings.) The alignment part is token-level, in the spirit of BERTScore
(Zhang et al. 2020): each headline token is matched to its most similar article token (cosine of
contextual token states), giving
    p_i = max_j cos(h_i, a_j)  ->  [mean_i p_i, min_i p_i, mean of the 2 lowest, share < 0.6, share < 0.7,
                                    share of headline word pieces found verbatim in the article]
so a headline naming a number or a company the article never mentions (a wrong fact) stands
out even though its sentence embedding looks like the accurate headline's. Ten surface checks
(`checks.surface_features`: length, numbers and names found in the article, '!', '?', capitals, repeats,
'you') say the
same in words, so they hold for hand-written news too, not only for the templates trained on.
The reward logit is r = w . standardise(x) + b, trained with the same losses as the full model
(pointwise MSE on sigmoid(r), Bradley-Terry on pairs) plus an L2 (ridge) penalty on w.
Shapes: N = texts, H = hidden size, D = H + 1 + 6 + 10 (+ 18 reader checks) features, T = tokens, L = tokens of one text.
Speed: each unique text is embedded once (articles cut to `quick_article_tokens`, headlines whole,
shortest first so a batch pads to its longest member), under torch.inference_mode, and cached on disk.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from rlhf_core.paths import atomic_write_bytes, atomic_write_json, models_dir
from rlhf_core.reward.checks import N_READER, N_SURFACE, check_columns, reader_checks, surface_features
from rlhf_core.reward.config import RewardConfig
from rlhf_core.reward.common import (META_FILE, batch_index, batch_tensors, infer_scale, load_backbone, rank_metrics,
                                     save_checkpoint_dir, seed_everything, validation_loss)

HEAD_FILE = "head.safetensors"
ENCODER_SUBDIR = "encoder"
FEATURES = ("[h, cos(a,h)] of L2-normalised mean-pooled embeddings + 6 BERTScore-style token alignments"
            " + 10 surface checks (length, numbers and names found in the article, '!', '?', capitals, repeats, 'you')")
FEATURE_VERSION = "v3"  # bump when pooling or normalisation changes: old on-disk embeddings are then ignored
# v3: an int8 encoder embeds one text at a time (v2 cached batch-dependent int8 embeddings)
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
    return article_alignments((None, a_tokens, np.asarray(a_ids)), [(None, h_tokens, np.asarray(h_ids))])[0]


def alignment_stats(p: np.ndarray, h_ids: np.ndarray, article_ids: set) -> np.ndarray:
    """The N_ALIGN statistics of p (Lh,), each headline token's best cosine in the article."""
    lowest = np.sort(p)[:2].mean()
    verbatim = np.mean([i in article_ids for i in h_ids.tolist()])
    return np.array([p.mean(), p.min(), lowest, (p < 0.6).mean(), (p < 0.7).mean(), verbatim], dtype=np.float32)


def article_alignments(article: tuple, headlines: Sequence[tuple]) -> np.ndarray:
    """alignment_features of several headlines of ONE article with a single matrix product.

    article, headlines: cache entries (pooled, token states, token ids). Returns (n, N_ALIGN).
    """
    a_tokens, article_ids = article[1].astype(np.float32), set(article[2].tolist())  # (La, H)
    lengths = [len(h[2]) for h in headlines]
    out = np.zeros((len(headlines), N_ALIGN), dtype=np.float32)
    if len(a_tokens) == 0 or sum(lengths) == 0:
        return out
    best = (np.concatenate([h[1] for h in headlines]).astype(np.float32) @ a_tokens.T).max(1)  # (sum Lh,)
    for i, p in enumerate(np.split(best, np.cumsum(lengths)[:-1])):
        if len(p):
            out[i] = alignment_stats(p, headlines[i][2], article_ids)
    return out


Entry = tuple  # (pooled (H,) float32, token states (L, H) float16, token ids (L,) int32)


class EmbeddingStore:
    """Embeddings on disk, so a retrain after a few new ratings embeds only the new texts.

    A folder of .npz shards, one per save, each holding `keys` (n,) sha256 hex strings,
    `pooled` (n, H), `tokens` (sum L, H) float16, `ids` (sum L,) and `offsets` (n + 1,) into them.
    Shards are written atomically; once there are more than `max_shards`, they are merged.
    """

    def __init__(self, folder: Path, max_shards: int = 16):
        self.folder, self.max_shards = Path(folder), max_shards

    def load(self) -> dict[str, Entry]:
        entries: dict[str, Entry] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:  # z[name] reads the array each time: read once
                    keys, pooled, tokens, ids, off = (z[name] for name in ("keys", "pooled", "tokens", "ids", "offsets"))
                for i, key in enumerate(keys.tolist()):
                    entries[key] = (pooled[i], tokens[off[i]:off[i + 1]], ids[off[i]:off[i + 1]])
            except (OSError, ValueError, KeyError):  # a damaged shard is only a cache miss
                continue
        return entries

    def save(self, entries: dict[str, Entry]) -> None:
        if not entries:
            return
        old = sorted(self.folder.glob("shard-*.npz"))
        if len(old) >= self.max_shards:  # merge everything into one shard
            entries = {**self.load(), **entries}
        keys = list(entries)
        lengths = [len(entries[k][2]) for k in keys]
        arrays = {"keys": np.array(keys), "pooled": np.stack([entries[k][0] for k in keys]).astype(np.float32),
                  "tokens": np.concatenate([entries[k][1] for k in keys]).astype(np.float16),
                  "ids": np.concatenate([entries[k][2] for k in keys]).astype(np.int32),
                  "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(self.folder / f"shard-{time.time_ns()}-{secrets.token_hex(3)}.npz", buffer.getvalue())
        if len(old) >= self.max_shards:
            for shard in old:
                shard.unlink(missing_ok=True)


def text_key(text: str, limit: int) -> str:
    """Cache key of a text embedded with at most `limit` tokens."""
    return hashlib.sha256(f"{limit}\x00{text}".encode("utf-8")).hexdigest()


class Embedder:
    """A frozen encoder with a per-text cache (an article is embedded once for all its headlines).

    Articles are cut to `article_length` tokens (the lead holds the facts a headline must state);
    headlines to `max_length` (i.e. kept whole). Texts are embedded shortest first, so a batch of
    headlines pads to ~20 tokens, not to the longest article. Each cached text keeps its pooled
    embedding (H,), its token states (L, H) and token ids (L,), in memory and, when a `store` is
    given, on disk.
    """

    def __init__(self, encoder, tokenizer, max_length: int, device: str = "cpu", cache_size: int = 50_000,
                 article_length: int | None = None, store: EmbeddingStore | None = None):
        self.encoder, self.tokenizer, self.max_length, self.device = encoder.eval(), tokenizer, max_length, device
        self.article_length = min(article_length or max_length, max_length)
        self.store = store
        self.cache: dict[str, Entry] = store.load() if store is not None else {}
        self.cache_size = cache_size
        self.saved: set[str] = set(self.cache)
        self.special = np.array(sorted(set(getattr(tokenizer, "all_special_ids", []) or [])), dtype=np.int64)
        self.lock = threading.Lock()  # background jobs may share one embedder
        self.int8 = False  # set by shared_embedder when the encoder runs in int8

    def jobs(self, articles: Sequence[str], headlines: Sequence[str]) -> list[tuple[str, int]]:
        """The unique (text, token limit) requests of these pairs."""
        return list(dict.fromkeys([(a, self.article_length) for a in articles] + [(h, self.max_length) for h in headlines]))

    def missing(self, jobs: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        return [job for job in dict.fromkeys(jobs) if text_key(*job) not in self.cache]

    def embed_batches(self, jobs: Sequence[tuple[str, int]], batch_size: int = 64) -> Iterator[int]:
        """Embed the uncached (text, limit) jobs, shortest first; yields how many are done after each batch.

        An int8 encoder embeds one text at a time: dynamic quantisation scales the activations per
        batch, so in a batch a text's embedding would depend on its neighbours (seen: pooled values
        off by up to 0.4 between two batchings of the same headlines; one at a time costs ~10% more).
        """
        import torch

        if self.int8:
            batch_size = 1
        todo = sorted(self.missing(jobs), key=lambda job: (job[1], len(job[0])))
        overflow = len(self.cache) + len(todo) - self.cache_size
        if overflow > 0:  # forget the oldest texts this request does not need
            needed = {text_key(*job) for job in jobs}
            for key in [k for k in self.cache if k not in needed][:overflow]:
                del self.cache[key]
        done = 0
        with torch.inference_mode():
            for limit in sorted({job[1] for job in todo}):
                group = [text for text, lim in todo if lim == limit]
                for start in range(0, len(group), batch_size):
                    chunk = group[start:start + batch_size]
                    self._embed(chunk, limit)
                    done += len(chunk)
                    yield done

    def _embed(self, texts: list[str], limit: int) -> None:
        import torch

        enc = self.tokenizer(texts, truncation=True, max_length=limit, padding=True, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}  # (n, T), T = the longest text of this chunk
        hidden = self.encoder(**enc).last_hidden_state  # (n, T, H)
        pooled = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1).float().cpu().numpy()  # (n, H)
        tokens = torch.nn.functional.normalize(hidden, dim=-1).to(torch.float16).cpu().numpy()  # (n, T, H)
        ids = enc["input_ids"].cpu().numpy()  # (n, T)
        keep = enc["attention_mask"].cpu().numpy().astype(bool) & ~np.isin(ids, self.special)  # real tokens only
        for i, text in enumerate(texts):
            self.cache[text_key(text, limit)] = (pooled[i], tokens[i][keep[i]], ids[i][keep[i]].astype(np.int32))

    def persist(self, jobs: Sequence[tuple[str, int]]) -> None:
        """Write the embeddings of these jobs that are not on disk yet (training texts, not every scored headline)."""
        if self.store is None:
            return
        keys = [k for k in dict.fromkeys(text_key(*job) for job in jobs) if k in self.cache and k not in self.saved]
        self.store.save({k: self.cache[k] for k in keys})
        self.saved.update(keys)

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Pooled embeddings of `texts` (cut to max_length).  # (N, H)"""
        jobs = [(t, self.max_length) for t in texts]
        with self.lock:
            for _ in self.embed_batches(jobs, batch_size):
                pass
            return np.stack([self.cache[text_key(*job)][0] for job in jobs])

    def features(self, articles: Sequence[str], headlines: Sequence[str], batch_size: int = 64,
                 reader: bool = False, leave_out: str = "") -> np.ndarray:
        """Pair features of (article, headline) pairs, plus the reader checks if `reader` (those named in
        `leave_out` held at zero: a blind spot by design).  # (N, D)"""
        with self.lock:
            for _ in self.embed_batches(self.jobs(articles, headlines), batch_size):
                pass
            entries = [(self.cache[text_key(a, self.article_length)], self.cache[text_key(h, self.max_length)])
                        for a, h in zip(articles, headlines)]
        a = np.stack([e[0][0] for e in entries])  # (N, H)
        h = np.stack([e[1][0] for e in entries])  # (N, H)
        align = np.zeros((len(entries), N_ALIGN), dtype=np.float32)  # (N, N_ALIGN), one product per article
        by_article: dict[str, list[int]] = {}
        for i, article in enumerate(articles):
            by_article.setdefault(article, []).append(i)
        for rows in by_article.values():
            align[rows] = article_alignments(entries[rows[0]][0], [entries[i][1] for i in rows])
        surface = np.stack([surface_features(a_, h_) for a_, h_ in zip(articles, headlines)])  # (N, N_SURFACE)
        parts = [pair_features(a, h), align, surface]
        if reader:
            checks = np.stack([reader_checks(a_, h_) for a_, h_ in zip(articles, headlines)])  # (N, N_READER)
            checks[:, check_columns(leave_out)] = 0.0
            parts.append(checks)
        return np.concatenate(parts, axis=1)


class QuickModel:
    """Embedder + standardisation + linear head: the scorer behind a quick checkpoint."""

    def __init__(self, embedder: Embedder, weight: np.ndarray, bias: float, mean: np.ndarray, std: np.ndarray,
                 reader: bool = False, leave_out: str = ""):
        self.embedder, self.weight, self.bias, self.mean, self.std = embedder, weight, bias, mean, std
        self.reader = reader  # trained with the reader checks (models made before them were not)
        self.leave_out = leave_out  # reader checks it was trained without

    def logits(self, articles: Sequence[str], headlines: Sequence[str], batch_size: int = 32) -> np.ndarray:
        x = (self.embedder.features(articles, headlines, max(batch_size, 32), self.reader, self.leave_out)
             - self.mean) / self.std  # (N, D)
        return (x @ self.weight + self.bias).astype(np.float32)  # (N,)

    @classmethod
    def load(cls, folder: Path, meta: dict, device: str = "cpu") -> "QuickModel":
        from safetensors.numpy import load_file

        head = load_file(str(folder / HEAD_FILE))
        max_length, article_length = int(meta.get("max_length", 128)), meta.get("article_length")
        if (folder / ENCODER_SUBDIR).is_dir():  # a random encoder saved with its head
            encoder, tokenizer = _load_encoder(folder, meta, device)
            embedder = Embedder(encoder, tokenizer, max_length, device, article_length=article_length)
        else:  # share the encoder and the texts it already embedded with training in this process
            embedder = shared_embedder(meta.get("backbone_path") or meta["backbone"], max_length, device, article_length,
                                       layers=int(meta.get("layers") or 0), int8=bool(meta.get("int8")))
        reader = bool(meta.get("reader_checks"))
        expected = embedder.encoder.config.hidden_size + 1 + N_ALIGN + N_SURFACE + (N_READER if reader else 0)
        if head["weight"].shape[-1] != expected:
            from rlhf_core.errors import ModelLoadError

            raise ModelLoadError(f"the quick reward model in {folder} was made by an older version with other features "
                                 f"({head['weight'].shape[-1]}, now {expected}); train it again (seconds).")
        return cls(embedder, head["weight"], float(head["bias"][0]), head["mean"], head["std"], reader,
                   meta.get("reader_left_out", ""))


_EMBEDDERS: dict[tuple, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def embedding_store(backbone: str, layers: int = 0, int8: bool = False) -> EmbeddingStore | None:
    """The on-disk embedding cache of a backbone: models_dir()/embeddings/<backbone>-<hash>-L<layers>[-int8]-<version>/.

    None for the random 'tiny' encoder, which differs from one process to the next.
    """
    if backbone == "tiny":
        return None
    path = Path(backbone)
    stamp = str(path.resolve()) + str(path.stat().st_mtime_ns) if path.is_dir() else backbone
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name or backbone)[:40]
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:8]
    return EmbeddingStore(models_dir() / "embeddings" / f"{name}-{digest}-L{layers or 'all'}{'-int8' if int8 else ''}-{FEATURE_VERSION}")


def keep_layers(encoder, layers: int):
    """Keep only the first `layers` transformer blocks of a BERT-style encoder (0 = all).

    Embedding cost is linear in depth; the lower layers of MiniLM keep most of what the head
    needs (which words, which numbers), see the quick-mode figures in bench/bench_reward.py.
    """
    blocks = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers <= 0 or blocks is None or layers >= len(blocks):
        return encoder
    encoder.encoder.layer = blocks[:layers]
    encoder.config.num_hidden_layers = layers
    return encoder


def quantize_int8(encoder):
    """The encoder with its nn.Linear layers in int8 (dynamic quantisation: int8 weights, activations
    quantised per batch; Jacob et al. 2018), or None where this PyTorch build cannot.

    Only for a frozen encoder on a CPU: about 2.4x faster embedding of MiniLM on 2 cores
    (bench/bench_reward.py). torch.ao.quantization is deprecated upstream; we pin torch, and a
    build without it falls back to float32.
    """
    import warnings

    import torch

    try:
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return quantize_dynamic(encoder, {torch.nn.Linear}, dtype=torch.qint8)
    except Exception:  # noqa: BLE001 - any build without quantised kernels: keep float32
        return None


def shared_embedder(backbone: str, max_length: int, device: str = "cpu", article_length: int | None = None,
                    disk_cache: bool = True, layers: int = 0, int8: bool = False) -> Embedder:
    """One frozen encoder + text cache per (backbone, lengths, depth, device, cache folder) for the whole process.

    Quick mode is meant to be re-run every time a few ratings arrive: with the cache (in memory,
    and on disk across processes), only the new texts go through the encoder. A folder backbone
    is keyed by its modification time. `int8` quantises the encoder on a CPU (see quantize_int8);
    the embedder's `int8` attribute says whether it did.
    """
    int8 = int8 and device == "cpu"
    store = embedding_store(backbone, layers, int8) if disk_cache else None
    stamp = Path(backbone).stat().st_mtime_ns if Path(backbone).is_dir() else 0
    key = (backbone, stamp, max_length, article_length, layers, int8, device, str(store.folder) if store else None)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            encoder, tokenizer = _load_encoder(None, {"backbone": backbone}, device)
            encoder = keep_layers(encoder, layers)
            quantised = quantize_int8(encoder) if int8 else None
            if int8 and quantised is None and store is not None:  # float32 after all: use the float32 cache
                store = embedding_store(backbone, layers, False)
            embedder = Embedder(quantised if quantised is not None else encoder, tokenizer, max_length, device,
                                article_length=article_length, store=store)
            embedder.int8 = quantised is not None
            _EMBEDDERS[key] = embedder
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

    model, tokenizer = load_backbone(meta.get("backbone_path") or meta["backbone"], device)
    return model.base_model.eval(), tokenizer


def train_quick(cfg: RewardConfig, ratings: pd.DataFrame | None, preferences: pd.DataFrame | None,
                out_dir: str | os.PathLike, score_scale=None) -> Iterator[dict]:
    """Quick mode as a generator trainer (same rows and checkpoint folder as `train_reward`)."""
    import torch

    from rlhf_core.reward.data import plan_batches, prepare_splits
    from rlhf_core.reward.losses import objective_loss

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
    embedder = shared_embedder(cfg.backbone, cfg.max_length, cfg.device, cfg.quick_article_tokens, cfg.quick_disk_cache,
                               cfg.quick_layers, cfg.quick_int8 and cfg.backbone != "tiny")
    encoder, tokenizer = embedder.encoder, embedder.tokenizer
    jobs = embedder.jobs(train.articles + (val.articles if val else []), train.headlines + (val.headlines if val else []))
    n_todo = len(embedder.missing(jobs))
    for start_ in range(0, n_todo, 256):  # in slices, so the lock is never held across a yield
        chunk = sorted(embedder.missing(jobs), key=lambda job: (job[1], len(job[0])))[:256]
        with embedder.lock:
            for _ in embedder.embed_batches(chunk):
                pass
        yield {"step": 0, "total_steps": total, "phase": "embedding", "embed/done": min(n_todo, start_ + len(chunk)),
               "embed/total": n_todo, "time/elapsed_s": elapsed()}
    with embedder.lock:  # on disk: the next process only embeds texts it has never seen
        embedder.persist(jobs)
    reader, leave_out = cfg.quick_reader_checks, cfg.quick_leave_out_checks
    x_train = embedder.features(train.articles, train.headlines, reader=reader, leave_out=leave_out)  # (N, D)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train_t = torch.from_numpy((x_train - mean) / std).to(cfg.device)
    x_val_t = torch.from_numpy((embedder.features(val.articles, val.headlines, reader=reader, leave_out=leave_out) - mean) / std).to(cfg.device) if val else None

    # 3. a linear head, full-batch Adam on the objective + ridge penalty; keep the best on validation
    head = torch.nn.Linear(x_train_t.shape[1], 1).to(cfg.device)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    train_index, val_index = batch_index(train, cfg.device), batch_index(val, cfg.device) if val else None
    eval_every = cfg.eval_every or max(1, math.ceil(total / 12))
    best, best_metrics, best_step, bad, step, stopped = None, {}, 0, 0, 0, "completed"
    for step in range(1, total + 1):
        logits = head(x_train_t).squeeze(-1)  # (N,)
        loss, parts = objective_loss(cfg.objective, batch_tensors(logits, train, logits.device, train_index), cfg.center_rewards_coef)
        loss = loss + cfg.quick_l2 * head.weight.pow(2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        row = {"step": step, "total_steps": total, "epoch": step, "loss/train": float(loss.detach()), **parts,
               "optim/lr": optimizer.param_groups[0]["lr"], "time/elapsed_s": elapsed()}
        if val is not None and (step % eval_every == 0 or step == total):
            with torch.no_grad():
                tensors = batch_tensors(head(x_val_t).squeeze(-1), val, cfg.device, val_index)
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
            "article_length": embedder.article_length, "layers": cfg.quick_layers,
            "int8": embedder.int8, "backbone_path": str(Path(cfg.backbone).resolve()) if Path(cfg.backbone).is_dir() else None,
            "features": FEATURES + (" + reader checks" if reader else ""), "reader_checks": reader, "reader_left_out": leave_out, "score_scale": list(score_scale) if score_scale else infer_scale(ratings),
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
