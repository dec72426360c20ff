"""Speed of the Compare grid: 4 temperatures x 2 samples for one article, after the model is loaded.

Targets (issue 5, 2 CPU cores): smollm2 < 6 s, tiny < 0.5 s.

    python bench/bench_generate.py [--policies smollm2,tiny] [--repeats 3] [--threads 2]

Prints one JSON line per policy: load seconds, first grid (includes one-off warm-up such as
scanning the vocabulary for newline tokens), then median / best of the following grids.
`tiny` falls back to `tiny-init` (same architecture, same speed) when the SFT builder is missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ARTICLE = (
    "The Springfield city council voted 7 to 2 on Tuesday to approve a $42 million budget for road repairs, "
    "officials said. Work on the first 30 miles of road will begin in March and last two years, according to "
    "Mayor Jane Ortiz, who called the vote a turning point for the city's ageing streets."
)
TEMPERATURES = [0.3, 0.7, 1.0, 1.3]
TARGETS = {"smollm2": 6.0, "tiny": 0.5, "tiny-init": 0.5}


def bench(spec: str, repeats: int, max_new_tokens: int) -> dict:
    from rlhf_core.errors import ModelLoadError
    from rlhf_core.models.generation import generate_grid
    from rlhf_core.models.registry import load_policy

    used = spec
    start = time.perf_counter()
    try:
        bundle = load_policy(spec)
    except ModelLoadError as exc:
        if spec != "tiny":
            return {"policy": spec, "error": str(exc)}
        used, bundle = "tiny-init", load_policy("tiny-init")
    load_s = time.perf_counter() - start
    timings, rows = [], []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        rows = generate_grid(bundle, ARTICLE, TEMPERATURES, n=2, seed=0, max_new_tokens=max_new_tokens)
        timings.append(time.perf_counter() - start)
    warm = timings[1:] or timings
    target = TARGETS.get(spec)
    return {
        "policy": spec,
        "loaded": used,
        "grid": f"{len(TEMPERATURES)} temperatures x 2 samples, max_new_tokens={max_new_tokens}",
        "load_s": round(load_s, 2),
        "first_grid_s": round(timings[0], 3),
        "median_grid_s": round(statistics.median(warm), 3),
        "best_grid_s": round(min(warm), 3),
        "target_s": target,
        "meets_target": (statistics.median(warm) < target) if target else None,
        "new_tokens": sum(r["n_tokens"] for r in rows),
        "example": {str(r["temperature"]): r["headline"] for r in rows if r["sample"] == 0},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", default="smollm2,tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target assumes 2 cores)")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    args = parser.parse_args()

    import os

    import torch

    torch.set_num_threads(args.threads)
    print(json.dumps({"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                      "load_average": os.getloadavg()}))
    for spec in [s.strip() for s in args.policies.split(",") if s.strip()]:
        print(json.dumps(bench(spec, args.repeats, args.max_new_tokens)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
