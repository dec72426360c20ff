"""Reward-model data: merge tables, build pairs from ratings, split by article, batch and encode.

Tables are the canonical ones of `rlhf_core.data.schema`:
  ratings:     article, headline, score in [0, 1], score_raw, weight, source
  preferences: prompt (= article), chosen, rejected, margin >= 0, weight, source
A batch is a list of unique (article, headline) texts encoded once, plus index vectors that say
which texts are pointwise rows and which form (chosen, rejected) pairs, so both losses share one
forward pass. Shapes: B = rated rows, P = pairs, N = unique texts in the batch, T = tokens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from rlhf_core.errors import DataError
from rlhf_core.reward.checks import headline_with_checks

RATING_COLUMNS = ["article", "headline", "score", "score_raw", "weight", "source"]
PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected", "margin", "weight", "source"]


# --------------------------------------------------------------------------- loading files
def load_training_files(paths: Sequence[str | Path]) -> tuple[pd.DataFrame | None, pd.DataFrame | None, dict]:
    """Load data files (CSV / JSONL / TSV in any format `rlhf_core.data.loaders` accepts).

    Returns (ratings, preferences, info) with either table None when no file had that kind.
    `info` has `scale` (the raw score range of the ratings), `warnings` and `files`.
    Demonstrations carry no score, so they are skipped here with a warning (they train the policy).
    """
    ratings, prefs, warnings, scale = [], [], [], None
    for path in paths:
        loaded = _load_file(path)
        warnings += [f"{Path(path).name}: {w}" for w in loaded.warnings]
        if loaded.kind == "ratings":
            ratings.append(loaded.frame)
            if loaded.scale:
                scale = tuple(loaded.scale) if scale is None else (min(scale[0], loaded.scale[0]), max(scale[1], loaded.scale[1]))
        elif loaded.kind == "preferences":
            prefs.append(loaded.frame)
        else:
            warnings.append(f"{Path(path).name}: {loaded.kind} have no scores or preferences; skipped for the reward model")
    if not ratings and not prefs:
        raise DataError("none of the files holds ratings or preferences", file=", ".join(str(p) for p in paths))
    info = {"scale": list(scale) if scale else None, "warnings": warnings, "files": [str(p) for p in paths]}
    return (pd.concat(ratings, ignore_index=True) if ratings else None,
            pd.concat(prefs, ignore_index=True) if prefs else None, info)


def _load_file(path):
    """rlhf_core.data.loaders.load_file when it exists; otherwise a minimal adapter for our own formats."""
    try:
        from rlhf_core.data.loaders import load_file
    except ImportError:  # adapter until the loaders module lands
        return _fallback_load(Path(path))
    return load_file(path)


def _fallback_load(path: Path):
    from rlhf_core.data.schema import LoadedData

    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.suffix in (".jsonl", ".json"):
        frame = pd.read_json(path, lines=path.suffix == ".jsonl")
    else:
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
    source = path.name
    if {"chosen", "rejected"} <= set(frame.columns):
        out = pd.DataFrame({"prompt": frame.get("prompt", frame.get("article", "")), "chosen": frame["chosen"],
                            "rejected": frame["rejected"], "margin": frame.get("margin", 0.0),
                            "weight": frame.get("weight", 1.0), "source": source})
        return LoadedData("preferences", out.fillna({"margin": 0.0, "weight": 1.0}), source=source)
    if "score" in frame.columns:
        article = frame["article"] if "article" in frame.columns else frame.get("text", "")
        headline = frame["headline"] if "headline" in frame.columns else frame["title"]
        raw = frame["score"].astype(float)
        lo, hi = (0.0, 1.0) if raw.max() <= 1 else (1.0, 5.0) if raw.max() <= 5 else (float(raw.min()), float(raw.max()))
        out = pd.DataFrame({"article": article, "headline": headline, "score": (raw - lo) / (hi - lo), "score_raw": raw,
                            "weight": frame.get("weight", 1.0), "source": source})
        return LoadedData("ratings", out, scale=(lo, hi), source=source)
    return LoadedData("demonstrations", frame, source=source)


# --------------------------------------------------------------------------- cleaning tables
def apply_expert_weight(frame: pd.DataFrame, expert_weight: float) -> pd.DataFrame:
    """Rows from expert data (source mentions 'expert') that still have weight 1 get `expert_weight` (the seed's x2)."""
    frame = frame.copy()
    weight = pd.to_numeric(frame.get("weight", 1.0), errors="coerce").fillna(1.0)
    expert = frame.get("source", pd.Series("", index=frame.index)).astype(str).str.contains("expert", case=False)
    frame["weight"] = np.where(expert & (weight == 1.0), expert_weight, weight)
    return frame


def clean_ratings(ratings: pd.DataFrame | None, expert_weight: float = 1.0) -> pd.DataFrame:
    """Canonical columns, texts stripped, duplicates of (article, headline) merged (mean score, max weight)."""
    if ratings is None or len(ratings) == 0:
        return pd.DataFrame(columns=RATING_COLUMNS)
    frame = ratings.copy()
    for col, default in (("article", ""), ("score_raw", np.nan), ("weight", 1.0), ("source", "")):
        if col not in frame.columns:
            frame[col] = default
    frame["article"] = frame["article"].fillna("").astype(str).str.strip()
    frame["headline"] = frame["headline"].fillna("").astype(str).str.strip()
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    frame = frame[(frame["headline"] != "") & frame["score"].notna()]
    if len(frame) and (frame["score"].min() < 0 or frame["score"].max() > 1):
        raise DataError("rating scores must be normalised to [0, 1] (load files with rlhf_core.data.loaders)")
    frame = apply_expert_weight(frame, expert_weight)
    merged = frame.groupby(["article", "headline"], sort=False, as_index=False).agg(
        score=("score", "mean"), score_raw=("score_raw", "mean"), weight=("weight", "max"), source=("source", "first"))
    return merged[RATING_COLUMNS].reset_index(drop=True)


def clean_preferences(preferences: pd.DataFrame | None, expert_weight: float = 1.0) -> pd.DataFrame:
    """Canonical columns, texts stripped, ties (chosen == rejected) and exact duplicates dropped."""
    if preferences is None or len(preferences) == 0:
        return pd.DataFrame(columns=PREFERENCE_COLUMNS)
    frame = preferences.copy()
    for col, default in (("prompt", ""), ("margin", 0.0), ("weight", 1.0), ("source", "")):
        if col not in frame.columns:
            frame[col] = default
    for col in ("prompt", "chosen", "rejected"):
        frame[col] = frame[col].fillna("").astype(str).str.strip()
    frame["margin"] = pd.to_numeric(frame["margin"], errors="coerce").fillna(0.0).clip(lower=0.0)
    frame = frame[(frame["chosen"] != "") & (frame["rejected"] != "") & (frame["chosen"] != frame["rejected"])]
    frame = apply_expert_weight(frame, expert_weight)
    frame = frame.drop_duplicates(subset=["prompt", "chosen", "rejected"])
    return frame[PREFERENCE_COLUMNS].reset_index(drop=True)


def pairs_from_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Every two ratings of the same article with different scores make a preference pair.

    chosen = the higher-scored headline, margin = the score gap (in normalised [0, 1] units),
    weight = the mean of the two rows' weights. Ties give no pair. Rows without an article
    (the seed's `text<TAB>score` format) are never paired: their context is unknown.
    """
    rows = []
    for article, group in ratings[ratings["article"] != ""].groupby("article", sort=False):
        heads, scores = group["headline"].tolist(), group["score"].to_numpy(float)
        weights = group["weight"].to_numpy(float)
        for i in range(len(heads)):
            for j in range(i + 1, len(heads)):
                gap = scores[i] - scores[j]
                if abs(gap) < 1e-9:
                    continue
                c, r = (i, j) if gap > 0 else (j, i)
                rows.append((article, heads[c], heads[r], abs(gap), (weights[i] + weights[j]) / 2, "pairs_from_ratings"))
    return pd.DataFrame(rows, columns=PREFERENCE_COLUMNS)


def group_key(article: str, headline: str) -> str:
    """The unit of splitting and batching: the article, or the headline itself when there is no article."""
    return article if article else "\x00" + headline


def split_by_article(ratings: pd.DataFrame, preferences: pd.DataFrame, val_fraction: float, seed: int):
    """Hold out a fraction of ARTICLES: every headline of a validation article stays out of training.

    Returns (train_ratings, val_ratings, train_preferences, val_preferences).
    """
    r_keys = [group_key(a, h) for a, h in zip(ratings["article"], ratings["headline"])]
    p_keys = [group_key(a, c) for a, c in zip(preferences["prompt"], preferences["chosen"])]
    keys = sorted(set(r_keys) | set(p_keys))
    if len(keys) < 2:
        raise DataError("need at least two different articles to hold one out for validation")
    rng = np.random.default_rng(seed)
    n_val = min(len(keys) - 1, max(1, int(round(val_fraction * len(keys)))))
    val = set(np.asarray(keys, dtype=object)[rng.permutation(len(keys))[:n_val]])
    r_val = np.array([k in val for k in r_keys], dtype=bool)
    p_val = np.array([k in val for k in p_keys], dtype=bool)
    return (ratings[~r_val].reset_index(drop=True), ratings[r_val].reset_index(drop=True),
            preferences[~p_val].reset_index(drop=True), preferences[p_val].reset_index(drop=True))


def data_fingerprint(ratings: pd.DataFrame | None, preferences: pd.DataFrame | None) -> str:
    """A short hash of the training data content (order-independent), stored with the checkpoint."""
    digest = hashlib.sha256()
    for frame, cols in ((ratings, ["article", "headline", "score"]), (preferences, ["prompt", "chosen", "rejected", "margin"])):
        if frame is None or len(frame) == 0:
            digest.update(b"-")
            continue
        lines = sorted(json.dumps([str(v) if not isinstance(v, float) else round(v, 6) for v in row])
                       for row in frame[cols].itertuples(index=False))
        digest.update("\n".join(lines).encode("utf-8"))
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- batches
@dataclass
class Batch:
    """Unique texts of one step, and which of them are rated rows and which are pairs."""

    articles: list[str] = field(default_factory=list)  # (N,)
    headlines: list[str] = field(default_factory=list)  # (N,)
    point_idx: list[int] = field(default_factory=list)  # (B,) indices into the texts
    targets: list[float] = field(default_factory=list)  # (B,) normalised scores
    weights: list[float] = field(default_factory=list)  # (B,)
    chosen_idx: list[int] = field(default_factory=list)  # (P,)
    rejected_idx: list[int] = field(default_factory=list)  # (P,)
    margins: list[float] = field(default_factory=list)  # (P,)
    pair_weights: list[float] = field(default_factory=list)  # (P,)
    _index: dict = field(default_factory=dict, repr=False)

    def text(self, article: str, headline: str) -> int:
        key = (article, headline)
        if key not in self._index:
            self._index[key] = len(self.articles)
            self.articles.append(article)
            self.headlines.append(headline)
        return self._index[key]

    def __len__(self) -> int:
        return len(self.articles)


def plan_batches(ratings: pd.DataFrame, preferences: pd.DataFrame, objective: str, batch_size: int,
                 epochs: float, rng: np.random.Generator, use_margin: bool = True) -> list[tuple[float, Batch]]:
    """All batches of the run, as (epoch, Batch), articles shuffled each epoch.

    Whole articles go into a batch together, so a pair's two headlines are encoded once and also
    serve as pointwise rows. A batch closes once it holds >= `batch_size` unique texts.
    `preferences` should already include the pairs built from ratings.
    """
    use_points, use_pairs = objective in ("pointwise", "both"), objective in ("pairwise", "both")
    groups: dict[str, tuple[list, list]] = {}
    if use_points:
        for row in ratings.itertuples(index=False):
            groups.setdefault(group_key(row.article, row.headline), ([], []))[0].append(row)
    if use_pairs:
        for row in preferences.itertuples(index=False):
            groups.setdefault(group_key(row.prompt, row.chosen), ([], []))[1].append(row)
    keys = list(groups)
    if not keys:
        needs = "rated rows" if objective == "pointwise" else "preference pairs (or ratings of the same article with different scores)"
        raise DataError(f"the '{objective}' objective needs {needs} in the training split")
    plan: list[tuple[float, Batch]] = []
    n_epochs = int(np.ceil(epochs))
    for epoch in range(n_epochs):
        order = [keys[i] for i in rng.permutation(len(keys))]
        if epoch == n_epochs - 1 and epochs < n_epochs:  # a fractional last epoch
            order = order[: max(1, int(round((epochs - epoch) * len(order))))]
        batch = Batch()
        for key in order:
            points, pairs = groups[key]
            for row in points:
                batch.point_idx.append(batch.text(row.article, row.headline))
                batch.targets.append(float(row.score))
                batch.weights.append(float(row.weight))
            for row in pairs:
                batch.chosen_idx.append(batch.text(row.prompt, row.chosen))
                batch.rejected_idx.append(batch.text(row.prompt, row.rejected))
                batch.margins.append(float(row.margin) if use_margin else 0.0)
                batch.pair_weights.append(float(row.weight))
            if len(batch) >= batch_size:
                plan.append((epoch + 1, batch))
                batch = Batch()
        if len(batch):
            plan.append((epoch + 1, batch))
    return plan


def encode(tokenizer, articles: Iterable[str], headlines: Iterable[str], max_length: int, checks: int = 0):
    """Tokenise (article, headline) pairs: [CLS] article [SEP] headline [SEP], padded to the longest.

    Only the ARTICLE is truncated (`only_first`): the headline is what is being judged. A headline
    longer than the whole budget falls back to truncating both. With `checks` (the fact checks' version, see
    checks.checks_text; 0 = none, True = 1), the headline is followed by its fact checks in words
    ([CLS] article [SEP] headline [SEP] checks: ... [SEP]).
    Returns a BatchEncoding with input_ids / attention_mask (and token_type_ids).  # (N, T)
    """
    articles, headlines = list(articles), list(headlines)
    if checks:
        headlines = [headline_with_checks(a, h, tokenizer.sep_token, int(checks)) for a, h in zip(articles, headlines)]
    try:
        return tokenizer(articles, headlines, truncation="only_first", max_length=max_length,
                         padding=True, return_tensors="pt")
    except Exception:  # a headline alone exceeds max_length: tokenizers refuses only_first
        return tokenizer(articles, headlines, truncation="longest_first", max_length=max_length,
                         padding=True, return_tensors="pt")


# --------------------------------------------------------------------------- the whole preparation
@dataclass
class Splits:
    """Cleaned, split training data. `*_pairs` already include the pairs built from ratings."""

    train_ratings: pd.DataFrame
    val_ratings: pd.DataFrame
    train_pairs: pd.DataFrame
    val_pairs: pd.DataFrame
    fingerprint: str

    def sizes(self) -> dict:
        return {"train_ratings": len(self.train_ratings), "val_ratings": len(self.val_ratings),
                "train_pairs": len(self.train_pairs), "val_pairs": len(self.val_pairs)}


def prepare_splits(ratings: pd.DataFrame | None, preferences: pd.DataFrame | None, *, val_fraction: float,
                   seed: int, expert_weight: float = 1.0, pairs_from_ratings_: bool = True,
                   max_val_rows: int = 10**9) -> Splits:
    """clean -> split by article -> add pairs from ratings -> cap the validation set (whole articles)."""
    r = clean_ratings(ratings, expert_weight)
    p = clean_preferences(preferences, expert_weight)
    if len(r) == 0 and len(p) == 0:
        raise DataError("no usable ratings or preferences (empty headlines or missing scores?)")
    fingerprint = data_fingerprint(r, p)
    train_r, val_r, train_p, val_p = split_by_article(r, p, val_fraction, seed)
    if pairs_from_ratings_:
        train_p = pd.concat([train_p, pairs_from_ratings(train_r)], ignore_index=True)
    train_p = train_p.drop_duplicates(subset=["prompt", "chosen", "rejected"]).reset_index(drop=True)
    if len(val_r) + 2 * len(val_p) > max_val_rows:  # keep evaluation cheap: a random subset of validation articles
        r_keys = [group_key(a, h) for a, h in zip(val_r["article"], val_r["headline"])]
        p_keys = [group_key(a, c) for a, c in zip(val_p["prompt"], val_p["chosen"])]
        texts = pd.Series(r_keys + p_keys + p_keys).value_counts().to_dict()  # texts to score per article
        keys = sorted(texts)
        keep, count = set(), 0
        for i in np.random.default_rng(seed + 1).permutation(len(keys)):
            count += texts[keys[i]]
            if count > max_val_rows and keep:
                break
            keep.add(keys[i])
        val_r = val_r[[k in keep for k in r_keys]].reset_index(drop=True)
        val_p = val_p[[k in keep for k in p_keys]].reset_index(drop=True)
    # validation pairs always include the rated ones: pairwise accuracy is measured on them
    val_p = pd.concat([val_p, pairs_from_ratings(val_r)], ignore_index=True)
    val_p = val_p.drop_duplicates(subset=["prompt", "chosen", "rejected"]).reset_index(drop=True)
    return Splits(train_r, val_r, train_p, val_p, fingerprint)
