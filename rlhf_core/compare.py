"""The Compare grid: headlines from several policies at several temperatures, side by side.

For one article, every policy writes `n` headlines at every temperature. Each headline gets the
reward model's score, the synthetic persona's gold score, ROUGE-1/2/L against the reference
headline and its length; each (policy, temperature) cell gets its diversity (distinct-1/2 and
self-ROUGE). The seed's advice "vary the temperature for diversity" becomes something to see:
higher temperature -> more distinct n-grams, lower self-ROUGE, and (usually) lower reward.

Determinism: every policy samples with the same `seed`, so the same inputs give the same grid,
and a policy's headlines do not depend on which other policies are in the grid.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

GRID_COLUMNS = ["policy", "temperature", "sample", "headline", "reward", "gold",
                "rouge1", "rouge2", "rougeL", "length"]
DIVERSITY_COLUMNS = ["policy", "temperature", "samples", "distinct_1", "distinct_2", "self_rouge",
                     "reward_mean", "gold_mean"]
DEFAULT_TEMPERATURES = (0.3, 0.7, 1.0, 1.3)

# A policy in the grid: a PolicyBundle (sampled with generate_headlines), or any callable
# `generate(articles, temperature=..., n=..., seed=...) -> list[list[str]]` (e.g. best-of-n).
Policy = Any


def _generate(policy: Policy, article: str, temperature: float, n: int, seed: int,
              top_p: float, max_new_tokens: int) -> list[str]:
    """n headlines for one article at one temperature."""
    if _is_callable_policy(policy):
        return list(policy([article], temperature=temperature, n=n, seed=seed)[0])
    from rlhf_core.models.generation import generate_headlines

    return list(generate_headlines(policy, [article], temperature=temperature, n=n, top_p=top_p,
                                   max_new_tokens=max_new_tokens, seed=seed)[0])


def _is_callable_policy(policy: Policy) -> bool:
    return callable(policy) and not hasattr(policy, "model")


def _generate_cells(policy: Policy, article: str, temperatures: Sequence[float], n: int, seed: int,
                    top_p: float, max_new_tokens: int) -> dict[float, list[str]]:
    """{temperature: n headlines}; a PolicyBundle samples every temperature in one batch."""
    if _is_callable_policy(policy):
        return {float(t): _generate(policy, article, t, n, seed, top_p, max_new_tokens) for t in temperatures}
    from rlhf_core.models.generation import generate_grid

    cells: dict[float, list[str]] = {float(t): [] for t in temperatures}
    for row in generate_grid(policy, article, [float(t) for t in temperatures], n=n, seed=seed, top_p=top_p,
                             max_new_tokens=max_new_tokens):
        cells[float(row["temperature"])].append(str(row["headline"]))
    return cells


def _words(text: str) -> int:
    return len(str(text).split())


def distinct_n(headlines: Sequence[str], n: int) -> float:
    """distinct-n (Li et al. 2016) of a set of samples; NaN when they hold no n-gram at all."""
    from rlhf_core.evaluation import distinct_n as _distinct_n

    value = _distinct_n(list(headlines), n)
    return value if value or any(len(str(h).split()) >= n for h in headlines) else float("nan")


def self_rouge(headlines: Sequence[str]) -> float:
    """Mean pairwise ROUGE-L F among samples (Self-BLEU's idea, Zhu et al. 2018): high = samples alike.

    NaN with fewer than two samples (nothing to compare, rather than "perfectly diverse").
    """
    from rlhf_core.evaluation import self_rouge as _self_rouge

    return _self_rouge(list(headlines)) if len(headlines) >= 2 else float("nan")


def _persona(persona):
    if persona is None or hasattr(persona, "score"):
        return persona
    from rlhf_core.data.personas import get_persona

    return get_persona(str(persona))


def compare_grid(
    policies: Sequence[tuple[str, Policy]],
    article: str,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    n: int = 2,
    seed: int = 0,
    reward_scorer=None,
    persona=None,
    reference: str | None = None,
    top_p: float = 1.0,
    max_new_tokens: int = 24,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Generate `n` headlines per (policy, temperature) for one article and score each.

    Args:
        policies: (label, policy) pairs; a policy is a PolicyBundle or a generate callable.
        article: the article text.
        temperatures: sampling temperatures (> 0).
        n: samples per cell.
        seed: the same seed gives the same grid.
        reward_scorer: a RewardScorer (`.score(articles, headlines)`), or None (reward = NaN).
        persona: a Persona or persona name for the gold score, or None (gold = NaN).
        reference: the reference headline for ROUGE, or None/"" (ROUGE = NaN).
        progress: called as progress(done_cells, total_cells, label) after each cell.

    Returns:
        One row per headline with GRID_COLUMNS.
    """
    if not policies:
        raise ValueError("Choose at least one policy to compare.")
    if not str(article).strip():
        raise ValueError("The article is empty: pick one or paste some text.")
    if any(float(t) <= 0 for t in temperatures):
        raise ValueError("Temperatures must be greater than 0 (0 would be greedy decoding).")
    if n < 1:
        raise ValueError("Generate at least one sample per cell.")
    from rlhf_core.evaluation import rouge_scores

    gold_scorer = _persona(persona)
    no_rouge = {"rouge1": float("nan"), "rouge2": float("nan"), "rougeL": float("nan")}
    rows, done, total = [], 0, len(policies) * len(temperatures)
    for label, policy in policies:
        # 1. sample n headlines per temperature (one batch per policy)
        cells = _generate_cells(policy, article, temperatures, n, seed, top_p, max_new_tokens)
        headlines = [h for cell in cells.values() for h in cell]
        # 2. score them all at once with the reward model
        rewards = (np.asarray(reward_scorer.score([article] * len(headlines), headlines), dtype=float)
                   if reward_scorer is not None and headlines else np.full(len(headlines), np.nan))  # (C * n,)
        # 3. gold persona score, ROUGE against the reference, length
        k = 0
        for temperature, cell in cells.items():
            for sample, headline in enumerate(cell):
                rows.append({
                    "policy": label, "temperature": temperature, "sample": sample, "headline": headline,
                    "reward": float(rewards[k]),
                    "gold": float(gold_scorer.score(article, headline)) if gold_scorer else float("nan"),
                    **(rouge_scores(reference, headline) if reference else no_rouge),
                    "length": _words(headline),
                })
                k += 1
        done += len(cells)
        if progress is not None:
            progress(done, total, label)
    return pd.DataFrame(rows, columns=GRID_COLUMNS)


def diversity_by_temperature(grid: pd.DataFrame) -> pd.DataFrame:
    """Per (policy, temperature): distinct-1, distinct-2, self-ROUGE and mean reward / gold."""
    rows = []
    for (policy, temperature), cell in grid.groupby(["policy", "temperature"], sort=False):
        headlines = cell["headline"].astype(str).tolist()
        rows.append({
            "policy": policy,
            "temperature": float(temperature),
            "samples": len(headlines),
            "distinct_1": distinct_n(headlines, 1),
            "distinct_2": distinct_n(headlines, 2),
            "self_rouge": self_rouge(headlines),
            "reward_mean": float(cell["reward"].mean()),
            "gold_mean": float(cell["gold"].mean()),
        })
    return pd.DataFrame(rows, columns=DIVERSITY_COLUMNS)


def queue_items(grid: pd.DataFrame, article: str) -> list[dict]:
    """Grid rows as star-queue items (article, headline, source, temperature).

    Duplicate headlines (the same text from the same policy) are queued once.
    """
    items, seen = [], set()
    for row in grid.itertuples(index=False):
        key = (row.policy, row.headline)
        if not str(row.headline).strip() or key in seen:
            continue
        seen.add(key)
        items.append({"article": article, "headline": row.headline, "source": row.policy,
                      "temperature": float(row.temperature)})
    return items


def queue_pairs(grid: pd.DataFrame, article: str, seed: int = 0) -> list[dict]:
    """Blind A/B pairs from grid rows: at each temperature, each policy's first sample against each
    other policy's. Which side a headline is shown on is shuffled with `seed` (no position bias)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _, cell in grid.groupby("temperature", sort=True):
        firsts = cell.drop_duplicates("policy")  # (one row per policy)
        for (_, a), (_, b) in itertools.combinations(firsts.iterrows(), 2):
            if str(a.headline).strip() == str(b.headline).strip() or not str(a.headline).strip() or not str(b.headline).strip():
                continue
            if rng.random() < 0.5:
                a, b = b, a
            pairs.append({"article": article, "headline_a": a.headline, "headline_b": b.headline,
                          "source_a": a.policy, "source_b": b.policy})
    return pairs


# --- What the Compare page offers ---------------------------------------------------------------
FALLBACK_PRESETS = ("tiny", "smollm2")
BEST_OF_N_PREFIX = "best-of-"


def policy_choices(with_best_of_n: bool = False) -> dict[str, str]:
    """Label -> policy spec: the presets, then every trained policy run's final checkpoint (and, with
    `with_best_of_n`, each of them as a best-of-N policy: spec `best-of-n:<spec>`).

    A run counts when `runs/<id>/final/config.json` names a causal-LM architecture, or final/ is a LoRA adapter of one (reward runs
    hold sequence classifiers and are left out) and the run succeeded or was cancelled (a failed,
    interrupted or still running run is never offered; a folder the job runner did not write,
    without status.json, counts).
    """
    from rlhf_core.jobs import final_is_usable
    from rlhf_core.paths import read_json, runs_dir

    try:
        from rlhf_core.models.registry import POLICY_PRESETS

        presets = [name for name in POLICY_PRESETS if name != "tiny-init"]
    except ImportError:
        presets = list(FALLBACK_PRESETS)
    choices = {f"preset: {name}": name for name in presets}
    for final in sorted(runs_dir().glob("*/final"), reverse=True):
        if not final_is_usable(final.parent):
            continue
        architectures = (read_json(final / "config.json", {}) or {}).get("architectures") or []
        adapter = (read_json(final / "adapter_config.json", {}) or {}).get("task_type") == "CAUSAL_LM"  # a LoRA policy
        if adapter or any("CausalLM" in str(arch) or "LMHead" in str(arch) for arch in architectures):
            choices[f"run: {final.parent.name}"] = str(final)
    if with_best_of_n:
        choices |= {f"best-of-N: {label}": f"{BEST_OF_N_PREFIX}n:{spec}" for label, spec in choices.items()}
    return choices


def best_of_n(policy: Policy, reward_scorer, candidates: int, top_p: float = 1.0, max_new_tokens: int = 24):
    """A policy that samples `candidates` headlines and keeps the one the reward model likes best.

    Best-of-N (rejection sampling, Nakano et al. 2021 WebGPT; Stiennon et al. 2020): no training,
    N times the generation cost. Returns a generate callable usable in `compare_grid`.
    """
    if reward_scorer is None:
        raise ValueError("Best-of-N needs a reward model to choose between candidates.")
    if candidates < 1:
        raise ValueError("Best-of-N needs at least one candidate.")

    def generate(articles, temperature, n, seed):
        results = []
        for article in articles:
            pool = _generate(policy, article, temperature, n * candidates, seed, top_p, max_new_tokens)
            rewards = np.asarray(reward_scorer.score([article] * len(pool), pool), dtype=float)  # (n * N,)
            picks = [group * candidates + int(np.argmax(rewards[group * candidates:(group + 1) * candidates]))
                     for group in range(n)]
            results.append([pool[i] for i in picks])
        return results

    return generate


def articles_of(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The distinct articles of a canonical table and a reference headline for each.

    The reference is the table's own: `reference` (articles), the expert headline
    (demonstrations), the best-rated headline (ratings), the first chosen one (preferences).
    """
    if kind == "preferences":
        frame = frame.rename(columns={"prompt": "article", "chosen": "reference"})
    elif kind == "demonstrations":
        frame = frame.rename(columns={"headline": "reference"})
    elif kind == "ratings":
        frame = frame.sort_values("score", ascending=False, kind="stable").rename(columns={"headline": "reference"})
    if "reference" not in frame:
        frame = frame.assign(reference="")
    table = frame[frame["article"].astype(str).str.strip() != ""][["article", "reference"]]
    return table.drop_duplicates("article").reset_index(drop=True).fillna("")


def rating_queue(policies: Sequence[tuple[str, Policy]], articles: Sequence[str], temperature: float = 0.7,
                 n: int = 2, seed: int = 0, max_new_tokens: int = 24) -> tuple[list[dict], list[dict]]:
    """Headlines for the Rate page's two queues, generated on demand.

    Every policy writes `n` headlines per article. Star queue: all of them. A/B queue: per
    article, the first headline of each policy against each other policy's (with one policy, its
    first two samples against each other); which side a headline is shown on is shuffled with
    `seed`, so position bias cannot favour a model.

    Returns:
        (items for `RatingsStore.enqueue`, pairs for `RatingsStore.enqueue_pairs`).
    """
    rng = np.random.default_rng(seed)
    items, pairs = [], []
    for article in articles:
        written = {label: _generate(policy, article, temperature, n, seed, 1.0, max_new_tokens)
                   for label, policy in policies}
        for label, headlines in written.items():
            items += [{"article": article, "headline": h, "source": label, "temperature": float(temperature)}
                      for h in headlines if h.strip()]
        if len(written) == 1:
            (label, headlines), = written.items()
            candidates = [((label, a), (label, b)) for a, b in itertools.combinations(headlines[:2], 2)]
        else:
            candidates = [((la, written[la][0]), (lb, written[lb][0])) for la, lb in itertools.combinations(written, 2)]
        for (src_a, head_a), (src_b, head_b) in candidates:
            if not head_a.strip() or not head_b.strip() or head_a.strip() == head_b.strip():
                continue
            if rng.random() < 0.5:
                (src_a, head_a), (src_b, head_b) = (src_b, head_b), (src_a, head_a)
            pairs.append({"article": article, "headline_a": head_a, "headline_b": head_b,
                          "source_a": src_a, "source_b": src_b})
    return items, pairs


SYNTH_SOURCE = "synthetic newsroom (60 articles, seed 0)"


def article_sources() -> list[str]:
    """Where the pages can take articles from: saved datasets, the shipped sample files, synthetic."""
    from rlhf_core.data.datasets import list_datasets
    from rlhf_core.paths import sample_data_dir

    sources = [f"dataset: {meta['name']}" for meta in list_datasets()]
    folder = sample_data_dir()
    if folder.is_dir():
        sources += [f"sample: {p.relative_to(folder)}" for p in sorted(folder.rglob("*"))
                    if p.suffix in (".csv", ".jsonl", ".tsv") and p.is_file()]
    return sources + [SYNTH_SOURCE]


def load_articles(source: str) -> pd.DataFrame:
    """The articles (and reference headlines) of a source named by `article_sources()`."""
    if source == SYNTH_SOURCE:
        from rlhf_core.data.synth import generate_articles

        articles = generate_articles(60, 0)
        return pd.DataFrame({"article": [a.text for a in articles], "reference": [a.reference for a in articles]})
    kind, _, name = source.partition(": ")
    if kind == "dataset":
        from rlhf_core.data.datasets import load_dataset

        loaded = load_dataset(name)
    elif kind == "sample":
        from rlhf_core.data.loaders import load_file
        from rlhf_core.paths import sample_data_dir

        loaded = load_file(sample_data_dir() / name)
    else:
        raise ValueError(f"Unknown article source {source!r}.")
    return articles_of(loaded.frame, loaded.kind)
