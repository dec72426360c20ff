"""`python -m rlhf_core policy train ...`: the same trainers the Policy page runs, one JSON line per step.

    policy train --algo sft|ppo|grpo|dpo --policy smollm2|tiny|tiny-init|DIR [--reward DIR] --data PATH
                 --out DIR --steps N [--beta B] [--lr LR] [--seed S] [--save-every K] [--resume DIR]
        prints one JSON object per step (keys as in rlhf_core.metrics.GLOSSARY; probe headlines
        under `samples`), then {"summary": {...}} with the final checkpoint's folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from rlhf_core.errors import ConfigError


def add_commands(groups) -> None:
    """Register the `policy` group on the top-level subparsers."""
    policy = groups.add_parser("policy", help="train a policy (SFT, PPO, GRPO, DPO)")
    commands = policy.add_subparsers(dest="command", required=True, parser_class=type(policy))
    train = commands.add_parser("train", help="train a policy and print one JSON line of metrics per step")
    train.add_argument("--algo", required=True, choices=["sft", "ppo", "grpo", "dpo"], help="training algorithm")
    train.add_argument("--policy", required=True, help="smollm2, tiny, tiny-init, a folder or a hub id")
    train.add_argument("--reward", default=None, help="reward-model folder (required for ppo and grpo)")
    train.add_argument("--data", required=True, help="data file: demonstrations/ratings (sft), articles (ppo/grpo), preferences (dpo)")
    train.add_argument("--out", required=True, help="run folder for checkpoint-N/ and final/")
    train.add_argument("--steps", type=int, required=True, help="optimiser steps")
    train.add_argument("--beta", type=float, default=None, help="KL coefficient (ppo, grpo) or DPO beta; default: the paper's")
    train.add_argument("--lr", type=float, default=None, help="learning rate; default: the config's")
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument("--save-every", type=int, default=0, help="checkpoint every K steps (0 = only final/)")
    train.add_argument("--sample-every", type=int, default=10, help="probe headlines every K steps (0 = never)")
    train.add_argument("--max-new-tokens", type=int, default=None, help="headline length limit (ppo, grpo)")
    train.add_argument("--resume", default="", help="a checkpoint folder to continue from")
    train.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    train.set_defaults(handler=_train)


def build_config(args: argparse.Namespace):
    """The algorithm's config from the command-line flags (unset flags keep the paper defaults)."""
    from rlhf_core.policy.config import CONFIGS, GenerationConfig

    cls = CONFIGS[args.algo]
    values = {"steps": args.steps, "seed": args.seed, "save_every": args.save_every,
              "sample_every": args.sample_every, "resume_from": args.resume}
    if args.lr is not None:
        values["lr"] = args.lr
    if args.beta is not None:
        if "beta" not in {f.name for f in dataclasses.fields(cls)}:
            raise ConfigError(f"--beta does not apply to {args.algo} (it has no KL coefficient).")
        values["beta"] = args.beta
    if args.max_new_tokens is not None and "generation" in {f.name for f in dataclasses.fields(cls)}:
        values["generation"] = GenerationConfig(max_new_tokens=args.max_new_tokens)
    return cls(**values)


def _train(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.policy.train import train_policy

    if args.algo in ("ppo", "grpo") and not args.reward:
        raise ConfigError(f"{args.algo} needs a reward model: pass --reward DIR (train one with `reward train`).")
    cfg = build_config(args)
    start, last = time.monotonic(), {}
    for metrics in train_policy(args.algo, cfg, args.policy, args.reward, args.data, args.out, device=args.device):
        emit(metrics)
        last = metrics
    final = {k: v for k, v in last.items() if k != "samples"}
    emit({"summary": {**final, "algo": args.algo, "policy": args.policy, "final": str(Path(args.out) / "final"),
                      "seconds": round(time.monotonic() - start, 2)}})
    return 0
