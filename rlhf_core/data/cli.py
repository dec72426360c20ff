"""`python -m rlhf_core data ...`: check a data file, generate the synthetic newsroom.

    data validate PATH [--kind K] [--scale LO,HI] [--map OURS=THEIRS ...]
        prints {"kind", "rows", "score_scale", "warnings", "source"} and exits 0;
        a rejected file prints `error: file ..., line ..., column ...: ...` on stderr and exits 2.
    data synth --persona P --articles N --seed S --out DIR [--test-fraction F]
        writes the sample files (byte-for-byte reproducible) and prints {file name: path}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlhf_core.errors import StudioError


def add_commands(groups) -> None:
    """Register the `data` group on the top-level subparsers."""
    from rlhf_core.data.schema import KINDS

    data = groups.add_parser("data", help="validate data files, generate synthetic data")
    commands = data.add_subparsers(dest="command", required=True, parser_class=type(data))

    validate = commands.add_parser("validate", help="check a data file and print what it holds as JSON")
    validate.add_argument("path", help="a .txt (text<TAB>score), .csv, .tsv, .jsonl or .json file")
    validate.add_argument("--kind", choices=KINDS,
                          help="what the file holds (default: detected from its columns)")
    validate.add_argument("--scale", help="the raw score range, e.g. 1,5 (default: detect 1-5, 0-1 or 0-10)")
    validate.add_argument("--map", action="append", default=[], metavar="OURS=THEIRS",
                          help="take one of our columns from a differently named file column, e.g. headline=Title")
    validate.set_defaults(handler=_validate)

    synth = commands.add_parser("synth", help="generate the synthetic newsroom (ratings, preferences, demos, articles)")
    synth.add_argument("--persona", default="wire_editor", help="gold persona: wire_editor, tabloid_editor, neutral_reader")
    synth.add_argument("--articles", type=int, default=200, help="number of articles to generate")
    synth.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--test-fraction", type=float, default=0.2, help="share of articles held out for the test files")
    synth.add_argument("--exclude-styles", nargs="+", default=[], metavar="STYLE",
                       help="leave these headline styles out of the ratings and pairs (e.g. truncated repetitive): "
                            "a reward-model blind spot for the reward-hacking demo")
    synth.set_defaults(handler=_synth)

    prompts = commands.add_parser("prompts", help="generate unrated synthetic articles: prompts for PPO / GRPO / best-of-n")
    prompts.add_argument("--articles", type=int, default=2400, help="number of articles")
    prompts.add_argument("--seed", type=int, default=8, help="random seed (same seed, same bytes)")
    prompts.add_argument("--out", required=True, help="output .csv file (article_id,article,reference,topic)")
    prompts.set_defaults(handler=_prompts)


def _parse_mapping(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        ours, sep, theirs = item.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise StudioError(f"--map takes OURS=THEIRS (e.g. headline=Title), got '{item}'")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def _validate(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.data.loaders import load_file, parse_scale

    scale = parse_scale(args.scale) if args.scale else None
    loaded = load_file(args.path, kind=args.kind, mapping=_parse_mapping(args.map), scale=scale)
    emit(loaded.summary())
    return 0


def _synth(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit

    if args.articles < 1:
        raise StudioError(f"--articles must be at least 1, got {args.articles}")
    if not 0.0 <= args.test_fraction < 1.0:
        raise StudioError(f"--test-fraction must be in [0, 1), got {args.test_fraction}")
    try:
        from rlhf_core.data.synth import write_dataset
    except ImportError as exc:
        raise StudioError(f"the synthetic newsroom is not available ({exc})") from None
    try:
        written = write_dataset(Path(args.out), persona=args.persona, n_articles=args.articles, seed=args.seed,
                                test_fraction=args.test_fraction, exclude_styles=tuple(args.exclude_styles))
    except KeyError as exc:  # an unknown persona name
        raise StudioError(f"unknown persona {exc}") from None
    except ValueError as exc:  # an unknown style name
        raise StudioError(str(exc)) from None
    emit({name: str(path) for name, path in written.items()})
    return 0


def _prompts(args: argparse.Namespace) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.data.synth import write_prompts

    if args.articles < 1:
        raise StudioError(f"--articles must be at least 1, got {args.articles}")
    emit({"prompts": write_prompts(Path(args.out), args.articles, args.seed), "articles": args.articles})
    return 0
