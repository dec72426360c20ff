"""`python -m rlhf_core lesson run --out DIR [--seed S] [--hacking] [--personas]`: the class lesson, headless.

Runs the same stages as the Lesson page, one after the other, with DIR as the data directory (its
datasets and runs open in the app with RLHF_STUDIO_HOME=DIR), and prints one JSON object per stage:
`stage`, `seconds`, and for policy stages `gold_before`, `gold_after`, `reward_before`,
`reward_after` (held-out greedy headlines) and `kl` (sampled KL to the stage's start, nats per headline).
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def add_commands(groups) -> None:
    lesson = groups.add_parser("lesson", help="the class lesson (SFT -> reward model -> GRPO -> before/after), headless")
    commands = lesson.add_subparsers(dest="command", required=True, parser_class=type(lesson))
    run = commands.add_parser("run", help="run the lesson and print one JSON object per stage")
    run.add_argument("--out", required=True, help="data directory for the lesson's datasets and runs")
    run.add_argument("--seed", type=int, default=0, help="seed of every stage (the same seed repeats the lesson)")
    run.add_argument("--hacking", action="store_true", help="also run the reward-hacking part (beta = 0 next to a sensible beta)")
    run.add_argument("--personas", action="store_true", help="also run the 'whose values?' part (two editors, a 2x2 table)")
    run.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                     help="change one lesson setting, e.g. --set grpo_steps=60 (fields: rlhf_core/lesson/config.py)")
    run.set_defaults(handler=_run)


def _run(args) -> int:
    os.environ["RLHF_STUDIO_HOME"] = str(Path(args.out).expanduser().resolve())
    from rlhf_core.cli import emit
    from rlhf_core.jobs import JobRunner
    from rlhf_core.lesson import plan
    from rlhf_core.lesson.config import LessonConfig
    from rlhf_core.lesson.report import stage_report

    cfg = LessonConfig(seed=args.seed, **parse_settings(args.set))
    runner = JobRunner()
    state = plan.load_state()
    if state is None or plan.config_of(state) != cfg:
        state = plan.start(cfg)
    parts = ["main"] + [part for part in ("hacking", "personas") if getattr(args, part)]  # done stages are skipped
    started = time.monotonic()

    def report(stage, seconds: float) -> None:
        emit({"stage": stage.key, "title": stage.title, "seconds": round(seconds, 1), **stage_report(runner, state, stage.key)})

    for part in parts:
        plan.run_part(runner, state, part, on_stage=report)
    emit({"stage": "done", "seconds": round(time.monotonic() - started, 1), "out": os.environ["RLHF_STUDIO_HOME"]})
    return 0


def parse_settings(items: list[str]) -> dict:
    """['grpo_steps=60', 'persona=tabloid_editor'] -> {'grpo_steps': 60, 'persona': 'tabloid_editor'}, typed by LessonConfig."""
    from dataclasses import fields

    from rlhf_core.errors import ConfigError
    from rlhf_core.lesson.config import LessonConfig

    types = {f.name: type(f.default) for f in fields(LessonConfig)}
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in types or name == "seed":
            raise ConfigError(f"--set takes FIELD=VALUE with FIELD one of {', '.join(n for n in types if n != 'seed')} (got '{item}').")
        try:
            values[name] = types[name](text.strip())
        except ValueError:
            raise ConfigError(f"--set {name} needs a {types[name].__name__} (got '{text}').") from None
    return values
