"""Command line: `python -m rlhf_core <group> <command> ...`, the same code the pages call.

Each group lives next to its code and registers itself with `add_commands(subparsers)`:
  data    (rlhf_core/data/cli.py):    validate, synth
  reward  (rlhf_core/reward/cli.py):  train, eval
  policy  (rlhf_core/policy/cli.py):  train
  generate (rlhf_core/models/cli.py)
  export  (rlhf_core/export_cli.py): trl (a TRL + accelerate bundle)
  import  (rlhf_core/export_cli.py): trl (a finished bundle run becomes a studio run)
  lesson  (rlhf_core/lesson/cli.py):  run (the class lesson, headless)
  evaluate (rlhf_core/evaluation/cli.py): metrics, win rates, over-optimisation curve, report
A handler returns an exit code. User errors (StudioError, bad arguments) print `error: ...` on
stderr and exit 2; nothing ends in a traceback unless RLHF_STUDIO_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from typing import Any

from rlhf_core.errors import StudioError

COMMAND_MODULES = (
    "rlhf_core.data.cli",
    "rlhf_core.reward.cli",
    "rlhf_core.policy.cli",
    "rlhf_core.models.cli",
    "rlhf_core.export_cli",
    "rlhf_core.lesson.cli",
    "rlhf_core.evaluation.cli",
)


class _ProseHelp(argparse.HelpFormatter):
    """Help texts are prose taken from the configs' field help ("95% intervals"), never %(default)s formats."""

    def _expand_help(self, action) -> str:
        return self._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so bad arguments read like every other error."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _ProseHelp)  # every subcommand's parser is a _Parser too
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse's name
        raise StudioError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m rlhf_core", description="RLHF Studio command line")
    groups = parser.add_subparsers(dest="group", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module
                raise
            continue
        module.add_commands(groups)
    return parser


def emit(obj: Any) -> None:
    """Print one JSON object on one line (the CLI's only output format) and flush it at once."""
    sys.stdout.write(json.dumps(obj, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    from rlhf_core.progress import show_on_stderr

    show_on_stderr()  # long first-time work (building a preset, converting SmolLM2) reports on stderr
    # ... and transformers' per-load bars ("Loading weights", "Writing model shards") do not bury it
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no per-load reports (a fresh reward head is expected)
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or 0)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for the user; RLHF_STUDIO_DEBUG=1 shows it
        if os.environ.get("RLHF_STUDIO_DEBUG"):
            traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
