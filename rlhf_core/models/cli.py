"""`python -m rlhf_core generate ...`: headlines for one article at several temperatures, as JSON.

    python -m rlhf_core generate --policy smollm2 --article "The council voted..." \\
        --temperatures 0.3,0.7,1.0,1.3 --n 2 --seed 0 [--reward runs/<id>]

prints {"policy", "article", "seconds", "results": [{"headline", "temperature", "sample", "n_tokens", "reward"?}]}.
"""

from __future__ import annotations

from pathlib import Path

from rlhf_core.errors import StudioError


def add_commands(groups) -> None:
    """Register the `generate` command on the top-level subparsers."""
    generate = groups.add_parser("generate", help="generate headlines for an article at several temperatures")
    generate.add_argument("--policy", default="tiny", help="tiny, tiny-init, smollm2, a model folder or a hub id")
    source = generate.add_mutually_exclusive_group(required=True)
    source.add_argument("--article", help="the article text")
    source.add_argument("--article-file", help="a UTF-8 text file holding the article")
    generate.add_argument("--temperatures", default="0.3,0.7,1.0,1.3",
                          help="comma-separated sampling temperatures; 0 = greedy (default 0.3,0.7,1.0,1.3)")
    generate.add_argument("--n", type=int, default=2, help="samples per temperature (default 2)")
    generate.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same headlines")
    generate.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass, 1.0 = off (Holtzman 2020)")
    generate.add_argument("--max-new-tokens", type=int, default=24, help="longest headline in tokens (default 24)")
    generate.add_argument("--reward", help="a trained reward model folder: adds each headline's reward in (0, 1)")
    generate.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    generate.set_defaults(handler=_generate)

    models = groups.add_parser("models", help="offline model presets")
    commands = models.add_subparsers(dest="command", required=True, parser_class=type(models))
    prepare = commands.add_parser("prepare", help="build the tiny preset and convert SmolLM2 once (cached)")
    prepare.add_argument("--only", choices=["tiny", "smollm2"], help="prepare one preset (default: both)")
    prepare.set_defaults(handler=_prepare)
    build = commands.add_parser("build-tiny", help="rebuild the shipped tiny preset from its recipe (~7 min on 2 cores)")
    build.add_argument("--out", default=None, help="folder to write (default: the shipped rlhf_core/models/assets/tiny-sft)")
    build.set_defaults(handler=_build_tiny)


def _prepare(args) -> int:
    """Print one JSON line per preparation step, then the summary {preset: ready}."""
    from rlhf_core.cli import emit
    from rlhf_core.models.prepare import PREPARABLE, prepare_models

    for metrics in prepare_models((args.only,) if args.only else PREPARABLE):
        emit(metrics)
    return 0


def _build_tiny(args) -> int:
    """Pre-train the tiny preset (progress on stderr), measure its held-out gold, print a JSON summary."""
    import time

    from rlhf_core import paths
    from rlhf_core.cli import emit
    from rlhf_core.models.registry import build_tiny
    from rlhf_core.models.tiny import SHIPPED_DIR
    from rlhf_core.policy.run import META_FILE
    from rlhf_core.progress import StepReporter

    target = Path(args.out).expanduser() if args.out else SHIPPED_DIR
    started = time.monotonic()
    build_tiny(target, on_step=StepReporter("tiny preset"), rebuild=True)
    gold = held_out_gold(str(target))
    meta = paths.read_json(target / META_FILE, default={}) or {}
    paths.atomic_write_json(target / META_FILE, {**meta, "held_out_gold": gold, "held_out": "sample_data test split, "
                                                 "greedy headline, wire_editor gold"})
    emit({"out": str(target), "seconds": round(time.monotonic() - started, 1), "held_out_gold": gold})
    return 0


def held_out_gold(policy: str) -> float:
    """Mean wire_editor gold of the policy's greedy headlines on the sample data's 80 held-out articles."""
    import numpy as np

    from rlhf_core.policy.scoring import greedy_scores, sample_test_articles

    return round(float(np.mean(greedy_scores(policy, sample_test_articles())["gold"]["wire_editor"])), 4)


def parse_temperatures(text: str) -> list[float]:
    """'0.3, 0.7,1' -> [0.3, 0.7, 1.0]; a plain-English StudioError for anything else."""
    try:
        values = [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise StudioError(f"--temperatures must be comma-separated numbers such as 0.3,0.7,1.0 (got '{text}').") from None
    if not values:
        raise StudioError("--temperatures needs at least one value.")
    if any(v < 0 or v > 5 or v != v for v in values):
        raise StudioError("Temperatures must be between 0 (greedy) and 5.")
    return values


def _read_article(args) -> str:
    if args.article_file:
        path = Path(args.article_file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise StudioError(f"Article file '{path}' does not exist.") from None
        except UnicodeDecodeError:
            raise StudioError(f"Article file '{path}' is not UTF-8 text.") from None
    else:
        text = args.article
    text = " ".join(str(text or "").split())
    if not text:
        raise StudioError("The article is empty.")
    return text


def _generate(args) -> int:
    from rlhf_core.cli import emit
    from rlhf_core.models.generation import generate_grid
    from rlhf_core.models.registry import load_policy

    temperatures = parse_temperatures(args.temperatures)
    if args.n < 1 or args.n > 64:
        raise StudioError("--n must be between 1 and 64.")
    if not 0.0 < args.top_p <= 1.0:
        raise StudioError("--top-p must be in (0, 1].")
    if not 1 <= args.max_new_tokens <= 256:
        raise StudioError("--max-new-tokens must be between 1 and 256.")
    article = _read_article(args)
    scorer = None
    if args.reward:  # load the reward model first: a bad folder fails before the slow generation
        from rlhf_core.reward.scorer import load_scorer

        scorer = load_scorer(args.reward)
    bundle = load_policy(args.policy, device=args.device)
    rows = generate_grid(bundle, article, temperatures, n=args.n, seed=args.seed, top_p=args.top_p,
                         max_new_tokens=args.max_new_tokens)
    results = [
        {"headline": r["headline"], "temperature": r["temperature"], "sample": r["sample"], "n_tokens": r["n_tokens"]}
        for r in rows
    ]
    if scorer is not None:
        rewards = scorer.score([article] * len(results), [r["headline"] for r in results])
        for result, reward in zip(results, rewards):
            result["reward"] = round(float(reward), 6)
    emit({
        "policy": args.policy,
        "article": article,
        "seed": args.seed,
        "seconds": round(sum(r["seconds"] for r in rows), 3),
        "results": results,
    })
    return 0
