"""SmolLM2-135M aligned on a laptop: LoRA SFT, then LoRA GRPO, within 10 minutes of training (prints; not a test).

    python bench/bench_smollm2.py [--sft-steps N] [--grpo-steps N] [--minutes 10] [--articles 80] [--threads 2] [--seed S] [--set NAME=VALUE] [--out DIR]

1. Reward model: quick mode (a linear head on frozen MiniLM) on the sample ratings + pairs (seconds).
2. SFT of SmolLM2-135M-Instruct with LoRA on the sample's 320 expert demonstrations (the preset's
   defaults, `PRESET_DEFAULTS["smollm2"]["sft"]`).
3. GRPO with LoRA from the SFT adapter (it keeps training that adapter; the KL reference is the SFT
   policy) against the quick reward model on sample_data/rl_prompts.csv (unrated articles), with the
   preset's GRPO defaults. Stops after --grpo-steps or when SFT + GRPO have used --minutes of wall time.
4. Held out: the greedy headline of SmolLM2, the SFT policy and the GRPO policy on the sample's
   --articles test articles, scored by the hidden wire-editor persona (gold, never trained on) and by
   the reward model; the paired gain of GRPO over SFT (and over the untouched model) with its 95%
   t-interval, and the gold win rate with its paired bootstrap interval (rlhf_core.evaluation). Then the
   same for the policy's own distribution: 4 headlines per article sampled at the training temperature
   (0.7), each article's mean gold (what GRPO optimises; greedy decoding hides a sharpened distribution).
   The sample's own reference headlines for the same articles are scored too: how high a good human headline
   scores, against which SFT's greedy headline can be read.
Timings depend on how busy the machine is (load average printed); every figure is one seed's (--seed sets SFT's and
GRPO's data order, initialisation and sampling, and the held-out sampling; run several).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import numpy as np  # noqa: E402

KEYS = ("loss/policy", "reward/mean", "reward/gold_mean", "policy/kl_k3")  # GRPO's KL (k3); SFT logs none


def stage(label: str, rows: list[dict], start: float) -> None:
    last = rows[-1] if rows else {}
    print(f"{label}: {len(rows)} steps in {time.monotonic() - start:.0f} s; last step "
          + ", ".join(f"{k} {last[k]:.3f}" for k in KEYS if isinstance(last.get(k), float)), flush=True)


def train_until(label: str, steps, deadline: float) -> list[dict]:
    """Run a trainer generator until it ends or the wall-clock deadline passes (it then saves final/)."""
    rows, start = [], time.monotonic()
    try:
        for metrics in steps:
            rows.append({k: v for k, v in metrics.items() if k != "samples"})
            if metrics["step"] % 10 == 0:
                print(f"  {label} step {metrics['step']}: " + ", ".join(
                    f"{k} {metrics[k]:.3f}" for k in KEYS
                    if isinstance(metrics.get(k), float)), flush=True)
            if time.monotonic() > deadline:
                print(f"{label}: the time budget ends at step {metrics['step']}", flush=True)
                break
    finally:
        steps.close()  # a cancel: the trainer saves final/ on its way out
    stage(label, rows, start)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sft-steps", type=int, default=None, help="default: the smollm2 preset's")
    parser.add_argument("--grpo-steps", type=int, default=None, help="default: the smollm2 preset's")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget of SFT + GRPO training")
    parser.add_argument("--articles", type=int, default=80, help="held-out test articles to score")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="SFT's and GRPO's seed, and the held-out sampling's")
    parser.add_argument("--set", action="append", default=[],
                        help="GRPO setting name=value (repeatable; generation.temperature=1.0 for a sampling setting)")
    parser.add_argument("--out", default="")
    parser.add_argument("--evaluate-only", action="store_true", help="score the runs already in --out (sft/, grpo/, reward/)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from bench.bench_tiny_loop import quick_reward
    from rlhf_core.data.loaders import load_file
    from rlhf_core.models.offline import smollm2_dir
    from rlhf_core.policy.algorithms import make_config
    from rlhf_core.policy.train import train_policy

    smollm2_dir()  # convert the GGUF once, before the clock starts
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-smollm2-"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.threads} threads; out {out}", flush=True)
    reward_dir = out / "reward"
    if args.evaluate_only:
        evaluate(out, reward_dir, args.articles, seed=args.seed)
        return
    quick_reward(reward_dir)

    clock, cpu_clock = time.monotonic(), time.process_time()
    deadline = clock + 60 * args.minutes
    sft_values = {"sample_every": 0, "probe_articles": 0, "seed": args.seed} | ({"steps": args.sft_steps} if args.sft_steps else {})
    sft_cfg = make_config("sft", "smollm2", **sft_values)
    demos = load_file(ROOT / "sample_data" / "expert_demonstrations.csv", kind="demonstrations").frame
    print(f"SFT settings: lr {sft_cfg.lr}, batch {sft_cfg.batch_size}, steps {sft_cfg.steps}, LoRA r {sft_cfg.lora_r}", flush=True)
    train_until("SFT", train_policy("sft", sft_cfg, "smollm2", None, demos, out / "sft"), deadline)
    sft = str(out / "sft" / "final")

    extra: dict = {}
    for item in args.set:  # 'lr=5e-5', or a sampling setting: 'generation.temperature=1.0'
        name, value = item.split("=", 1)
        number = float(value) if any(c in value for c in ".e") else int(value)
        if name.startswith("generation."):
            extra.setdefault("generation", {})[name.split(".", 1)[1]] = number
        else:
            extra[name] = number
    grpo_values = {"sample_every": 0, "probe_articles": 0, "seed": args.seed, **extra} | ({"steps": args.grpo_steps} if args.grpo_steps else {})
    grpo_cfg = make_config("grpo", sft, **grpo_values)
    print(f"GRPO settings: lr {grpo_cfg.lr}, beta {grpo_cfg.beta}, {grpo_cfg.prompts_per_step} articles x "
          f"{grpo_cfg.group_size}, T {grpo_cfg.generation.temperature}, steps {grpo_cfg.steps}, LoRA r {grpo_cfg.lora_r}", flush=True)
    rows = train_until("GRPO", train_policy("grpo", grpo_cfg, sft, reward_dir, ROOT / "sample_data" / "rl_prompts.csv",
                                            out / "grpo"), deadline)
    trained, trained_cpu = time.monotonic() - clock, time.process_time() - cpu_clock
    phases = {k[5:-2]: sum(r.get(k, 0.0) for r in rows) / max(1, len(rows)) for k in rows[0] if k.startswith("time/") and k.endswith("_s")
              and k != "time/elapsed_s"} if rows else {}
    print(f"training: {trained / 60:.1f} min of wall time, {trained_cpu / 60:.1f} min of CPU time (SFT + GRPO; CPU time / "
          f"threads estimates the wall time on that many idle cores, a lower bound); GRPO s/step "
          f"{(rows[-1]['time/elapsed_s'] / len(rows)) if rows else float('nan'):.1f}: "
          + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()), flush=True)

    evaluate(out, reward_dir, args.articles, seed=args.seed)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def evaluate(out: Path, reward_dir: Path, n_articles: int, samples: int = 4, temperature: float = 0.7, seed: int = 0) -> None:
    """SmolLM2, the SFT and the GRPO policy on held-out articles, scored by gold: greedy headlines (and their reward),
    then `samples` headlines per article at the training temperature, both up to the training's new tokens; paired
    gains of each."""
    from rlhf_core.policy.algorithms import make_config
    from rlhf_core.policy.scoring import greedy_scores, sample_test_articles

    articles = sample_test_articles(n_articles)
    # as many tokens as GRPO sampled in training: greedy_scores' default (20) cut GRPO's longer headlines short
    new_tokens = make_config("grpo", "smollm2").generation.max_new_tokens
    sft = str(out / "sft" / "final")
    scores = {}
    for label, spec in (("SmolLM2", "smollm2"), ("SFT", sft), ("GRPO", str(out / "grpo" / "final"))):
        scores[label] = greedy_scores(spec, articles, reward_dir, max_new_tokens=new_tokens)
        gold, reward = scores[label]["gold"]["wire_editor"], scores[label]["reward"]
        print(f"held-out {label:>7}: gold {sum(gold) / len(gold):.3f}, reward {sum(reward) / len(reward):.3f}; e.g. "
              f"{scores[label]['headlines'][0]!r}", flush=True)
    reference = reference_gold(articles)
    print(f"held-out reference headlines (the sample's own): gold {np.mean(reference):.3f}", flush=True)
    report_gains("greedy", {label: s["gold"]["wire_editor"] for label, s in scores.items()})
    sampled = {}  # the policy's own distribution at the training temperature: what GRPO optimises
    for label, spec in (("SmolLM2", "smollm2"), ("SFT", sft), ("GRPO", str(out / "grpo" / "final"))):
        sampled[label] = sampled_gold(spec, articles, samples, temperature, seed, new_tokens)
        print(f"held-out {label:>7}, {samples} samples at T {temperature:g}: gold {np.mean(sampled[label]):.3f}", flush=True)
    report_gains(f"sampled at T {temperature:g}", sampled)


def reference_gold(articles: list[str]) -> list[float]:
    """Gold of the sample's own reference headline for each of `articles` (looked up by text)."""
    import pandas as pd

    from rlhf_core import paths
    from rlhf_core.data.personas import get_persona

    table = pd.read_csv(paths.sample_data_dir() / "articles.csv")
    reference = dict(zip(table["article"], table["reference"]))
    persona = get_persona("wire_editor")
    return [persona.score(a, reference[a]) for a in articles]


def sampled_gold(spec: str, articles: list[str], samples: int, temperature: float, seed: int = 0,
                 new_tokens: int = 24) -> list[float]:
    """Mean gold of `samples` headlines per article sampled at `temperature` (one value per article)."""
    from rlhf_core.data.personas import get_persona
    from rlhf_core.evaluation.sampling import chunks, sample_headlines
    from rlhf_core.models.registry import load_policy

    bundle, persona, golds = load_policy(spec, cache=False), get_persona("wire_editor"), []
    for i, part in enumerate(chunks(articles)):
        for article, headlines in zip(part, sample_headlines(bundle, part, samples, new_tokens, seed + i, temperature)):
            golds.append(float(np.mean([persona.score(article, h) for h in headlines])))
    return golds


def report_gains(how: str, gold: dict[str, list[float]]) -> None:
    """Paired gold gains (95% t-interval) and win rates (paired bootstrap) of GRPO over SFT and of each over SmolLM2."""
    from rlhf_core.evaluation.stats import win_rate
    from rlhf_core.policy.scoring import paired_gain

    for after, before in (("GRPO", "SFT"), ("SFT", "SmolLM2"), ("GRPO", "SmolLM2")):
        a, b = gold[after], gold[before]
        gain = paired_gain(a, b)
        wins = win_rate([[x] for x in a], [[y] for y in b])
        verdict = "PASS" if gain["ci_low"] > 0 else "not shown"
        print(f"{how} gold {after} - {before}: {gain['gain']:+.3f} (95% CI {gain['ci_low']:+.3f} to {gain['ci_high']:+.3f}, "
              f"p {gain['p']:.3g}; better on {gain['better']}, worse on {gain['worse']} of {gain['n']}); win rate "
              f"{wins['rate']:.3f} ({wins['low']:.3f} to {wins['high']:.3f}): {verdict}", flush=True)


if __name__ == "__main__":
    main()
