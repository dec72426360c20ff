"""Starting a policy run from saved datasets, as the Policy page does: the data, the run's record, the job.

`submit_training` reads the chosen dataset (plus the Rate page's feedback where the algorithm takes
it: its A/B votes or star ratings, see `Algorithm.collected`), and submits `train_policy`
to the JobRunner with a config record and a name that says what differs between runs (algorithm,
start policy, beta). `try_best_of_n` is best-of-n's demo on a few articles of a dataset.
"""

from __future__ import annotations

from dataclasses import asdict

from rlhf_core.errors import DataError
from rlhf_core.policy.algorithms import get_algorithm

COLLECTED_KIND = {"votes": "preferences", "ratings": "ratings"}  # Rate-page feedback -> the table kind it becomes


def collected_feedback(store, what: str):
    """The Rate page's feedback as a canonical table: 'votes' -> preferences (majority), 'ratings' -> ratings (mean stars)."""
    from rlhf_core import feedback

    if what == "votes":
        return feedback.collected_preferences(store.votes_frame())
    if what == "ratings":
        return feedback.collected_ratings(store.ratings_frame())
    raise ValueError(f"no collected feedback called '{what}'")


def training_table(algo: str, data_name: str, collected=None):
    """The saved dataset's table for `algo`, merged with `collected` feedback (duplicates: the collected row wins)."""
    from rlhf_core.data.datasets import load_tables
    from rlhf_core.feedback import merge_tables

    algorithm = get_algorithm(algo)
    tables = {k: v for k, v in load_tables([data_name]).items() if k != "scale"}
    kind, frame = next(iter(tables.items()))
    if kind not in algorithm.data_kinds:
        raise DataError(f"{algorithm.title} reads {', '.join(algorithm.data_kinds)}, not {kind}: choose another dataset.")
    if collected is not None and len(collected):
        frame = merge_tables(frame, collected, COLLECTED_KIND[algorithm.collected])
    return frame


def submit_training(runner, algo: str, cfg, spec: str, start_label: str, reward_dir, data_name: str,
                    collected=None) -> str:
    """Submit `train_policy` as a background job; returns the run id.

    The run's config.json records the algorithm, start policy, reward model, dataset, rows and every config field.
    """
    from rlhf_core.policy.train import train_policy

    algorithm = get_algorithm(algo)
    frame = training_table(algo, data_name, collected)
    reward_dir = reward_dir if algorithm.needs_reward_model else None
    config = {"algo": algo, "policy": spec, "reward_dir": reward_dir, "data": data_name, "rows": len(frame),
              f"with_rate_page_{algorithm.collected or 'feedback'}": collected is not None, **asdict(cfg)}
    name = f"{algorithm.title} on {start_label}" + (f", beta {cfg.beta:g}" if hasattr(cfg, "beta") else "")
    return runner.submit(algo, config, lambda out_dir: train_policy(algo, cfg, spec, reward_dir=reward_dir, data=frame,
                                                                    out_dir=out_dir), name=name)


def try_best_of_n(policy, reward_dir, data_name: str, cfg) -> tuple[list[dict], dict]:
    """Best-of-n on the first `cfg.articles` articles of a dataset: (per-article results, summary)."""
    from rlhf_core.compare import articles_of
    from rlhf_core.data.datasets import load_tables
    from rlhf_core.policy.best_of_n import best_of_n, summary
    from rlhf_core.policy.config import GenerationConfig

    tables = {k: v for k, v in load_tables([data_name]).items() if k != "scale"}
    kind, frame = next(iter(tables.items()))
    articles = articles_of(frame, kind)["article"].head(cfg.articles).tolist()
    results = best_of_n(policy, reward_dir, articles, n=cfg.n, gen=GenerationConfig(temperature=cfg.temperature),
                        seed=cfg.seed, gold_persona=cfg.gold_persona)
    return results, summary(results)
