"""What each finished lesson stage showed, as numbers: for the CLI's JSON lines, the page and the bench.

`curve_summary` reads a run's proxy and gold curves the way the reward-hacking part is judged:
10-step means at the start, at gold's best and at the end.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rlhf_core.lesson import plan, stages
from rlhf_core.policy.scoring import greedy_scores

WINDOW = 10  # steps per mean: one GRPO step is only 32 headlines, too noisy alone


def window_means(values: Sequence[float], k: int = WINDOW) -> np.ndarray:
    """Means of every k consecutive values (a moving average without its ragged start)."""
    values = np.asarray(values, dtype=float)
    if len(values) < k:
        return np.array([values.mean()]) if len(values) else np.array([])
    return np.convolve(values, np.ones(k) / k, mode="valid")


def curve_summary(metrics: list[dict], k: int = WINDOW) -> dict:
    """First, best and last k-step means of proxy reward, gold and KL (k3, or k1 for RLOO), and the hacking verdicts.

    hacked: proxy's last k-step mean above its first, while gold's last is at least 0.1 below its best.
    held:   gold's last k-step mean at or above its first (the KL tie kept the policy honest).
    """
    out: dict = {}
    kl = "policy/kl_k1" if any("policy/kl_k1" in m for m in metrics) else "policy/kl_k3"  # RLOO's penalty is k1
    for key, name in (("reward/mean", "proxy"), ("reward/gold_mean", "gold"), (kl, "kl")):
        series = window_means([m[key] for m in metrics if isinstance(m.get(key), (int, float))], k)
        if len(series):
            out.update({f"{name}_first": float(series[0]), f"{name}_best": float(series.max()), f"{name}_last": float(series[-1])})
    if {"proxy_first", "gold_first"} <= set(out):
        out["hacked"] = bool(out["proxy_last"] > out["proxy_first"] and out["gold_last"] <= out["gold_best"] - 0.1)
        out["held"] = bool(out["gold_last"] >= out["gold_first"])
    return out


def _held_out_pair(cfg, before: str, after: str, reward_dir: str | None) -> dict:
    articles = stages.evaluation_articles(cfg)
    first = greedy_scores(before, articles, reward_dir, [cfg.persona])
    second = greedy_scores(after, articles, reward_dir, [cfg.persona])
    mean = lambda xs: None if xs is None else round(float(np.mean(xs)), 4)  # noqa: E731
    return {"gold_before": mean(first["gold"][cfg.persona]), "gold_after": mean(second["gold"][cfg.persona]),
            "reward_before": mean(first["reward"]), "reward_after": mean(second["reward"]),
            "kl": round(kl_to(after, before, articles[:40], cfg.seed), 3), "held_out_articles": len(articles)}


def kl_to(policy: str, start: str, articles, seed: int) -> float:
    """KL(policy || start) in nats per headline, sampled as the Evaluate page samples it (4 per article)."""
    from rlhf_core.evaluation.sampling import sample_with_kl
    from rlhf_core.models.registry import load_policy

    _, kl = sample_with_kl(load_policy(policy, cache=False), load_policy(start, cache=False).model, articles, 4, 20, seed)
    return float(np.mean(kl))


def stage_report(runner, state: dict, key: str) -> dict:
    """The numbers a finished stage is read by (held-out greedy headlines for the policy stages)."""
    cfg = plan.config_of(state)
    infos = [runner.status(run_id) for run_id in state["runs"].get(key) or []]
    summary = (infos[0].summary or {}) if infos else {}
    if key in ("newsroom", "hack_data", "rival_data"):
        return {"datasets": summary.get("datasets"), "rows": summary.get("rows"), "stars": summary.get("stars")}
    if key in ("reward", "hack_reward", "rival_reward"):
        return {k: summary.get(k) for k in ("eval/spearman", "eval/pairwise_accuracy", "model_dir") if k in summary}
    if key == "sft":  # no reward model exists yet at this stage: reward_before / reward_after are null
        return _held_out_pair(cfg, "tiny", plan.output(runner, state, "sft"), None)
    if key == "grpo":
        report = _held_out_pair(cfg, plan.output(runner, state, "sft"), plan.output(runner, state, "grpo"),
                                plan.output(runner, state, "reward"))
        return {**report, "train": curve_summary(runner.read_metrics(infos[0].id))}
    if key == "compare":
        result = plan.result(runner, state, key) or {}
        return {k: result.get(k) for k in ("gold_before", "gold_after", "reward_before", "reward_after", "gold_gain")}
    if key in ("hacking", "personas"):
        return {"runs": [{"name": info.name, "beta": info.config.get("beta"), "aligned_to": info.config.get("aligned_to"),
                          **curve_summary(runner.read_metrics(info.id))} for info in infos]}
    if key == "personas_table":
        result = plan.result(runner, state, key) or {}
        return {"grid": result.get("grid"), "wins": result.get("wins")}
    return {}
