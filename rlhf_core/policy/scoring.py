"""Scoring a policy on held-out articles: its greedy headline per article, by the reward model and by gold personas.

The greedy headline is the policy's own best guess (no sampling noise), so two policies compared on
the same articles give a paired comparison: `paired_gain` turns per-article differences into a mean
gain with its 95% interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def greedy_scores(policy, articles: Sequence[str], reward_dir=None, personas: Sequence[str] = ("wire_editor",),
                  batch: int = 16, max_new_tokens: int = 20) -> dict:
    """Greedy headlines of `policy` (a spec or a PolicyBundle) for `articles`, scored.

    Returns {"headlines": [...], "reward": [...] or None, "gold": {persona: [...]}} (one value per article).
    """
    import torch

    from rlhf_core.data.personas import get_persona
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.config import GenerationConfig
    from rlhf_core.policy.rewarder import Rewarder
    from rlhf_core.policy.run import PolicyRun

    bundle = load_policy(policy, cache=False) if isinstance(policy, (str, Path)) else policy
    run = PolicyRun("eval", None, bundle, None, Path("."), next(bundle.model.parameters()).device)
    gen, proxy = GenerationConfig(max_new_tokens=max_new_tokens), Rewarder(reward_dir, "")
    headlines, rewards = [], []
    with torch.no_grad():
        for start in range(0, len(articles), batch):
            rows = run.probe_samples(list(articles[start:start + batch]), proxy, gen)
            headlines += [r["headline"] for r in rows]
            rewards += [r["reward"] for r in rows]
    gold = {name: [get_persona(name).score(a, h) for a, h in zip(articles, headlines)] for name in personas}
    return {"headlines": headlines, "reward": rewards if reward_dir else None, "gold": gold}


def paired_gain(after: Sequence[float], before: Sequence[float]) -> dict:
    """Mean of after - before over paired items, its 95% t-interval and the paired t-test's p-value."""
    from scipy import stats

    gain = np.subtract(after, before)
    n, mean = len(gain), float(np.mean(gain))
    spread = float(gain.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1) * spread / np.sqrt(n)) if n > 1 else float("nan")
    p = float(stats.ttest_rel(after, before).pvalue) if n > 1 and spread > 0 else float("nan")
    return {"gain": mean, "ci_low": mean - half, "ci_high": mean + half, "p": p, "n": n,
            "better": int((gain > 0.01).sum()), "worse": int((gain < -0.01).sum())}


def sample_test_articles(n: int | None = None) -> list[str]:
    """The sample data's held-out (test split) articles: what the shipped presets are measured on."""
    import pandas as pd

    from rlhf_core import paths

    table = pd.read_csv(paths.sample_data_dir() / "articles.csv")
    articles = table.loc[table["split"] == "test", "article"].tolist()
    return articles[:n] if n else articles
