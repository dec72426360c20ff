"""Does the class lesson carry itself? The lesson over several seeds (prints; not a test).

    python bench/bench_lesson.py [--seeds 0 1 2 3 4] [--parts main hacking personas] [--set FIELD=VALUE ...]

For each seed, in a fresh data directory, the same code as the Lesson page and `lesson run`:
  main      seconds per stage (the lesson's budget: under 180 s on 2 cores), and the paired held-out
            gold gain of GRPO over SFT on 200 held-out articles (the newsroom's 80 test articles and 120 fresh ones) with its 95% interval
            (target: interval above zero on at least 4 of 5 seeds);
  hacking   proxy and gold 10-step means of beta = 0 and of the sensible beta (targets on at least
            4 of 5 seeds: beta = 0 hacked, proxy up and gold >= 0.1 below its best; sensible beta held,
            gold's last 10 steps at or above its first 10), with the curves at six points;
  personas  the 2 x 2 table (each policy scored by each editor's gold): does each policy win under
            its own editor?
Timings depend on what else runs on the machine (the load average is printed).
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


def curve_points(rows: list[dict], key: str, marks: int = 6) -> str:
    from rlhf_core.lesson.report import window_means

    values = window_means([r[key] for r in rows if isinstance(r.get(key), (int, float))])
    picks = sorted(set(np.linspace(0, len(values) - 1, marks).astype(int)))
    return " ".join(f"{values[i]:.2f}" for i in picks)


def one_seed(seed: int, parts: list[str], settings: dict) -> dict:
    os.environ["RLHF_STUDIO_HOME"] = tempfile.mkdtemp(prefix=f"lesson_s{seed}_")
    from rlhf_core.jobs import JobRunner
    from rlhf_core.lesson import plan
    from rlhf_core.lesson.config import LessonConfig
    from rlhf_core.lesson.report import curve_summary

    runner = JobRunner()
    state = plan.start(LessonConfig(seed=seed, **settings))
    seconds: dict[str, float] = {}
    for part in ["main"] + [p for p in parts if p != "main"]:
        plan.run_part(runner, state, part, on_stage=lambda stage, s: seconds.__setitem__(stage.key, s))
    out: dict = {"seconds": seconds}
    compare = plan.result(runner, state, "compare")
    out["main"] = compare["gold_gain"] | {"gold_before": compare["gold_before"], "gold_after": compare["gold_after"]}
    if "hacking" in parts:
        out["hacking"] = {}
        for run_id in state["runs"]["hacking"]:
            info, rows = runner.status(run_id), runner.read_metrics(run_id)
            out["hacking"][f"beta {info.config['beta']:g}"] = curve_summary(rows) | {
                "proxy_curve": curve_points(rows, "reward/mean"), "gold_curve": curve_points(rows, "reward/gold_mean")}
    if "personas" in parts:
        out["personas"] = plan.result(runner, state, "personas_table")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--parts", nargs="+", default=["main", "hacking", "personas"], choices=["main", "hacking", "personas"])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="change a lesson setting")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    from rlhf_core.lesson.cli import parse_settings

    torch.set_num_threads(args.threads)
    settings = parse_settings(args.set)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch threads {args.threads}; settings {settings or 'defaults'}")
    results = {}
    for seed in args.seeds:
        t0 = time.monotonic()
        r = results[seed] = one_seed(seed, args.parts, settings)
        main_s = sum(v for k, v in r["seconds"].items() if k in ("newsroom", "sft", "reward", "grpo", "compare"))
        m = r["main"]
        print(f"seed {seed}: main lesson {main_s:.0f} s ({', '.join(f'{k} {v:.0f}' for k, v in r['seconds'].items())}); "
              f"held-out gold {m['gold_before']:.3f} -> {m['gold_after']:.3f}, paired gain {m['gain']:+.3f} "
              f"(95% CI {m['ci_low']:+.3f} .. {m['ci_high']:+.3f}, p = {m['p']:.2g}; better {m['better']}, worse {m['worse']} "
              f"of {m['n']})", flush=True)
        for name, c in r.get("hacking", {}).items():
            print(f"    hacking {name}: proxy {c['proxy_first']:.3f} -> {c['proxy_last']:.3f}; gold {c['gold_first']:.3f} -> best "
                  f"{c['gold_best']:.3f} -> {c['gold_last']:.3f}; KL {c.get('kl_last', float('nan')):.2f}; hacked {c['hacked']}, "
                  f"held {c['held']}\n        proxy curve: {c['proxy_curve']}\n        gold curve:  {c['gold_curve']}", flush=True)
        if "personas" in r:
            grid = r["personas"]["grid"]
            print("    personas (rows aligned to, columns judged by): " + "; ".join(
                f"{a}: " + ", ".join(f"{j} {v:.3f}" for j, v in row.items()) for a, row in grid.items())
                + f"; wins {r['personas']['wins']}", flush=True)
        print(f"    seed total {time.monotonic() - t0:.0f} s", flush=True)
    n = len(results)
    above = sum(r["main"]["ci_low"] > 0 for r in results.values())
    gains = [r["main"]["gain"] for r in results.values()]
    times = [sum(v for k, v in r["seconds"].items() if k in ("newsroom", "sft", "reward", "grpo", "compare")) for r in results.values()]
    print(f"\nmain: gain CI above zero on {above}/{n} seeds (target >= 4 of 5); gain mean {np.mean(gains):+.3f}, "
          f"min {min(gains):+.3f}, max {max(gains):+.3f}; lesson seconds mean {np.mean(times):.0f}, max {max(times):.0f} (target < 180)")
    if "hacking" in args.parts:
        hacked = sum(r["hacking"]["beta 0"]["hacked"] for r in results.values())
        held = sum(next(c for k, c in r["hacking"].items() if k != "beta 0")["held"] for r in results.values())
        print(f"hacking: beta 0 hacked on {hacked}/{n}; sensible beta held on {held}/{n} (targets >= 4 of 5 each)")
    if "personas" in args.parts:
        wins = sum(all(r["personas"]["wins"].values()) for r in results.values())
        print(f"personas: each policy wins under its own editor on {wins}/{n} seeds")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
