"""`python -m rlhf_core policy train ...`: the same trainers the Policy page runs, one JSON line per step.

    policy train --algo ALGO --policy smollm2|tiny|tiny-init|DIR [--reward DIR] --data PATH
                 --out DIR [--steps N] [--beta B] [--lr LR] [--seed S] [--save-every K] [--resume DIR]
                 [--temperature T] [--max-new-tokens N] [--paper-defaults] [--set FIELD=VALUE ...]
        ALGO is any trainable algorithm of rlhf_core.policy.algorithms (sft, ppo, grpo, dpo, ...); prints
        one JSON object per step (keys as in rlhf_core.metrics.glossary(); probe headlines under `samples`),
        then {"summary": {...}} with the final checkpoint's folder and the mean proxy / gold reward of the
        first and last ten steps (did it learn?).
Unset flags take the settings that learn on the chosen preset (the algorithm's `presets`: e.g. lr 2e-4
for GRPO on `tiny`); `--paper-defaults` takes the papers' values instead (lr 1e-5, made for big models).
`--set` reaches any other field of the algorithm's config (e.g. --set group_size=8 --set loss_type=dr_grpo).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from rlhf_core.errors import ConfigError


def add_commands(groups) -> None:
    """Register the `policy` group on the top-level subparsers."""
    from rlhf_core.policy.algorithms import ALGORITHMS, TRAINABLE

    policy = groups.add_parser("policy", help=f"train a policy ({', '.join(ALGORITHMS[a].title for a in TRAINABLE)})")
    commands = policy.add_subparsers(dest="command", required=True, parser_class=type(policy))
    train = commands.add_parser("train", help="train a policy and print one JSON line of metrics per step")
    train.add_argument("--algo", required=True, choices=TRAINABLE, help="training algorithm")
    train.add_argument("--policy", required=True, help="smollm2, tiny, tiny-init, a folder or a hub id")
    train.add_argument("--reward", default=None, help="reward-model folder (required for " +
                       ", ".join(a for a in TRAINABLE if ALGORITHMS[a].needs_reward_model) + ")")
    train.add_argument("--data", required=True, help="; ".join(f"{a}: {', '.join(ALGORITHMS[a].data_kinds)}" for a in TRAINABLE))
    train.add_argument("--out", required=True, help="run folder for checkpoint-N/ and final/")
    train.add_argument("--steps", type=int, default=None, help="optimiser steps; default: the preset's (e.g. 150 for GRPO on tiny)")
    train.add_argument("--beta", type=float, default=None, help="KL coefficient (or the preference losses' beta); default: the paper's")
    train.add_argument("--lr", type=float, default=None, help="learning rate; default: the preset's (papers' with --paper-defaults)")
    train.add_argument("--paper-defaults", action="store_true",
                       help="start from the papers' settings (lr 1e-5 ...) instead of those that learn on the chosen preset")
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument("--save-every", type=int, default=0, help="checkpoint every K steps (0 = only final/)")
    train.add_argument("--sample-every", type=int, default=10, help="probe headlines every K steps (0 = never)")
    train.add_argument("--max-new-tokens", type=int, default=None, help="headline length limit (algorithms that sample)")
    train.add_argument("--temperature", type=float, default=None,
                       help="sampling temperature (algorithms that sample); default: the preset's (e.g. 0.7 for GRPO on tiny)")
    train.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="any other config field, e.g. --set group_size=8 (see the algorithm's config class)")
    train.add_argument("--resume", default="", help="a checkpoint folder to continue from")
    train.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    train.set_defaults(handler=_train)


def build_config(args: argparse.Namespace):
    """The algorithm's config from the command-line flags (unset flags keep the preset's settings)."""
    from rlhf_core.policy.algorithms import get_algorithm, make_config

    config = get_algorithm(args.algo).config
    types = {f.name: f.type for f in dataclasses.fields(config)}
    values = {"seed": args.seed, "save_every": args.save_every, "sample_every": args.sample_every, "resume_from": args.resume}
    for name in ("steps", "lr", "beta"):
        if getattr(args, name) is not None:
            if name not in types:
                raise ConfigError(f"--{name} does not apply to {args.algo} (it has no {name}).")
            values[name] = getattr(args, name)
    sampling = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature}
    sampling = {name: value for name, value in sampling.items() if value is not None}
    if sampling and "generation" not in types:
        raise ConfigError(f"--{next(iter(sampling)).replace('_', '-')} does not apply to {args.algo} (it samples nothing).")
    if sampling:
        values["generation"] = sampling
    for item in getattr(args, "set", []):
        name, sep, text = item.partition("=")
        if not sep or name.strip() not in types or name.strip() == "generation":
            raise ConfigError(f"--set takes FIELD=VALUE with a field of {config.__name__}; got '{item}'.")
        values[name.strip()] = _parse(text.strip(), types[name.strip()])
    return make_config(args.algo, args.policy, paper_defaults=args.paper_defaults, **values)


def _parse(text: str, kind) -> object:
    """A --set value as its field's type ('int', 'float', 'bool' or 'str', as dataclasses spell them)."""
    kind = getattr(kind, "__name__", str(kind))
    try:
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return int(text) if kind == "int" else float(text) if kind == "float" else text
    except ValueError:
        raise ConfigError(f"'{text}' is not a valid {kind}.") from None


def _train(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.policy.algorithms import start_note
    from rlhf_core.policy.train import train_policy

    cfg = build_config(args)
    note = start_note(args.algo, args.policy)
    if note:
        print(f"note: {note}", file=sys.stderr)
    start, rows = time.monotonic(), []
    for metrics in train_policy(args.algo, cfg, args.policy, args.reward, args.data, args.out, device=args.device):
        emit(metrics)
        rows.append({k: v for k, v in metrics.items() if k != "samples"})
    emit({"summary": {**(rows[-1] if rows else {}), **first_and_last(rows), "algo": args.algo, "policy": args.policy,
                      "lr": cfg.lr, "final": str(Path(args.out) / "final"), "seconds": round(time.monotonic() - start, 2)}})
    return 0


def first_and_last(rows: list[dict], k: int = 10) -> dict:
    """Mean proxy and gold reward of the first and the last k steps that logged them: did the run learn?"""
    out = {}
    for key, name in (("reward/mean", "reward"), ("reward/gold_mean", "gold")):
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        if values:
            n = min(k, max(1, len(values) // 2))
            out[f"{name}_first{n}"] = round(sum(values[:n]) / n, 4)
            out[f"{name}_last{n}"] = round(sum(values[-n:]) / n, 4)
    return out
