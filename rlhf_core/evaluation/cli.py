"""`python -m rlhf_core evaluate ...`: the Evaluate page's evaluation, one JSON line per policy, and the report.

    evaluate --policy SPEC [--policy SPEC ...] --data PATH [--reward DIR] [--persona NAME] [--baseline SPEC]
             [--n N] [--temperature T] [--articles A] [--seed S] [--curve RUN] [--out DIR]
        prints one JSON object per policy (policy, rouge1, rouge2, rougeL, reward_mean, gold_mean, kl,
        length_mean, win_rate_<judge>[_low|_high], ...), then {"summary": {...}}, and writes
        results.json, headlines.csv and report.html into --out (default: a new runs/eval-... folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlhf_core.errors import StudioError


def add_commands(groups) -> None:
    """Register the `evaluate` command on the top-level subparsers."""
    from rlhf_core.evaluation.config import EvalConfig
    from rlhf_core.bounds import field_help

    ev = groups.add_parser("evaluate", help="evaluate policies on held-out articles: metrics, win rates, report")
    ev.add_argument("--policy", action="append", required=True,
                    help="a policy to evaluate (repeat the flag): tiny, smollm2, a run id, 'run: <id>' or a checkpoint folder")
    ev.add_argument("--data", required=True, help="held-out articles: a data file (its test split when it has a split column)")
    ev.add_argument("--reward", help="reward-model folder: proxy scores, their win rate and the best-of-n curve")
    ev.add_argument("--persona", help="gold persona of synthetic data (wire_editor, tabloid_editor, neutral_reader)")
    ev.add_argument("--baseline", help="the policy the others are compared with (default: the first run's starting point)")
    ev.add_argument("--curve", help="a policy run whose checkpoints draw the over-optimisation curve")
    ev.add_argument("--out", help="report folder (default: a new eval-... folder under the runs folder)")
    ev.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    for name, flag in (("n", "--n"), ("temperature", "--temperature"), ("articles", "--articles"), ("seed", "--seed"),
                       ("top_p", "--top-p"), ("max_new_tokens", "--max-new-tokens"), ("kl_samples", "--kl-samples"),
                       ("bootstrap", "--bootstrap"), ("curve_articles", "--curve-articles"), ("bon_max_n", "--bon-max-n")):
        default = EvalConfig.__dataclass_fields__[name].default
        ev.add_argument(flag, dest=name, type=type(default), default=default,
                        help=f"{field_help(EvalConfig, name)} (default {default})")
    ev.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from rlhf_core import paths
    from rlhf_core.cli import emit
    from rlhf_core.data.loaders import load_file
    from rlhf_core.evaluation.config import EvalConfig
    from rlhf_core.evaluation.run import held_out_articles, run_evaluation
    from rlhf_core.policy.run import with_split

    cfg = EvalConfig(**{name: getattr(args, name) for name in EvalConfig.__dataclass_fields__ if hasattr(args, name)})
    if args.persona:
        from rlhf_core.data.personas import get_persona

        get_persona(args.persona)  # an unknown name fails before any model loads
    if args.reward and not Path(args.reward).is_dir():
        raise StudioError(f"--reward: '{args.reward}' is not a reward-model folder.")
    loaded = load_file(args.data)
    table = held_out_articles(with_split(loaded.frame, Path(args.data)), loaded.kind, cfg.articles)
    out = Path(args.out) if args.out else paths.runs_dir() / paths.new_run_id("eval")
    results = run_evaluation(cfg, args.policy, table, reward=args.reward, persona=args.persona, baseline=args.baseline,
                             curve_run=args.curve, data={"path": str(args.data), "kind": loaded.kind}, out_dir=out,
                             device=args.device)
    for record in results["policies"]:
        emit(record)
    curve = results["curve"]
    emit({"summary": {"out": str(out), "report": str(out / "report.html"), "baseline": results["baseline"],
                      "articles": results["data"]["articles"], "fingerprint": results["data"]["fingerprint"],
                      "leaderboard": results["leaderboard"], "notes": results["notes"], "seconds": results["seconds"],
                      "curve_fits": None if curve is None else {"rl": curve["rl_fit"], "bon": curve["bon_fit"]}}})
    return 0
