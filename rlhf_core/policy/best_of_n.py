"""Best-of-n: sample n headlines per article and keep the reward model's favourite (no training).

The classic no-training baseline of RLHF papers (Stiennon et al. 2020; Gao et al. 2023 use it to
study reward over-optimisation): it shows how much the reward model alone can lift quality, at
n times the generation cost. On synthetic data the gold persona score of the pick is reported
too, so over-optimising the proxy (large n) is visible without training.
Shapes: N = articles, n = samples per article, B = N * n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rlhf_core.bounds import bounded, check_bounds
from rlhf_core.policy.config import GenerationConfig


@dataclass(frozen=True)
class BestOfNConfig:
    """Best-of-n tried on a few articles of a dataset (the Policy page's demo; nothing is trained)."""

    n: int = bounded(4, "Candidates sampled per article; the reward model keeps its favourite. Larger n buys more "
                        "reward and, past a point, over-optimises the reward model (Gao et al. 2023).", 2, 16)
    temperature: float = bounded(1.0, "Sampling temperature of the candidates.", 0.1, 1.5)
    articles: int = bounded(4, "Articles of the dataset it is tried on.", 1, 16)
    seed: int = bounded(0, "Sampling seed.", 0, 2**32 - 1)
    gold_persona: str = bounded("wire_editor", "Hidden persona whose gold score of each candidate is shown next to "
                                               "its reward ('' to switch off).")

    def __post_init__(self):
        check_bounds(self)


def best_of_n(policy, reward, articles: Sequence[str], n: int = 4, gen: GenerationConfig = GenerationConfig(),
              seed: int = 0, gold_persona: str = "wire_editor", device: str = "cpu", batch_articles: int = 4) -> list[dict]:
    """For each article: n sampled headlines, scored; the best by reward first.

    Args:
        policy: a PolicyBundle or a policy spec ('tiny', 'smollm2', a folder).
        reward: a reward-model folder or a callable (articles, headlines) -> scores.
    Returns: per article {article, headline (the pick), reward, gold, candidates: [{headline, reward, gold}]},
        candidates sorted by reward, best first.
    """
    import torch

    from rlhf_core.policy.rollout import sample
    from rlhf_core.policy.rewarder import Rewarder
    from rlhf_core.policy.run import PolicyRun

    if n < 1:
        raise ValueError("n must be at least 1")
    if isinstance(policy, str):
        from rlhf_core.models.registry import load_policy

        policy = load_policy(policy, device=device)
    model = policy.model
    run = PolicyRun("best_of_n", None, policy, None, None, next(model.parameters()).device)
    rewarder = Rewarder(reward, gold_persona, device)
    generator = torch.Generator(device=run.device).manual_seed(seed)
    results = []
    for start in range(0, len(articles), batch_articles):
        chunk = list(articles[start:start + batch_articles])
        # 1. sample n completions per article (shared prompt prefill)
        ids, mask = run.encode_prompts(chunk, gen.max_new_tokens, gen.max_prompt_tokens)
        with torch.no_grad():
            roll = sample(model, ids, mask, max_new_tokens=gen.max_new_tokens, temperature=gen.temperature, top_p=gen.top_p,
                          stop_ids=run.stop_ids(), pad_id=run.pad_id, repeats=n, generator=generator)
        headlines = run.decode(roll.completion_ids, roll.completion_mask)
        # 2. score all of them; 3. keep the reward model's best per article
        proxy, gold = rewarder([a for a in chunk for _ in range(n)], headlines)
        for i, article in enumerate(chunk):
            rows = [{"headline": headlines[i * n + j], "reward": float(proxy[i * n + j]),
                     "gold": None if gold is None else float(gold[i * n + j])} for j in range(n)]
            rows.sort(key=lambda r: -r["reward"])
            results.append({"article": article, **rows[0], "candidates": rows})
    return results


def summary(results: list[dict]) -> dict:
    """Mean reward and gold of the picks vs of all candidates (what best-of-n bought)."""
    picks = [r["reward"] for r in results]
    every = [c["reward"] for r in results for c in r["candidates"]]
    gold_picks = [r["gold"] for r in results if r["gold"] is not None]
    gold_all = [c["gold"] for r in results for c in r["candidates"] if c["gold"] is not None]
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    return {"reward/best_mean": mean(picks), "reward/mean": mean(every),
            "reward/gold_best_mean": mean(gold_picks), "reward/gold_mean": mean(gold_all), "articles": len(results)}
