"""`evaluate(...)`: did RLHF help? One generator for the Evaluate page's background job and the CLI.

For every policy, on the same held-out articles with the same seed:
  1. write n headlines per article (temperature T, sampled as in training: an empty headline
     counts) and score each: ROUGE-1/2/L against the reference, the reward model (proxy), the
     gold persona (synthetic data), length;
  2. sample `kl_samples` more at temperature 1 and estimate KL(policy || its starting point), the
     sum over tokens of Schulman's k3 (what GRPO logs as policy/kl_k3);
then win rates against the baseline (reward model, gold persona, people's A/B votes) with paired
bootstrap intervals, the people's Bradley-Terry leaderboard, and for one run the over-optimisation
curve over its checkpoints next to best-of-n from its start. The last step writes the report.
Shapes: A = articles, n = headlines per article, S = samples per article, B = rows in a batch.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from rlhf_core.errors import DataError, StudioError
from rlhf_core.evaluation import policies as specs
from rlhf_core.evaluation import stats
from rlhf_core.evaluation.config import EvalConfig
from rlhf_core.evaluation.curve import curve_notes, over_optimisation
from rlhf_core.evaluation.sampling import CHUNK, Models, chunks, sample_headlines, sample_with_kl

JUDGES = ("reward", "gold")  # scorers of the automatic win rates; people's votes are the third judge


@dataclass
class Policy:
    """One evaluated policy: what loads it, what the ratings store calls it, and where it started."""

    spec: str
    label: str
    start: str | None
    is_baseline: bool = False
    notes: list[str] = field(default_factory=list)


class Progress:
    """Counts the job's steps (one per batch of articles) and builds its progress rows."""

    def __init__(self, total: int):
        self.step, self.total = 0, max(1, total)

    def tick(self, phase: str) -> dict:
        self.step = min(self.step + 1, self.total)
        return {"step": self.step, "total_steps": self.total, "phase": phase}


def held_out_articles(frame: pd.DataFrame, kind: str, limit: int) -> pd.DataFrame:
    """Distinct (article, reference) rows of a canonical table, the test split only when it has one."""
    from rlhf_core.compare import articles_of

    if "split" in frame.columns and (frame["split"] == "test").any():
        frame = frame[frame["split"] == "test"]
    table = articles_of(frame, kind)
    if table.empty:
        raise DataError("The data has no articles to evaluate on.")
    return table.head(int(limit)).reset_index(drop=True)


def fingerprint(articles: pd.DataFrame) -> str:
    """sha256 of the evaluated articles and references: two reports with the same one saw the same data."""
    digest = hashlib.sha256()
    for article, reference in zip(articles["article"].astype(str), articles["reference"].astype(str)):
        digest.update(article.encode("utf-8") + b"\x1f" + reference.encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def _reference_of(models: Models, policy: Policy):
    """The start model to measure KL against, or None (with a note saying why)."""
    if policy.start is None:
        return None
    try:
        ref = models.get(policy.start)
    except StudioError as exc:
        policy.notes.append(f"KL of {policy.label} unknown: its starting point could not be loaded ({exc}).")
        return None
    if ref.model.get_output_embeddings().weight.shape != models.get(policy.spec).model.get_output_embeddings().weight.shape:
        policy.notes.append(f"KL of {policy.label} unknown: its starting point has another vocabulary.")
        return None
    return ref.model


# ------------------------------------------------------------------------------------ one policy
def _write_and_score(policy: Policy, bundle, table: pd.DataFrame, cfg: EvalConfig, rewarder, progress) -> Iterator:
    """Headline rows of one policy (n per article), scored; yields progress, returns the rows."""
    from rlhf_core.evaluation.text import ROUGE_KEYS, rouge_scores

    rows = []
    for start in range(0, len(table), CHUNK):
        part = table.iloc[start:start + CHUNK]
        articles = part["article"].astype(str).tolist()
        written = sample_headlines(bundle, articles, cfg.n, cfg.max_new_tokens, cfg.seed + start, cfg.temperature, cfg.top_p)
        flat_articles = [a for a, heads in zip(articles, written) for _ in heads]
        flat = [h for heads in written for h in heads]
        proxy, gold = rewarder(flat_articles, flat)
        k = 0
        for index, reference, heads in zip(part.index, part["reference"].astype(str), written):
            for sample, headline in enumerate(heads):
                rouge = rouge_scores(reference, headline) if reference.strip() else dict.fromkeys(ROUGE_KEYS)
                rows.append({"article_index": int(index), "policy": policy.label, "sample": sample, "headline": headline,
                             "reward": None if proxy is None else float(proxy[k]),
                             "gold": None if gold is None else float(gold[k]), **rouge, "words": len(headline.split())})
                k += 1
        yield progress.tick(f"{policy.label}: writing and scoring headlines")
    return rows


def _kl(policy: Policy, models: Models, table: pd.DataFrame, cfg: EvalConfig, progress) -> Iterator:
    """Mean sampled KL(policy || its start) over the articles; None without a recorded or loadable start."""
    if policy.start is None:
        return None  # a preset or a foreign folder: no run, no starting point
    ref = _reference_of(models, policy)
    values = []
    for i, part in enumerate(chunks(table["article"].astype(str).tolist())):
        if ref is not None:
            _, kl = sample_with_kl(models.get(policy.spec), ref, part, cfg.kl_samples, cfg.max_new_tokens, cfg.seed + i)
            values.extend(kl.tolist())
        yield progress.tick(f"{policy.label}: KL to its starting point")
    return float(np.mean(values)) if values else None


def policy_metrics(policy: Policy, rows: pd.DataFrame, ratings: pd.DataFrame | None) -> dict:
    """The flat per-policy record the CLI prints and the report tabulates."""
    from rlhf_core.evaluation.text import distinct_n

    def mean(column: str) -> float | None:
        values = pd.to_numeric(rows[column], errors="coerce").dropna()
        return float(values.mean()) if len(values) else None

    stars = ratings.loc[ratings["source"].astype(str) == policy.label, "score"] if ratings is not None and len(ratings) else []
    heads = rows["headline"].astype(str).tolist()
    return {
        "policy": policy.label, "spec": policy.spec, "start": specs.label_of(policy.start) if policy.start else None,
        "baseline": policy.is_baseline, "headlines": len(rows),
        "rouge1": mean("rouge1"), "rouge2": mean("rouge2"), "rougeL": mean("rougeL"),
        "reward_mean": mean("reward"), "gold_mean": mean("gold"),
        "human_stars_mean": float(np.mean(stars)) if len(stars) else None, "human_ratings": int(len(stars)),
        "kl": None, "length_mean": mean("words"), "distinct_1": distinct_n(heads, 1), "distinct_2": distinct_n(heads, 2),
    }


def per_article(rows: pd.DataFrame, column: str, articles: int) -> list[np.ndarray]:
    """One array of a score per article (n samples each), in article order."""
    groups = {k: g[column].to_numpy(dtype=float) for k, g in rows.groupby("article_index")}
    return [groups.get(i, np.array([])) for i in range(articles)]


def win_rates(metrics: dict, rows: pd.DataFrame, base_rows: pd.DataFrame, baseline: str, votes, cfg: EvalConfig,
              articles: int) -> None:
    """Add win_rate_<judge>, _low, _high for the reward model, the gold persona and people (in place)."""
    for judge in JUDGES:
        result = None
        if rows[judge].notna().all() and len(rows):
            result = stats.win_rate(per_article(rows, judge, articles), per_article(base_rows, judge, articles),
                                    cfg.bootstrap, cfg.confidence, cfg.seed)
        metrics.update({f"win_rate_{judge}{s}": None if result is None else result[k]
                        for s, k in (("", "rate"), ("_low", "low"), ("_high", "high"))})
    human = stats.human_win_rate(votes, metrics["policy"], baseline, cfg.bootstrap, cfg.confidence, cfg.seed)
    metrics.update({f"win_rate_human{s}": None if human is None else human[k]
                    for s, k in (("", "rate"), ("_low", "low"), ("_high", "high"))})
    metrics["human_votes"] = 0 if human is None else human["votes"]


# ------------------------------------------------------------------------------------ the job
def plan(policies: Sequence[str], baseline: str | None = None) -> list[Policy]:
    """The policies to evaluate, the baseline first (added when it is not among them).

    The default baseline is the starting point of the first policy that records one (an SFT
    policy for a GRPO run), else the first policy.
    """
    entries: list[Policy] = []
    for name in policies:
        spec = specs.resolve_spec(name)
        if all(p.spec != spec for p in entries):
            entries.append(Policy(spec, specs.label_of(spec), specs.start_of(spec)))
    if not entries:
        raise StudioError("Choose at least one policy to evaluate.")
    base = specs.resolve_spec(baseline) if baseline else next((p.start for p in entries if p.start), entries[0].spec)
    chosen = next((p for p in entries if p.spec == base), None) or Policy(base, specs.label_of(base), specs.start_of(base))
    chosen.is_baseline = True
    return [chosen] + [p for p in entries if p is not chosen]


def store_frames() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(ratings, votes) of the ratings store, or (None, None) when there is no store yet (nothing is created)."""
    from rlhf_core import paths

    if not paths.db_path().exists():
        return None, None
    from rlhf_core.store import RatingsStore

    store = RatingsStore()
    try:
        return store.ratings_frame(), store.votes_frame()
    finally:
        store.close()


def evaluate(cfg: EvalConfig, policies: Sequence[str], articles: pd.DataFrame, *, reward: Any = None,
             persona: str | None = None, baseline: str | None = None, curve_run: str | None = None,
             ratings: pd.DataFrame | None = None, votes: pd.DataFrame | None = None, data: dict | None = None,
             out_dir: str | Path | None = None, device: str = "cpu") -> Iterator[dict]:
    """Evaluate policies on held-out articles; yield progress rows, return the results dict.

    Args:
        cfg: the settings (EvalConfig).
        policies: specs or labels (`tiny`, `run: <id>`, a checkpoint folder).
        articles: held-out rows with `article` and `reference` (see `held_out_articles`).
        reward: reward-model folder (or a callable) for the proxy score, best-of-n and its win rate.
        persona: the gold persona of synthetic data, or None.
        baseline: the policy every other is compared with; default: the first policy's starting point.
        curve_run: a policy run whose checkpoints draw the over-optimisation curve.
        ratings, votes: the ratings store's tables; default: read the store if there is one.
        data: where the articles came from ({"name": ..., "path": ...}), recorded in the report.
        out_dir: folder for results.json, headlines.csv and report.html (None: write nothing).
    Yields: {step, total_steps, phase}; the last row also has `summary` (the job runner keeps it).
    """
    from rlhf_core.policy.rewarder import Rewarder

    started = time.monotonic()
    table = articles[["article", "reference"]].fillna("").head(cfg.articles).reset_index(drop=True)
    if table.empty:
        raise DataError("There are no held-out articles to evaluate on.")
    entries = plan(policies, baseline)
    if ratings is None and votes is None:
        ratings, votes = store_frames()
    checkpoints = specs.run_checkpoints(curve_run) if curve_run else []
    if curve_run and not checkpoints:
        raise StudioError(f"'{curve_run}' has no checkpoints (final/ or checkpoint-N/) to draw the curve from.")
    n_chunks, curve_chunks = len(chunks(table)), len(chunks(table.head(cfg.curve_articles)))
    total = sum(n_chunks * (1 + (p.start is not None)) for p in entries) + 1
    total += (len(checkpoints) + 1 + (reward is not None)) * curve_chunks if checkpoints else 0
    progress, models = Progress(total), Models(device)
    yield {"step": 0, "total_steps": progress.total, "phase": "loading the policies and the judges"}
    rewarder = Rewarder(reward, persona or "", device)
    starts = {p.start for p in entries}
    rows: dict[str, pd.DataFrame] = {}
    records: list[dict] = []
    for policy in entries:
        # 1. n headlines per article, scored; 2. KL to the policy's own starting point
        written = yield from _write_and_score(policy, models.get(policy.spec), table, cfg, rewarder, progress)
        rows[policy.label] = pd.DataFrame(written)
        record = policy_metrics(policy, rows[policy.label], ratings)
        record["kl"] = yield from _kl(policy, models, table, cfg, progress)
        records.append(record)
        if policy.spec not in starts:
            models.drop(policy.spec)
    # 3. win rates against the baseline, by the reward model, the gold persona and people
    base = entries[0]
    for policy, record in zip(entries, records):
        if not policy.is_baseline:
            win_rates(record, rows[policy.label], rows[base.label], base.label, votes, cfg, len(table))
    # 4. the people's leaderboard; 5. the over-optimisation curve of one run
    board = stats.leaderboard(votes, cfg.leaderboard_rounds, cfg.confidence, cfg.seed)
    curve = None
    if curve_run:
        curve = yield from over_optimisation(curve_run, table, cfg, rewarder, reward, persona, models, progress, device)
    results = {
        "version": 1, "created": time.strftime("%Y-%m-%d %H:%M:%S %z"), "config": cfg.to_dict(), "device": device,
        "data": {**(data or {}), "articles": len(table), "fingerprint": fingerprint(table)},
        "reward_model": str(reward) if reward is not None and not callable(reward) else None,
        "persona": persona, "baseline": base.label, "policies": records,
        "leaderboard": board.to_dict("records"), "curve": curve,
        "notes": [note for p in entries for note in p.notes] + curve_notes(curve),
        "seconds": round(time.monotonic() - started, 2),
    }
    from rlhf_core.evaluation.report import environment, write_report

    results["environment"] = environment()
    headlines = headline_table(table, rows)
    # 6. the report: results.json, headlines.csv, report.html
    if out_dir is not None:
        write_report(results, headlines, out_dir)
    yield {**progress.tick("writing the report"),
           "summary": {"out_dir": None if out_dir is None else str(out_dir), "baseline": base.label,
                       "policies": [r["policy"] for r in records], "seconds": results["seconds"]}}
    return results


def headline_table(table: pd.DataFrame, rows: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every headline written, with its article, reference and scores (the report's headlines.csv)."""
    frame = pd.concat(list(rows.values()), ignore_index=True)
    frame.insert(0, "article", table["article"].to_numpy()[frame["article_index"].to_numpy()])
    frame.insert(1, "reference", table["reference"].to_numpy()[frame["article_index"].to_numpy()])
    return frame


def run_evaluation(*args, **kwargs) -> dict:
    """`evaluate(...)` run to the end: the results dict (for the CLI, tests and scripts)."""
    steps = evaluate(*args, **kwargs)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
