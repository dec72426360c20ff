"""The whole RLHF loop on the `tiny` preset, and reward hacking with beta = 0 (prints; not a test).

    python bench/bench_tiny_loop.py [--steps 300] [--hack-steps 300] [--no-blind-spot] [--fresh]

1. SFT: the `tiny` preset (a tiny GPT-2 pre-trained once, by SFT, on synthetic stories that are not
   in the sample data; cached, `--fresh` rebuilds it in a temporary home and times it), then SFT
   on the sample's 320 expert demonstrations (40 steps): the SFT policy, the baseline.
2. Reward model: quick mode (linear head on frozen MiniLM embeddings) on the sample ratings + pairs.
3. GRPO with a sensible beta on sample_data/rl_prompts.csv: 2,400 unrated articles (unseen by the
   preset, none of them rated or held out), each used about once, so the policy cannot memorise a
   headline per prompt; on the 320 training articles it does (train gold up, held-out gold flat).
4. Gold persona score (wire_editor, never trained on) on the 80 HELD-OUT articles, before (SFT) and
   after GRPO: of the greedy headline (with a paired 95% CI and t-test), and of 4 headlines
   sampled at T=0.7.
5. Reward hacking: GRPO from the preset (as the Policy page's recipe) with beta = 0 and with
   beta = --hack-beta on the 320 rated training articles (a small prompt set, over-fitted fast),
   proxy and gold side by side: does the proxy
   keep rising while gold falls? By default these runs use a reward model trained WITHOUT the
   degenerate (truncated, repetitive) ratings, a known blind spot for the policy to find (the
   Data page makes the same data: leave out styles); `--no-blind-spot` uses the full one, which
   punishes broken headlines and is much harder to hack.
Timings depend on how busy the machine is (load average printed): on a shared machine they are
pessimistic.
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
import pandas as pd  # noqa: E402

DEGENERATE_STYLES = ["truncated", "repetitive"]
QUICK = dict(backbone="minilm", objective="both", quick=True, max_length=128, seed=0)


def held_out_scores(bundle, articles, reward_dir, n: int = 4, temperature: float = 0.7, seed: int = 0) -> dict:
    """Scores on held-out `articles`: gold and proxy of the greedy headline, and the mean gold of
    n headlines sampled at `temperature` (the policy as it is sampled, not just its mode)."""
    import torch

    from rlhf_core.policy.config import GenerationConfig
    from rlhf_core.policy.rollout import sample
    from rlhf_core.policy.rewarder import Rewarder
    from rlhf_core.policy.run import PolicyRun

    run = PolicyRun("eval", None, bundle, None, None, next(bundle.model.parameters()).device)
    rewarder = Rewarder(reward_dir, "wire_editor")
    greedy = run.probe_samples(articles, rewarder, GenerationConfig(max_new_tokens=24))
    ids, mask = run.encode_prompts(articles, 24, 256)
    roll = sample(bundle.model, ids, mask, max_new_tokens=24, temperature=temperature, stop_ids=run.stop_ids(),
                  pad_id=run.pad_id, repeats=n, generator=torch.Generator().manual_seed(seed))
    sampled = run.decode(roll.completion_ids, roll.completion_mask)
    gold_sampled = [rewarder.gold.score(a, h) for a, h in zip([a for a in articles for _ in range(n)], sampled)]
    return {"gold": float(np.mean([s["gold"] for s in greedy])), "proxy": float(np.mean([s["reward"] for s in greedy])),
            "per_article_gold": [s["gold"] for s in greedy],
            "headlines": [s["headline"] for s in greedy], "sampled_gold": float(np.mean(gold_sampled))}


def smooth(values, k: int = 5) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return np.array([values[max(0, i - k + 1):i + 1].mean() for i in range(len(values))])


def grpo_run(label, reward_dir, data, out, steps, beta, lr, temperature=0.7, prompts=8, seed=0, policy="tiny", save_every=0):
    from rlhf_core.policy.config import GenerationConfig, GRPOConfig
    from rlhf_core.policy.train import train_policy

    cfg = GRPOConfig(steps=steps, lr=lr, beta=beta, prompts_per_step=prompts, group_size=4, sample_every=0, probe_articles=0,
                     seed=seed, save_every=save_every, generation=GenerationConfig(max_new_tokens=20, temperature=temperature))
    start = time.monotonic()
    rows = list(train_policy("grpo", cfg, policy, reward_dir, data, out))
    proxy, gold, kl = (smooth([r[k] for r in rows]) for k in ("reward/mean", "reward/gold_mean", "policy/kl_k3"))
    peak = int(gold.argmax())
    print(f"  {label}: {steps} steps in {time.monotonic() - start:.0f} s; proxy {proxy[0]:.3f} -> {proxy[-1]:.3f} "
          f"(max {proxy.max():.3f}); gold {gold[0]:.3f} -> peak {gold[peak]:.3f} at step {peak + 1} -> {gold[-1]:.3f}; "
          f"KL {kl[-1]:.2f} (5-step moving means)")
    marks = sorted(set(np.linspace(0, steps - 1, 6).astype(int)))
    print("    step:  " + " ".join(f"{m + 1:>6d}" for m in marks))
    print("    proxy: " + " ".join(f"{proxy[m]:6.3f}" for m in marks))
    print("    gold:  " + " ".join(f"{gold[m]:6.3f}" for m in marks))
    return rows


def sft_stage(out: Path, steps: int, lr: float) -> str:
    """The SFT policy: the `tiny` preset, then SFT on the sample's expert demonstrations. Returns its final/ folder."""
    from rlhf_core.data.loaders import load_file
    from rlhf_core.policy.config import SFTConfig
    from rlhf_core.policy.train import train_policy

    demos = load_file(ROOT / "sample_data" / "expert_demonstrations.csv", kind="demonstrations").frame
    list(train_policy("sft", SFTConfig(steps=steps, lr=lr, seed=0), "tiny", None, demos, out))
    return str(out / "final")


def quick_reward(out: Path, blind_spot: bool = False) -> list[dict]:
    """A quick reward model (linear head on frozen MiniLM) on the sample ratings + pairs; with `blind_spot`, on the
    sample data's generator and seed without the degenerate styles (the Data page's "leave out styles")."""
    from rlhf_core.reward.config import RewardConfig
    from rlhf_core.reward.data import load_training_files
    from rlhf_core.reward.train import train_reward

    folder = ROOT / "sample_data"
    if blind_spot:
        from rlhf_core.data.synth import write_dataset

        folder = out.parent / f"{out.name}-data"
        write_dataset(folder, "wire_editor", 400, 7, exclude_styles=tuple(DEGENERATE_STYLES))
    ratings, preferences, _ = load_training_files([folder / "train_ratings.csv", folder / "train_preferences.jsonl"])
    return list(train_reward(RewardConfig(**QUICK), ratings, preferences, out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="GRPO steps of the main loop")
    parser.add_argument("--sft-steps", type=int, default=40, help="SFT steps on the expert demonstrations (batch 16)")
    parser.add_argument("--sft-lr", type=float, default=3e-4)
    parser.add_argument("--beta", type=float, default=0.04)
    parser.add_argument("--lr", type=float, default=1.5e-4)
    parser.add_argument("--hack-steps", type=int, default=300, help="steps of each reward-hacking run (0 = skip)")
    parser.add_argument("--hack-lr", type=float, default=3e-4)
    parser.add_argument("--hack-beta", type=float, default=0.3, help="the KL coefficient that should hold the hacking run back")
    parser.add_argument("--blind-spot", action=argparse.BooleanOptionalAction, default=True,
                        help="hacking runs use a reward model trained without the truncated/repetitive ratings")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature of the rollouts")
    parser.add_argument("--prompts", type=int, default=8, help="articles per GRPO step (x 4 completions each)")
    parser.add_argument("--eval-articles", type=int, default=80, help="held-out articles scored (the sample data has 80)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the tiny SFT preset (in a temporary home)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 is faster on an overloaded machine)")
    args = parser.parse_args()
    if args.fresh:
        os.environ["RLHF_STUDIO_HOME"] = tempfile.mkdtemp(prefix="tiny_loop_")
    import torch

    torch.set_num_threads(args.threads)
    from rlhf_core.models.registry import load_policy

    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch threads {args.threads}")
    table = pd.read_csv(ROOT / "sample_data" / "articles.csv")
    prompts = pd.read_csv(ROOT / "sample_data" / "rl_prompts.csv")[["article"]]
    # the hacking runs: the 320 rated training articles, a small prompt set a policy can over-fit fast
    train_articles = pd.DataFrame({"article": table[table.split == "train"]["article"]})
    held_out = table[table.split == "test"]["article"].head(args.eval_articles).tolist()
    work = Path(tempfile.mkdtemp(prefix="tiny_loop_runs_"))
    t0 = time.monotonic()
    # 1. SFT: the preset (a pre-trained base), then SFT on the sample's expert demonstrations
    from rlhf_core import paths

    cached = (paths.models_dir() / "tiny-sft" / "config.json").is_file()
    preset = load_policy("tiny", cache=False)
    print(f"1. tiny preset ready in {time.monotonic() - t0:.0f} s ({'cached: loading only' if cached else 'pre-trained now'})")
    t0 = time.monotonic()  # the loop proper: SFT on the sample data, reward model, GRPO, evaluation
    sft_dir = sft_stage(work / "sft", args.sft_steps, args.sft_lr)
    bundle = load_policy(sft_dir, cache=False)
    print(f"   SFT on the 320 expert demonstrations: {args.sft_steps} steps (lr {args.sft_lr}) in {time.monotonic() - t0:.0f} s")
    # 2. reward model (quick mode)
    t1 = time.monotonic()
    rows = quick_reward(work / "reward")
    reward_dir = work / "reward"
    print(f"2. reward model (quick, MiniLM) in {time.monotonic() - t1:.0f} s; "
          f"val spearman {rows[-1]['summary'].get('eval/spearman', float('nan')):.3f}")
    # 3. before
    base = held_out_scores(preset, held_out, reward_dir)
    before = held_out_scores(bundle, held_out, reward_dir)
    print(f"   held-out greedy gold: preset {base['gold']:.3f}, after SFT {before['gold']:.3f}")
    # 4. GRPO with a sensible beta
    t2 = time.monotonic()
    print(f"3. GRPO beta={args.beta}, lr={args.lr}, {args.prompts} articles x 4 completions, T={args.temperature}:")
    grpo_run("sensible beta", reward_dir, prompts, work / "grpo", args.steps, args.beta, args.lr, args.temperature, args.prompts,
             policy=sft_dir)
    after = load_policy(str(work / "grpo" / "final"), cache=False)
    now = held_out_scores(after, held_out, reward_dir)
    total = time.monotonic() - t0
    print(f"4. held-out greedy headlines ({len(held_out)} articles): gold {before['gold']:.3f} (SFT) -> {now['gold']:.3f} (GRPO); "
          f"proxy {before['proxy']:.3f} -> {now['proxy']:.3f}; gold of 4 samples per article at T=0.7: "
          f"{before['sampled_gold']:.3f} -> {now['sampled_gold']:.3f}")
    from scipy.stats import ttest_rel

    gain = np.subtract(now["per_article_gold"], before["per_article_gold"])
    half = 1.96 * gain.std(ddof=1) / np.sqrt(len(gain))
    print(f"   paired gain of greedy gold per held-out article: {gain.mean():+.3f} (95% CI {gain.mean() - half:+.3f} .. "
          f"{gain.mean() + half:+.3f}; paired t-test p = {ttest_rel(now['per_article_gold'], before['per_article_gold']).pvalue:.2g}; "
          f"better on {int((gain > 0.01).sum())}, worse on {int((gain < -0.01).sum())} of {len(gain)} articles)")
    for a, b in list(zip(before["headlines"], now["headlines"]))[:4]:
        print(f"     SFT: {a!r}\n    GRPO: {b!r}")
    print(f"   whole loop (SFT + reward model + GRPO + evaluation, preset ready): {total:.0f} s "
          f"(GRPO {time.monotonic() - t2:.0f} s); target < 180 s on 2 cores")
    # 5. reward hacking
    if args.hack_steps:
        if args.blind_spot:  # a reward model that never saw degenerate headlines: a blind spot to exploit
            quick_reward(work / "blind", blind_spot=True)
            reward_dir = work / "blind"
        print(f"5. reward hacking, lr={args.hack_lr}, {args.hack_steps} steps each"
              f"{', reward model trained WITHOUT the degenerate styles' if args.blind_spot else ''}:")
        grpo_run("beta=0   ", reward_dir, train_articles, work / "hack0", args.hack_steps, 0.0, args.hack_lr, args.temperature, args.prompts)
        grpo_run(f"beta={args.hack_beta}", reward_dir, train_articles, work / "hackb", args.hack_steps, args.hack_beta, args.hack_lr, args.temperature, args.prompts)
        for label, run in (("beta=0", "hack0"), (f"beta={args.hack_beta}", "hackb")):
            found = held_out_scores(load_policy(str(work / run / "final"), cache=False), held_out[:3], reward_dir, n=1)
            print(f"   {label} greedy headlines on held-out articles: {found['headlines']}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
