"""What each lesson stage does: a trainer-shaped generator (one metrics dict per step) per stage.

Every stage writes what it makes where the rest of the studio looks for it: datasets under
`lesson-...` names, policies as `final/` checkpoints, reward models as `model/`. Scores on held-out
articles use the greedy headline (the policy's own best guess) and the hidden gold persona.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rlhf_core import paths
from rlhf_core.lesson.config import DEGENERATE_STYLES, LessonConfig
from rlhf_core.policy.scoring import greedy_scores, paired_gain

PROMPTS_DATASET = "lesson-rl_prompts"
TABLES = ("train_ratings", "train_preferences", "expert_demonstrations", "articles")
RESULT_FILE = "result.json"


# ------------------------------------------------------------------------------------- datasets
def dataset_name(persona: str, table: str, blind: bool = False) -> str:
    """`lesson-wire_editor-train_ratings`; the blind-spot copy is `lesson-blind-wire_editor-...`."""
    return f"lesson-{'blind-' if blind else ''}{persona}-{table}"


def newsroom(cfg: LessonConfig, persona: str, blind: bool = False, with_prompts: bool = True) -> Iterator[dict]:
    """Generate the synthetic newsroom rated by `persona` and save its tables as datasets.

    blind=True leaves the degenerate styles out of the ratings (the hacking part's blind spot).
    """
    from rlhf_core.data.datasets import sample_kind, save_dataset
    from rlhf_core.data.loaders import load_file
    from rlhf_core.data.synth import write_dataset, write_prompts

    tables = TABLES[:2] if blind else TABLES
    total = len(tables) + (1 if with_prompts else 0) + 1
    yield {"step": 0, "total_steps": total}
    saved, rows = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        # 1. articles, candidate headlines, the persona's stars and pairs (deterministic by data_seed)
        files = write_dataset(Path(tmp), persona, cfg.articles, cfg.data_seed,
                              exclude_styles=DEGENERATE_STYLES if blind else ())
        yield {"step": 1, "total_steps": total}
        # 2. each table validated by the same loaders as an upload, then saved
        for step, table in enumerate(tables, start=2):
            name = f"{table}{Path(files[next(f for f in files if f.startswith(table))]).suffix}"
            loaded = load_file(Path(tmp) / name, kind=sample_kind(name))
            saved.append(save_dataset(dataset_name(persona, table, blind), loaded, persona=persona).name)
            rows[table] = len(loaded.frame)
            yield {"step": step, "total_steps": total}
        if with_prompts:
            # 3. unrated RL prompts, shared by every persona
            path = write_prompts(Path(tmp) / "rl_prompts.csv", cfg.prompts, cfg.prompts_seed)
            saved.append(save_dataset(PROMPTS_DATASET, load_file(path, kind="articles")).name)
            rows["rl_prompts"] = cfg.prompts
    stars = _star_counts(saved[0])
    yield {"step": total, "total_steps": total, "summary": {"datasets": saved, "rows": rows, "stars": stars, "persona": persona}}


def _star_counts(ratings_dataset: str) -> dict[str, int]:
    from rlhf_core.data.datasets import load_dataset

    raw = load_dataset(ratings_dataset).frame["score_raw"].round().astype(int)
    return {str(k): int(v) for k, v in raw.value_counts().sort_index().items()}


def table(persona: str, name: str, blind: bool = False):
    """A saved lesson table as a DataFrame."""
    from rlhf_core.data.datasets import load_dataset

    return load_dataset(dataset_name(persona, name, blind)).frame


def held_out_articles(persona: str) -> list[str]:
    """The newsroom's test-split articles, never trained on by any stage: the articles that have no
    expert headline (the newsroom writes those for training articles only)."""
    trained = set(table(persona, "expert_demonstrations")["article"])
    return [a for a in table(persona, "articles")["article"] if a not in trained]


FRESH_SEED_OFFSET = 1000  # fresh evaluation articles: their own seed, apart from the newsroom's and the prompts'


def evaluation_articles(cfg: LessonConfig) -> list[str]:
    """What 'held out' means in the lesson: the newsroom's test fifth, then fresh articles of their own seed."""
    from rlhf_core.data.synth import generate_articles

    fresh = generate_articles(cfg.fresh_articles, cfg.prompts_seed + FRESH_SEED_OFFSET) if cfg.fresh_articles else []
    return held_out_articles(cfg.persona) + [a.text for a in fresh]


def rl_data(persona: str):
    """RL prompts (split train) plus the held-out articles (split test: the probes, never trained on)."""
    import pandas as pd

    from rlhf_core.data.datasets import load_dataset

    prompts = load_dataset(PROMPTS_DATASET).frame
    held = pd.DataFrame({"article": held_out_articles(persona), "split": "test"})
    return pd.concat([prompts.assign(split="train")[["article", "split"]], held], ignore_index=True)


# --------------------------------------------------------------------------------------- training
def sft(cfg: LessonConfig, run_dir: Path) -> Iterator[dict]:
    """SFT of the `tiny` preset on the persona's expert headlines."""
    from rlhf_core.policy.algorithms import make_config
    from rlhf_core.policy.train import train_policy

    demos = table(cfg.persona, "expert_demonstrations")
    probes = held_out_articles(cfg.persona)[: cfg.probe_articles]
    frame = _with_probes(demos, probes)
    sft_cfg = make_config("sft", "tiny", steps=cfg.sft_steps, lr=cfg.sft_lr, seed=cfg.seed, gold_persona=cfg.persona,
                          sample_every=10, probe_articles=cfg.probe_articles)
    yield from train_policy("sft", sft_cfg, "tiny", None, frame, run_dir)


def generalist(cfg: LessonConfig, run_dir: Path) -> Iterator[dict]:
    """SFT of `tiny` on every rated headline, whatever its stars: a writer of every style, the
    shared start of the 'whose values?' part (min_score 0 keeps them all)."""
    from rlhf_core.policy.algorithms import make_config
    from rlhf_core.policy.train import train_policy

    every = table(cfg.persona, "train_ratings")[["article", "headline", "score"]]
    probes = held_out_articles(cfg.persona)[: cfg.probe_articles]
    sft_cfg = make_config("sft", "tiny", steps=cfg.generalist_steps, lr=cfg.generalist_lr, seed=cfg.seed, min_score=0.0,
                          gold_persona=cfg.persona, sample_every=10, probe_articles=cfg.probe_articles)
    yield from train_policy("sft", sft_cfg, "tiny", None, _with_probes(every, probes), run_dir)


def _with_probes(demos, probes: Sequence[str]):
    """Demonstrations (split train) plus probe articles (split test, no headline: never trained on)."""
    import pandas as pd

    held = pd.DataFrame({"article": list(probes), "headline": "", "split": "test"})
    return pd.concat([demos.assign(split="train"), held], ignore_index=True)


def reward_model(cfg: LessonConfig, persona: str, run_dir: Path, blind: bool = False) -> Iterator[dict]:
    """Quick reward model (a linear head on frozen MiniLM embeddings and the reader checks; `tiny` BERT without MiniLM).

    blind=True: trained on the ratings without broken headlines, and without the reader checks for broken text
    (length, repetition, copied 4-grams): nothing in its data or its features tells it that broken text is bad.
    """
    from rlhf_core.models.offline import offline_status
    from rlhf_core.reward.checks import BROKEN_TEXT_CHECKS
    from rlhf_core.reward.config import RewardConfig
    from rlhf_core.reward.train import train_reward

    backbone = "minilm" if offline_status().get("minilm_installed") else "tiny"
    rm_cfg = RewardConfig(backbone=backbone, objective="both", quick=True, seed=cfg.seed,
                          quick_leave_out_checks=", ".join(BROKEN_TEXT_CHECKS) if blind else "")
    yield from train_reward(rm_cfg, table(persona, "train_ratings", blind), table(persona, "train_preferences", blind), run_dir)


def reinforce(cfg: LessonConfig, start: str, reward_dir: str, run_dir: Path, *, steps: int, lr: float, beta: float,
              persona: str, algo: str = "grpo", **settings) -> Iterator[dict]:
    """GRPO (or another sampling algorithm, `algo`) from `start` against `reward_dir`, gold logged under `persona`
    (never trained on); `settings` are that algorithm's other config fields."""
    from rlhf_core.policy.algorithms import make_config
    from rlhf_core.policy.train import train_policy

    rl_cfg = make_config(algo, start, steps=steps, lr=lr, beta=beta, seed=cfg.seed, gold_persona=persona,
                         sample_every=10, probe_articles=cfg.probe_articles,
                         generation={"temperature": cfg.temperature}, **settings)
    yield from train_policy(algo, rl_cfg, start, reward_dir, rl_data(cfg.persona), run_dir)


# ------------------------------------------------------------------------------------ evaluation
def before_after(cfg: LessonConfig, before: str, after: str, reward_dir: str, run_dir: Path) -> Iterator[dict]:
    """Score both policies on every held-out article; the probe articles make the before/after table."""
    articles = evaluation_articles(cfg)
    yield {"step": 0, "total_steps": 2}
    first = greedy_scores(before, articles, reward_dir, [cfg.persona])
    yield {"step": 1, "total_steps": 2}
    second = greedy_scores(after, articles, reward_dir, [cfg.persona])
    gold_b, gold_a = first["gold"][cfg.persona], second["gold"][cfg.persona]
    rows = [{"article": articles[i], "before": first["headlines"][i], "before_gold": gold_b[i], "before_reward": first["reward"][i],
             "after": second["headlines"][i], "after_gold": gold_a[i], "after_reward": second["reward"][i]}
            for i in range(min(cfg.probe_articles, len(articles)))]
    result = {"articles": len(articles), "fresh": cfg.fresh_articles,
              "gold_before": float(np.mean(gold_b)), "gold_after": float(np.mean(gold_a)),
              "reward_before": float(np.mean(first["reward"])), "reward_after": float(np.mean(second["reward"])),
              "gold_gain": paired_gain(gold_a, gold_b), "table": rows}
    paths.atomic_write_json(Path(run_dir) / RESULT_FILE, result)
    yield {"step": 2, "total_steps": 2, "reward/gold_mean": result["gold_after"], "reward/mean": result["reward_after"],
           "summary": {k: v for k, v in result.items() if k != "table"}}


def personas_table(cfg: LessonConfig, policies: dict[str, str], run_dir: Path) -> Iterator[dict]:
    """Each policy (aligned to one persona) scored by every persona's gold on the held-out articles."""
    articles = evaluation_articles(cfg)
    names = list(policies)
    yield {"step": 0, "total_steps": len(names)}
    scores = {}
    for step, (persona, policy) in enumerate(policies.items(), start=1):
        scores[persona] = greedy_scores(policy, articles, None, names)
        yield {"step": step, "total_steps": len(names)}
    grid = {aligned: {judge: float(np.mean(scores[aligned]["gold"][judge])) for judge in names} for aligned in names}
    wins = {p: all(grid[p][p] > grid[q][p] for q in names if q != p) for p in names}
    side_by_side = [{"article": articles[i], **{f"{p}": scores[p]["headlines"][i] for p in names}}
                    for i in range(min(cfg.probe_articles, len(articles)))]
    result = {"personas": names, "grid": grid, "wins": wins, "articles": len(articles), "headlines": side_by_side}
    paths.atomic_write_json(Path(run_dir) / RESULT_FILE, result)
    yield {"step": len(names), "total_steps": len(names), "summary": {"grid": grid, "wins": wins}}
