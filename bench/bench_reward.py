"""Reward-model figures on the shipped wire_editor sample data (prints; not a timed test).

    python bench/bench_reward.py                 # full MiniLM run + quick mode + real-style check
    python bench/bench_reward.py --only quick    # just quick mode (cold, warm in-process, new process + disk cache)
    python bench/bench_reward.py --only quick --threads 1   # CPU seconds without 2-thread spin-waiting on a busy box
    python bench/bench_reward.py --only full --set freeze_layers=3 head_lr=1e-3   # any RewardConfig field
    python bench/bench_reward.py --only full --set fact_checks=0   # the full model without its fact checks
    python bench/bench_reward.py --only full --seeds 0 1 2          # three seeds, then mean / min / max

Targets (issue 15): trained on the sample data with the defaults, both quick and full models rank
independently written news at Spearman >= 0.65 and within-article pairwise accuracy >= 0.85, without
losing held-out gold agreement on the sample's test split. Five hand-written real-style sets are
scored, none ever trained on: sample_data/realstyle_headlines.csv (15 articles, 4 styles);
bench/data/realstyle_dev.csv (24 other articles x accurate / clickbait / wrong fact, written for
issue 15's development: other topics and phrasing, and wrong facts of more kinds: swapped actors,
reversed outcomes, 'doubles' for a fall); bench/data/realstyle_holdout.csv (18 more articles x the same
three, written before any tuning against it, to see whether a change made for the dev set generalises:
read it, never tune on it); and two sets written later by two helpers that never saw the code or the other sets:
bench/data/realstyle_dev2.csv (30 articles, wrong facts that number and name checks miss: verdicts, schedules,
the runner-up named as the winner; for development) and bench/data/realstyle_holdout2.csv (24 articles, wrong
facts of every kind; nobody working on the checks reads it: the bench prints only its figures), and
bench/data/realstyle_holdout3.csv (24 articles, written on 2026-12-03 by a third helper that saw no file of the
repository, with nine kinds of wrong fact named in its brief; read by nobody, like holdout2).
For each: Spearman, within-article pairwise accuracy, and
the pairs by kind (accurate>clickbait, accurate>wrong_fact, clickbait>wrong_fact, ...), and under `teacher`
the same figures for the wire editor persona itself, whose noisy stars the model learns from: what the
ratings can teach. The model beats it only through the reader checks (a swapped name, a reversed direction).
Held out = sample_data/test_ratings.csv and test_preferences.jsonl (articles never seen in training).
`ceiling` is the hidden persona's own noise-free score against those held-out stars: rater noise and
ties between stars keep any model's Spearman near or below it (0.86 on the shipped test split), so the
held-out Spearman is also shown as a share of it; `gold_agreement` is the Spearman with the persona.
Timings include loading the backbone; they depend on how busy the machine is (load average printed).
`train_cpu_seconds` is the process CPU time: on a shared, overloaded machine, train_cpu_seconds / 2
estimates the wall time on 2 otherwise idle cores (a lower bound: 2 threads never scale perfectly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlhf_core.paths import sample_data_dir  # noqa: E402
from rlhf_core.reward.config import RewardConfig  # noqa: E402
from rlhf_core.reward.data import load_training_files  # noqa: E402
from rlhf_core.reward.evaluate import evaluate_reward, scalar_metrics  # noqa: E402
from rlhf_core.reward.scorer import load_scorer  # noqa: E402
from rlhf_core.reward.train import train_reward  # noqa: E402

# tuned for < 3 min on 2 cores: see the report of issue 3 for the sweep
FULL = dict(backbone="minilm", objective="both", lr=2e-4, head_lr=1e-3, batch_size=32, epochs=1.5, max_length=64,
            val_fraction=0.1, max_val_rows=140, eval_every=0, early_stopping_patience=0, seed=0)
QUICK = dict(backbone="minilm", objective="both", quick=True, max_length=128, seed=0)  # 4 int8 layers: the defaults


def pair_kinds(predicted, ratings) -> dict:
    """Within-article pairs of different stars, by kind ('accurate>clickbait': [right, of]), from a `style` column."""
    import itertools

    kinds: dict[str, list[int]] = {}
    frame = ratings.assign(predicted=predicted)
    for _, group in frame.groupby("article", sort=False):
        for (_, a), (_, b) in itertools.combinations(group.iterrows(), 2):
            if a["score"] == b["score"]:
                continue
            high, low = (a, b) if a["score"] > b["score"] else (b, a)
            tally = kinds.setdefault(f"{high.get('style', '?')}>{low.get('style', '?')}", [0, 0])
            tally[0] += int(high["predicted"] > low["predicted"])
            tally[1] += 1
    return kinds


def realstyle_figures(scorer, frame) -> dict:
    result = scalar_metrics(evaluate_reward(scorer, frame))
    predicted = scorer.score(frame["article"].tolist(), frame["headline"].tolist())
    return {**{k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()},
            "pairs": pair_kinds(predicted, frame), "teacher": teacher_figures(frame)}


def teacher_figures(frame) -> dict:
    """The wire editor's own noise-free score on a hand-written set: the persona whose ratings the model learns
    from. Where it ranks a headline wrong (a swapped name it cannot see, clickbait below a fluent wrong fact), the
    model can only do better through the reader checks."""
    from scipy.stats import spearmanr

    persona = _persona()
    gold = [persona.score(a, h) for a, h in zip(frame["article"], frame["headline"])]
    kinds = pair_kinds(gold, frame)
    right, total = (sum(v[i] for v in kinds.values()) for i in (0, 1))
    return {"spearman": round(float(spearmanr(gold, frame["score"]).correlation), 3),
            "pairwise_accuracy": round(right / total, 3), "pairs": kinds}


def run(name: str, cfg: RewardConfig, train, test, realstyle, out: Path) -> dict:
    start, cpu_start = time.monotonic(), time.process_time()
    rows = []
    for row in train_reward(cfg, train[0], train[1], out):
        rows.append(row)
        if "loss/val" in row:  # progress on stderr
            print(f"  step {row['step']}/{row['total_steps']} {time.monotonic() - start:.0f}s "
                  f"val_spearman={row.get('eval/spearman')}", file=sys.stderr, flush=True)
    seconds, cpu_seconds = time.monotonic() - start, time.process_time() - cpu_start
    scorer = load_scorer(out)
    held_out = evaluate_reward(scorer, test[0], test[1], persona=_persona())
    held = {k: round(v, 3) if isinstance(v, float) else v for k, v in scalar_metrics(held_out).items()}
    if held.get("ceiling"):
        held["share_of_ceiling"] = round(held["spearman"] / held["ceiling"], 3)
    result = {"name": name, "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1), "steps": rows[-1]["step"],
              "held_out": held, **{label: realstyle_figures(scorer, frame) for label, frame in realstyle.items()},
              "validation": rows[-1]["summary"]}
    print(json.dumps(result, default=str), flush=True)
    print(held_out["calibration"].round(3).to_string(index=False), flush=True)
    return result


def spread(results: list[dict]) -> dict:
    """{"train_seconds": [mean, min, max], "held_out/spearman": [...], ...} over several runs' results."""
    figures: dict[str, list[float]] = {}
    for result in results:
        flat = {"train_seconds": result["train_seconds"],
                **{f"{part}/{k}": v for part in ("held_out", *REALSTYLE) for k, v in result[part].items()}}
        for key, value in flat.items():
            if isinstance(value, float):
                figures.setdefault(key, []).append(value)
    return {key: [round(sum(v) / len(v), 3), min(v), max(v)] for key, v in figures.items()}


BENCH_DATA = Path(__file__).resolve().parent / "data"
REALSTYLE = {"realstyle": sample_data_dir() / "realstyle_headlines.csv",
             "realstyle_dev": BENCH_DATA / "realstyle_dev.csv", "realstyle_holdout": BENCH_DATA / "realstyle_holdout.csv",
             "realstyle_dev2": BENCH_DATA / "realstyle_dev2.csv", "realstyle_holdout2": BENCH_DATA / "realstyle_holdout2.csv",
             "realstyle_holdout3": BENCH_DATA / "realstyle_holdout3.csv"}


def _with_styles(path: Path):
    """A hand-written real-style set as canonical ratings, with its `style` column kept (for pair_kinds)."""
    import pandas as pd

    ratings = load_training_files([path])[0]
    styles = pd.read_csv(path)[["article", "headline", "style"]].drop_duplicates(["article", "headline"])
    return ratings.merge(styles, on=["article", "headline"], how="left")


def _persona():
    try:
        from rlhf_core.data.personas import get_persona
    except ImportError:
        return None
    return get_persona("wire_editor")


def _typed(name: str, value: str):
    """A --set value converted to the type of its RewardConfig field (bool: 1/true/yes)."""
    kind = type(getattr(RewardConfig(), name))
    return value.lower() in ("1", "true", "yes") if kind is bool else kind(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["full", "quick"], default=None)
    parser.add_argument("--set", nargs="*", default=[], help="overrides of the full config, e.g. lr=1e-4 epochs=1.5")
    parser.add_argument("--quick-set", nargs="*", default=[], help="overrides of the quick config, e.g. quick_layers=4")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="full runs, one per seed, then their mean, min and max (real-style has only 59 rows: "
                             "one seed's figure moves by +-0.1)")
    parser.add_argument("--quick-once", action="store_true", help="one quick run (cold) instead of cold, warm and disk")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0 = torch's default). With 1 thread on a busy machine, the CPU seconds "
                             "are the work itself, without the spin-waiting of 2 threads fighting for 1 free core.")
    args = parser.parse_args(argv)
    os.environ.setdefault("RLHF_STUDIO_HOME", tempfile.mkdtemp(prefix="bench_reward_"))
    data = sample_data_dir()
    train = load_training_files([data / "train_ratings.csv", data / "train_preferences.jsonl"])
    test = load_training_files([data / "test_ratings.csv", data / "test_preferences.jsonl"])
    realstyle = {label: _with_styles(path) for label, path in REALSTYLE.items()}
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# threads={torch.get_num_threads()} cpus={os.cpu_count()} load_avg={os.getloadavg()}", flush=True)
    overrides = {k: _typed(k, v) for k, v in (s.split("=", 1) for s in args.set)}
    quick = {**QUICK, **{k: _typed(k, v) for k, v in (s.split("=", 1) for s in args.quick_set)}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "quick"):
            run("quick (cold: loads MiniLM, embeds every text)", RewardConfig(**quick), train, test, realstyle, Path(tmp) / "quick")
        if args.only in (None, "quick") and not args.quick_once:
            # what the page does when a few new ratings arrive: same process, embeddings cached
            run("quick (warm: encoder and embeddings cached in the process)", RewardConfig(**quick), train, test,
                realstyle, Path(tmp) / "quick2")
            # a new process after a few new ratings: the encoder loads again, the embeddings come from disk
            from rlhf_core.reward.quick import clear_embedder_cache

            clear_embedder_cache()
            run("quick (disk: encoder reloaded, embeddings read from the on-disk cache)", RewardConfig(**quick), train,
                test, realstyle, Path(tmp) / "quick3")
        if args.only in (None, "full"):
            results = [run(f"full (seed {seed})", RewardConfig(**{**FULL, "seed": seed, **overrides}), train, test, realstyle,
                           Path(tmp) / f"full-{seed}") for seed in args.seeds]
            if len(results) > 1:
                print(json.dumps({"name": f"full, {len(results)} seeds", **spread(results)}), flush=True)
    print(f"# load_avg at end={os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
