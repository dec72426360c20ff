"""The over-optimisation curve of one policy run: its checkpoints (RL) and best-of-n from its start.

Every point is measured the same way, on the same articles, at temperature 1: the mean KL to the
run's starting point (sampled, k3 summed over tokens; best-of-n's is log n - (n - 1) / n) and the
mean proxy and gold scores. Gao et al. (2022)'s forms are fitted to the gains over the start
(rlhf_core.evaluation.overoptimisation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from rlhf_core.errors import StudioError
from rlhf_core.evaluation import overoptimisation as oo
from rlhf_core.evaluation import policies as specs
from rlhf_core.evaluation.config import EvalConfig
from rlhf_core.evaluation.sampling import Models, chunks, sample_with_kl


def _curve_point(models: Models, spec: str, ref_model, articles: list[str], cfg: EvalConfig, rewarder, progress,
                 phase: str) -> Iterator:
    """Mean KL to the start and mean proxy / gold of S headlines per article sampled at temperature 1."""
    kls, proxies, golds = [], [], []
    for i, part in enumerate(chunks(articles)):
        heads, kl = sample_with_kl(models.get(spec), ref_model, part, cfg.kl_samples, cfg.max_new_tokens, cfg.seed + i)
        proxy, gold = rewarder([a for a in part for _ in range(cfg.kl_samples)], heads)
        kls += [] if kl is None else kl.tolist()
        proxies += [] if proxy is None else proxy.tolist()
        golds += [] if gold is None else gold.tolist()
        yield progress.tick(phase)
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    kl = max(0.0, mean(kls) or 0.0)
    return {"kl": kl, "sqrt_kl": float(np.sqrt(kl)), "proxy": mean(proxies), "gold": mean(golds)}


def _fits(family: str, points: list[dict], start: dict) -> dict:
    """Gao et al.'s form fitted to the gold and to the proxy points (None where too few points)."""
    fits = {}
    for value in ("gold", "proxy"):
        usable = [p for p in points if p[value] is not None and p["sqrt_kl"] > 0]
        fits[value] = None if start[value] is None else oo.fit_summary(
            family, [p["sqrt_kl"] for p in usable], [p[value] for p in usable], start[value])
    return fits


def over_optimisation(run: str, table: pd.DataFrame, cfg: EvalConfig, rewarder, reward, persona: str | None,
                      models: Models, progress, device: str) -> Iterator:
    """The over-optimisation curve of one policy run: its checkpoints (RL) and best-of-n from its start."""
    from rlhf_core.policy.best_of_n import best_of_n
    from rlhf_core.policy.config import GenerationConfig

    checkpoints = specs.run_checkpoints(run)
    start = specs.start_of(checkpoints[-1][1])
    if start is None:
        raise StudioError(f"'{run}' does not record the policy it started from, so its KL cannot be measured.")
    articles = table["article"].astype(str).tolist()[:cfg.curve_articles]
    # 1. the start policy (KL 0), then every checkpoint: KL to the start, proxy and gold, all at T = 1
    start_point = {"step": 0, **(yield from _curve_point(models, start, None, articles, cfg, rewarder, progress,
                                                        "over-optimisation: the starting point"))}
    start_point.update(kl=0.0, sqrt_kl=0.0)
    rl = [start_point]
    for step, folder in checkpoints:
        point = yield from _curve_point(models, folder, models.get(start).model, articles, cfg, rewarder, progress,
                                        f"over-optimisation: checkpoint at step {step}")
        rl.append({"step": step, **point})
        models.drop(folder)
    # 2. best-of-n from the start on the same articles: one pool of bon_max_n samples per article
    bon = None
    if reward is not None:
        pools = []
        gen = GenerationConfig(temperature=1.0, max_new_tokens=cfg.max_new_tokens)
        for i, part in enumerate(chunks(articles)):
            pools += best_of_n(models.get(start), reward, part, n=cfg.bon_max_n, gen=gen, seed=cfg.seed + i,
                               gold_persona=persona or "", device=device)
            yield progress.tick("over-optimisation: best-of-n from the starting point")
        bon = []
        for n in cfg.bon_ns():
            picks = [oo.expected_best_of_n([c["reward"] for c in pool["candidates"]],
                                           None if persona is None else [c["gold"] for c in pool["candidates"]], n)
                     for pool in pools]
            kl = oo.bon_kl(n)
            bon.append({"n": n, "kl": kl, "sqrt_kl": float(np.sqrt(kl)), "proxy": float(np.mean([p for p, _ in picks])),
                        "gold": None if persona is None else float(np.mean([g for _, g in picks]))})
    trained = [p for p in rl if p["step"] > 0 and p["sqrt_kl"] > 0]
    return {
        "run": specs.label_of(str(Path(checkpoints[-1][1]).parent)), "start": specs.label_of(start),
        "articles": len(articles), "samples_per_article": cfg.kl_samples, "bon_samples_per_article": cfg.bon_max_n,
        "rl": rl, "rl_fit": _fits("rl", rl, start_point), "bon": bon,
        "bon_fit": None if bon is None else _fits("bon", bon, bon[0]),
        "too_few_checkpoints": len(trained) < 2,
    }


def curve_notes(curve: dict | None) -> list[str]:
    if not curve or not curve["too_few_checkpoints"]:
        return []
    trained = sum(1 for p in curve["rl"] if p["step"] > 0)
    return [f"{curve['run']} has {trained} checkpoint{'s' * (trained != 1)} away from its start: the RL fit needs at "
            "least 2. Train with 'save every' set (for example every 25 steps) to draw its curve."]
