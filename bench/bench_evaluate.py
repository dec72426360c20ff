"""Did RLHF help? The evaluation says so by itself: GRPO on `tiny` against its SFT start (prints; not a test).

    python bench/bench_evaluate.py [--steps 300] [--save-every 50] [--articles 80] [--n 4] [--hack] [--no-main] [--out DIR]

1. SFT: the `tiny` preset, then 40 steps on the sample's expert demonstrations (bench_tiny_loop's stage).
2. Reward model: quick mode (linear head on frozen MiniLM) on the sample ratings + pairs.
3. GRPO from the SFT policy on sample_data/rl_prompts.csv (lr 1.5e-4, beta 0.04, 8 articles x 4 headlines, T 0.7),
   a checkpoint every --save-every steps.
4. `rlhf_core.evaluation` on the 80 held-out articles, exactly as the Evaluate page and the CLI run it: the GRPO
   run, its baseline found by itself (the policy its checkpoints say it started from: the SFT policy), the gold
   persona wire_editor, win rates with paired bootstrap intervals, and the run's over-optimisation curve.
   Target: the gold win rate of GRPO over SFT with its whole 95% interval above 0.5.
5. --hack: the Policy page's reward-hacking recipe (a reward model with a blind spot, beta 0, lr 3e-4, 300 steps
   on the 320 rated training articles) with a checkpoint every 10 steps, and its curve: the proxy climbs while the
   gold peaks and falls (Gao et al. 2022's picture).
Reports (report.html, results.json, headlines.csv) go to --out. Timings depend on the machine's load.

Measured 2026-12-01 on 2 shared cores (load 3-8), evaluation code of this commit: GRPO (300 steps, 435 s) against its
SFT start on the 80 held-out articles, n 4 at T 0.7: gold win rate 0.604 (95% CI 0.538 to 0.668): PASS; reward-model
win rate 0.636 (0.570 to 0.701); gold 0.407 -> 0.459, KL to start 5.7 nats; the evaluation took 70-125 s. Hacking run
(save every 10): it ends writing empty headlines; gold win rate over the tiny preset 0.002 (0.000 to 0.005) while the
proxy's is 0.572 (0.478 to 0.669); along its checkpoints gold falls 0.28 -> 0.00 as the proxy rises 0.30 -> 0.49.
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
sys.path.insert(0, str(ROOT / "bench"))

import pandas as pd  # noqa: E402

from bench_tiny_loop import grpo_run, quick_reward, sft_stage  # noqa: E402


def evaluate_run(label: str, run: Path, reward_dir: Path, held_out: pd.DataFrame, out: Path, args) -> dict:
    """The library's evaluation of one run against its own start, with its curve; prints the answer."""
    from rlhf_core.evaluation.config import EvalConfig
    from rlhf_core.evaluation.report import verdicts
    from rlhf_core.evaluation.run import run_evaluation

    cfg = EvalConfig(articles=args.articles, n=args.n, temperature=args.temperature, seed=args.seed,
                     curve_articles=args.curve_articles)
    start = time.monotonic()
    results = run_evaluation(cfg, [str(run)], held_out, reward=str(reward_dir), persona="wire_editor", curve_run=str(run),
                             data={"path": "sample_data/articles.csv (test split)"}, out_dir=out)
    print(f"   {label}: evaluated in {time.monotonic() - start:.0f} s -> {out / 'report.html'}")
    for r in results["policies"]:
        kl = "-" if r["kl"] is None else f"{r['kl']:.2f}"
        print(f"     {r['policy']:<22} gold {r['gold_mean']:.3f}  reward {r['reward_mean']:.3f}  ROUGE-L {r['rougeL']:.3f}  "
              f"KL {kl}  words {r['length_mean']:.1f}  distinct-2 {r['distinct_2']:.2f}")
    for verdict in verdicts(results):
        print(f"     {verdict['sentence']}")
    curve = results["curve"]
    for family in ("rl", "bon"):
        print(f"     {family} points (sqrt KL: gold / proxy): " + ", ".join(
            f"{p['sqrt_kl']:.2f}: {p['gold']:.3f} / {p['proxy']:.3f}" for p in curve[family] or []))
        for value, fit in (curve[f"{family}_fit"] or {}).items():
            if fit:
                peak = "no peak in sight" if fit["peak_d"] is None else f"peak d* = {fit['peak_d']:.2f} ({fit['peak_value']:.3f})"
                print(f"     {family} fit of {value}: alpha {fit['alpha']:.3f}, beta {fit['beta']:.3f}, {peak}")
    for note in results["notes"]:
        print(f"     note: {note}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="GRPO steps")
    parser.add_argument("--save-every", type=int, default=50, help="GRPO checkpoint every K steps (the curve's points)")
    parser.add_argument("--lr", type=float, default=1.5e-4)
    parser.add_argument("--beta", type=float, default=0.04)
    parser.add_argument("--articles", type=int, default=80, help="held-out articles (the sample data has 80)")
    parser.add_argument("--n", type=int, default=4, help="headlines per article and policy")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--curve-articles", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hack", action="store_true", help="also the reward-hacking recipe and its curve")
    parser.add_argument("--hack-steps", type=int, default=300)
    parser.add_argument("--hack-save-every", type=int, default=10,
                        help="checkpoint every K steps of the hacking run (lr 3e-4 moves far in the first 25 steps)")
    parser.add_argument("--main", action=argparse.BooleanOptionalAction, default=True,
                        help="the GRPO-vs-SFT part (--no-main --hack: only the reward-hacking curve)")
    parser.add_argument("--out", default=None, help="folder for the reports (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.out or tempfile.mkdtemp(prefix="bench_evaluate_"))
    os.environ["RLHF_STUDIO_HOME"] = str(work / "home")  # runs under its runs/ folder: labelled `run: <name>`
    from rlhf_core.evaluation.run import held_out_articles
    from rlhf_core.paths import runs_dir

    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch threads {args.threads}; out {work}")
    table = pd.read_csv(ROOT / "sample_data" / "articles.csv")
    held_out = held_out_articles(table, "articles", args.articles)
    t0 = time.monotonic()
    if args.main:
        sft = sft_stage(runs_dir() / "sft", 40, 3e-4)
        rows = quick_reward(work / "reward")
        print(f"1-2. SFT policy and quick reward model in {time.monotonic() - t0:.0f} s "
              f"(val spearman {rows[-1]['summary'].get('eval/spearman', float('nan')):.3f})")
        prompts = pd.read_csv(ROOT / "sample_data" / "rl_prompts.csv")[["article"]]
        print(f"3. GRPO beta={args.beta}, lr={args.lr}, checkpoint every {args.save_every} steps:")
        grpo_run("GRPO", work / "reward", prompts, runs_dir() / "grpo", args.steps, args.beta, args.lr, policy=sft,
                 save_every=args.save_every)
        print("4. the evaluation (rlhf_core.evaluation), GRPO against the start its checkpoints record:")
        results = evaluate_run("GRPO", runs_dir() / "grpo", work / "reward", held_out, work / "report-grpo", args)
        gold = results["policies"][1]
        verdict = "PASS" if gold["win_rate_gold_low"] > 0.5 else "FAIL"
        print(f"   target: gold win rate over SFT with its 95% interval above 0.5: {gold['win_rate_gold']:.3f} "
              f"[{gold['win_rate_gold_low']:.3f}, {gold['win_rate_gold_high']:.3f}] -> {verdict}")
    if args.hack:
        print(f"5. reward hacking: blind-spot reward model, beta 0, lr 3e-4, {args.hack_steps} steps, "
              f"checkpoint every {args.hack_save_every}:")
        quick_reward(work / "blind", blind_spot=True)
        train = pd.DataFrame({"article": table[table.split == "train"]["article"]})
        grpo_run("hack beta=0", work / "blind", train, runs_dir() / "hack", args.hack_steps, 0.0, 3e-4,
                 save_every=args.hack_save_every)
        evaluate_run("hack", runs_dir() / "hack", work / "blind", held_out, work / "report-hack", args)
    print(f"total {time.monotonic() - t0:.0f} s; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
