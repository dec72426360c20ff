"""`python -m rlhf_core reward train|eval`: the same code the Reward model page runs.

    python -m rlhf_core reward train --data sample_data/train_ratings.csv sample_data/train_preferences.jsonl \
        --backbone minilm --objective both --out runs/rm1 [--epochs 1] [--max-steps N] [--quick] [--no-fact-checks] [--seed 0]
    python -m rlhf_core reward eval --model runs/rm1 --data sample_data/test_ratings.csv

`train` prints one JSON line per logging step and a final JSON summary; `eval` prints one JSON object.
"""

from __future__ import annotations

import argparse

from rlhf_core.cli import emit


def add_commands(groups) -> None:
    parser = groups.add_parser("reward", help="train or evaluate a reward model")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=type(parser))

    train = commands.add_parser("train", help="train a reward model on ratings and/or preferences")
    train.add_argument("--data", nargs="+", required=True, metavar="PATH", help="ratings / preferences files (CSV, JSONL, TSV)")
    train.add_argument("--backbone", default="minilm", help="minilm | tiny | a folder | a hub id")
    train.add_argument("--objective", default="both", choices=["pointwise", "pairwise", "both"])
    train.add_argument("--out", required=True, metavar="DIR", help="run folder; the checkpoint goes to DIR/model")
    train.add_argument("--epochs", type=float, default=None)
    train.add_argument("--max-steps", type=int, default=None)
    train.add_argument("--lr", type=float, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--max-length", type=int, default=None)
    train.add_argument("--quick", action="store_true", help="frozen encoder + linear head (seconds)")
    train.add_argument("--fact-checks", action=argparse.BooleanOptionalAction, default=None,
                       help="full fine-tuning: the model reads the headline's fact checks after it (default: on)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--device", default=None)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("eval", help="evaluate a reward model on rated data and/or preferences")
    evaluate.add_argument("--model", required=True, metavar="DIR", help="checkpoint folder (or the run folder holding model/)")
    evaluate.add_argument("--data", nargs="+", required=True, metavar="PATH")
    evaluate.add_argument("--persona", default=None, help="gold persona for synthetic data (e.g. wire_editor)")
    evaluate.set_defaults(handler=_eval)


def _config(args: argparse.Namespace):
    from rlhf_core.reward.config import RewardConfig

    names = {"epochs": "epochs", "max_steps": "max_steps", "lr": "lr", "batch_size": "batch_size",
             "max_length": "max_length", "seed": "seed", "device": "device", "fact_checks": "fact_checks"}
    overrides = {field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg) is not None}
    return RewardConfig(backbone=args.backbone, objective=args.objective, quick=args.quick, **overrides)


def _train(args: argparse.Namespace) -> int:
    from rlhf_core.reward.data import load_training_files
    from rlhf_core.reward.train import train_reward

    cfg = _config(args)
    ratings, preferences, info = load_training_files(args.data)
    for warning in info["warnings"]:
        emit({"warning": warning})
    summary = None
    for row in train_reward(cfg, ratings, preferences, args.out, score_scale=info["scale"]):
        summary = row.pop("summary", None)
        emit(row)
    emit({"summary": summary})
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rlhf_core.reward.data import load_training_files
    from rlhf_core.reward.evaluate import evaluate_reward, scalar_metrics
    from rlhf_core.reward.scorer import load_scorer

    scorer = load_scorer(args.model)
    ratings, preferences, _ = load_training_files(args.data)
    result = scalar_metrics(evaluate_reward(scorer, ratings, preferences, persona=args.persona))
    emit(result)
    return 0
