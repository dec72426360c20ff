"""`python -m rlhf_core export ...` / `import ...`: hand data and a config to other trainers, and take
their results back.

    export trl --algo sft|reward|dpo|grpo|... [--data PATH ...] [--from-store] --model ID --out DIR
               [--config CONFIG.json] [--reward-model DIR_OR_ID] [--prompt-style chat|plain]
        writes a TRL + accelerate bundle (train.jsonl, train.py, accelerate_config.yaml,
        requirements.txt, README.md, studio_config.json) and prints {"files": {...}, ...} as JSON.
    import trl OUTPUT_DIR [--algo ALGO] [--name NAME]
        turns a finished bundle run (its output/ folder) into a studio run: metrics under the studio's
        names, the model as a policy or reward model; prints {"run_id": ..., ...} as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlhf_core.errors import StudioError


def add_commands(groups) -> None:
    """Register the `export` and `import` groups on the top-level subparsers."""
    from rlhf_core.export import ALGOS  # light: the module imports nothing heavy at load time

    export = groups.add_parser("export", help="export data + settings for distributed trainers")
    commands = export.add_subparsers(dest="command", required=True, parser_class=type(export))

    trl = commands.add_parser("trl", help="write a bundle that TRL + accelerate train on many GPUs")
    trl.add_argument("--algo", required=True, choices=ALGOS, help="what to train")
    trl.add_argument("--data", nargs="*", default=[], metavar="PATH",
                     help="data files (ratings, preferences, demonstrations or articles; kind detected)")
    trl.add_argument("--from-store", action="store_true",
                     help="add the ratings collected on the Rate page (stars, and A/B votes as preferences)")
    trl.add_argument("--model", required=True, help="the model TRL starts from on the cluster (hub id or path there)")
    trl.add_argument("--out", required=True, help="bundle folder")
    trl.add_argument("--config", help="a JSON file with our config's fields (e.g. a run's config.json); default: defaults")
    trl.add_argument("--reward-model", default="", help="algorithms that sample (grpo, ...): reward model folder (copied into the bundle) or hub id")
    trl.add_argument("--prompt-style", choices=["chat", "plain"],
                     help="policy prompt format (default: chat for instruct/chat model ids, else plain)")
    trl.set_defaults(handler=_trl)

    back = groups.add_parser("import", help="bring results trained elsewhere back as studio runs")
    commands = back.add_subparsers(dest="command", required=True, parser_class=type(back))
    run = commands.add_parser("trl", help="a finished TRL bundle run (its output folder) becomes a studio run")
    run.add_argument("output", help="the bundle run's output folder (or the bundle folder around it)")
    run.add_argument("--algo", choices=ALGOS,
                     help="the bundle kind, if the folder does not say (train.py records it in output/processes/)")
    run.add_argument("--name", default="", help="a label for the run list")
    run.set_defaults(handler=_import_trl)


def _trl(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.data.loaders import load_file
    from rlhf_core.export import config_from_dict, export_trl_bundle

    if not args.data and not args.from_store:
        raise StudioError("give --data PATH ... and/or --from-store: there is nothing to export")
    config = None
    if args.config:
        try:
            saved = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StudioError(f"cannot read the config {args.config}: {exc}") from None
        if not isinstance(saved, dict):
            raise StudioError(f"{args.config} must hold a JSON object of config fields")
        config = config_from_dict(args.algo, saved["config"] if isinstance(saved.get("config"), dict) else saved)
    datasets = [load_file(path) for path in args.data]
    manifest = export_trl_bundle(args.out, args.algo, datasets, config, args.model, include_store=args.from_store,
                                 reward_model=args.reward_model, prompt_style=args.prompt_style)
    emit(manifest)
    return 0


def _import_trl(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.trl_import import import_trl_run

    emit(import_trl_run(args.output, algo=args.algo, name=args.name))
    return 0
