"""The whole Compare grid (generation + gold score + ROUGE + diversity), after the model is loaded.

bench/bench_generate.py times generation alone; this adds what the Compare page does around it,
so the page's wait is known: 4 temperatures x 2 samples, gold persona score, ROUGE vs the reference,
diversity table. Targets (issue 5, 2 CPU cores): smollm2 < 6 s, tiny < 0.5 s.

    python bench/bench_compare.py [--policies tiny-init,smollm2] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
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
REFERENCE = "Springfield council approves $42 million for road repairs"
TARGETS = {"smollm2": 6.0, "tiny": 0.5, "tiny-init": 0.5}


def bench(spec: str, repeats: int) -> dict:
    from rlhf_core import compare
    from rlhf_core.errors import ModelLoadError
    from rlhf_core.models.registry import load_policy

    start = time.perf_counter()
    try:
        bundle = load_policy(spec)
    except ModelLoadError as exc:
        return {"policy": spec, "error": str(exc)}
    load_s = time.perf_counter() - start
    timings, grid = [], None
    for _ in range(repeats + 1):
        start = time.perf_counter()
        grid = compare.compare_grid([(spec, bundle)], ARTICLE, compare.DEFAULT_TEMPERATURES, n=2, seed=0,
                                    persona="wire_editor", reference=REFERENCE)
        diversity = compare.diversity_by_temperature(grid)
        timings.append(time.perf_counter() - start)
    warm = timings[1:] or timings
    median = statistics.median(warm)
    return {
        "policy": spec, "load_s": round(load_s, 2), "first_s": round(timings[0], 3),
        "median_s": round(median, 3), "best_s": round(min(warm), 3), "target_s": TARGETS.get(spec),
        "meets_target": median < TARGETS[spec] if spec in TARGETS else None,
        "gold_by_temperature": dict(zip(diversity["temperature"].astype(str), diversity["gold_mean"].round(3))),
        "distinct2_by_temperature": dict(zip(diversity["temperature"].astype(str), diversity["distinct_2"].round(3))),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", default="tiny-init,smollm2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    print(json.dumps({"torch_threads": torch.get_num_threads(), "load_average": os.getloadavg()}))
    for spec in [s.strip() for s in args.policies.split(",") if s.strip()]:
        print(json.dumps(bench(spec, args.repeats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
