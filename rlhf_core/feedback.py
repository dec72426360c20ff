"""Flow back: ratings and A/B votes collected in the app become reward-model training data.

The seed's last piece of advice is "keep collecting feedback continuously". Here that is three steps:

1. `collected_ratings` / `collected_preferences` turn the store's rows into the canonical
   `ratings` / `preferences` tables (rlhf_core/data/schema.py): several raters' stars on one
   headline are averaged; A/B votes become (chosen, rejected) pairs by majority, and ties,
   "both bad" and contradictions that cancel out are dropped.
2. `merge_tables` joins them with a chosen dataset; a row about the same (article, headline) or
   the same pair appears once, and the collected (newer, human) judgement wins.
3. `quick_retrain` trains the reward model in quick mode on the merged data and records which
   store rows it saw (`feedback.json` next to the checkpoint), so `count_new` can say how many
   ratings are not yet in the current reward model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from rlhf_core.data.schema import COLUMNS
from rlhf_core.paths import atomic_write_json, read_json

SNAPSHOT_FILE = "feedback.json"
RATINGS_SOURCE = "app:ratings"
VOTES_SOURCE = "app:votes"
STAR_MIN, STAR_MAX = 1, 5


@dataclass(frozen=True)
class FeedbackSnapshot:
    """Which store rows a reward model was trained on: ids up to (and including) these."""

    ratings_upto: int = 0
    votes_upto: int = 0
    ratings_used: int = 0
    votes_used: int = 0


def _row_ids(frame: pd.DataFrame | None) -> pd.Series:
    if frame is None or frame.empty:
        return pd.Series([], dtype=int)
    return frame["id"].astype(int)


def snapshot_of(ratings: pd.DataFrame | None, votes: pd.DataFrame | None) -> FeedbackSnapshot:
    """The snapshot describing these store frames (the highest row ids and the row counts)."""
    r_ids, v_ids = _row_ids(ratings), _row_ids(votes)
    return FeedbackSnapshot(int(r_ids.max()) if len(r_ids) else 0, int(v_ids.max()) if len(v_ids) else 0,
                            int(len(r_ids)), int(len(v_ids)))


def collected_ratings(ratings: pd.DataFrame | None) -> pd.DataFrame:
    """Store star ratings -> canonical `ratings` table, one row per (article, headline).

    score = (mean stars - 1) / 4 in [0, 1]; score_raw = mean stars; weight = 1.
    """
    columns = COLUMNS["ratings"]
    if ratings is None or ratings.empty:
        return pd.DataFrame(columns=columns)
    mean = ratings.groupby(["article", "headline"], sort=False)["score"].mean().reset_index()
    mean = mean[mean["headline"].astype(str).str.strip() != ""]
    return pd.DataFrame({
        "article": mean["article"].astype(str),
        "headline": mean["headline"].astype(str),
        "score": (mean["score"].astype(float) - STAR_MIN) / (STAR_MAX - STAR_MIN),
        "score_raw": mean["score"].astype(float),
        "weight": 1.0,
        "source": RATINGS_SOURCE,
    }, columns=columns).reset_index(drop=True)


def collected_preferences(votes: pd.DataFrame | None) -> pd.DataFrame:
    """Store A/B votes -> canonical `preferences` table (prompt, chosen, rejected, ...).

    Per (article, pair of headlines) the majority wins: net = votes for X - votes for Y; a pair
    with net 0 (a tie, only "both bad", or a contradiction) is dropped; margin = 0, weight = 1.
    """
    columns = COLUMNS["preferences"]
    if votes is None or votes.empty:
        return pd.DataFrame(columns=columns)
    net: dict[tuple[str, str, str], int] = {}
    for vote in votes.itertuples(index=False):
        if vote.winner not in ("a", "b"):
            continue
        a, b = str(vote.headline_a), str(vote.headline_b)
        if a == b:
            continue
        first, second = sorted((a, b))
        key = (str(vote.article), first, second)
        winner = a if vote.winner == "a" else b
        net[key] = net.get(key, 0) + (1 if winner == first else -1)
    rows = [
        {"prompt": art, "chosen": first if count > 0 else second, "rejected": second if count > 0 else first,
         "margin": 0.0, "weight": 1.0, "source": VOTES_SOURCE}
        for (art, first, second), count in net.items() if count != 0
    ]
    return pd.DataFrame(rows, columns=columns)


def _pair_key(frame: pd.DataFrame) -> pd.Series:
    low = frame[["chosen", "rejected"]].astype(str).min(axis=1)
    high = frame[["chosen", "rejected"]].astype(str).max(axis=1)
    return frame["prompt"].astype(str) + "\x1f" + low + "\x1f" + high


def merge_tables(base: pd.DataFrame | None, collected: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Concatenate a dataset table and collected rows of the same kind, without duplicates.

    Ratings are keyed by (article, headline); preferences by (prompt, unordered pair), so a
    collected vote replaces a dataset pair in either direction. The collected row wins.
    """
    if kind not in ("ratings", "preferences"):
        raise ValueError(f"Feedback merges ratings or preferences, not {kind}.")
    columns = COLUMNS[kind]
    parts = [frame[columns] for frame in (base, collected) if frame is not None and len(frame)]
    if not parts:
        return pd.DataFrame(columns=columns)
    merged = pd.concat(parts, ignore_index=True)
    if kind == "ratings":
        key = merged["article"].astype(str) + "\x1f" + merged["headline"].astype(str)
    else:
        key = _pair_key(merged)
    return merged[~key.duplicated(keep="last")].reset_index(drop=True)


def _table(dataset, kind: str) -> pd.DataFrame | None:
    """A dataset given as LoadedData, a DataFrame, a saved dataset's name, or {kind: frame} (load_tables) -> its
    frame of `kind`."""
    if dataset is None:
        return None
    if isinstance(dataset, dict):
        return dataset.get(kind)
    if isinstance(dataset, str):
        from rlhf_core.data.datasets import load_dataset

        dataset = load_dataset(dataset)
    if isinstance(dataset, pd.DataFrame):
        return dataset if set(COLUMNS[kind]) <= set(dataset.columns) else None
    return dataset.frame if getattr(dataset, "kind", None) == kind else None


def training_tables(store, dataset=None, use_ratings: bool = True, use_votes: bool = True):
    """(ratings table | None, preferences table | None, FeedbackSnapshot) for a reward-model run.

    `dataset` (LoadedData, DataFrame, saved dataset name or {kind: frame}) contributes its rows of the
    matching kind; the store's collected ratings / votes are merged in when asked for (store None: none).
    """
    raw_ratings = store.ratings_frame() if use_ratings and store is not None else None
    raw_votes = store.votes_frame() if use_votes and store is not None else None
    ratings = merge_tables(_table(dataset, "ratings"), collected_ratings(raw_ratings), "ratings")
    preferences = merge_tables(_table(dataset, "preferences"), collected_preferences(raw_votes), "preferences")
    return (ratings if len(ratings) else None, preferences if len(preferences) else None,
            snapshot_of(raw_ratings, raw_votes))


def reward_trainer(cfg, datasets: list[str], store=None, use_collected: bool = False):
    """The Reward page's job: a JobRunner make_iter training `cfg` on saved datasets (+ the store's ratings and
    votes when `use_collected`), recording which store rows it saw. Data errors are raised now, not in the job."""
    from rlhf_core.data.datasets import load_tables
    from rlhf_core.errors import StudioError
    from rlhf_core.reward.train import train_reward

    tables = load_tables(datasets)
    ratings, preferences, snapshot = training_tables(store, tables, use_ratings=use_collected, use_votes=use_collected)
    if ratings is None and preferences is None:
        raise StudioError("Choose at least one ratings or preferences dataset (or collect ratings on the Rate page).")

    def make_iter(out_dir):
        yield from train_reward(cfg, ratings, preferences, out_dir, score_scale=tables.get("scale"))
        write_snapshot(out_dir, snapshot)  # which collected ratings this model has seen

    return make_iter


def write_snapshot(out_dir: str | Path, snapshot: FeedbackSnapshot) -> Path:
    """Record next to a reward checkpoint which store rows it was trained on."""
    return atomic_write_json(Path(out_dir) / SNAPSHOT_FILE, asdict(snapshot))


def read_snapshot(reward_dir: str | Path | None) -> FeedbackSnapshot:
    """The snapshot of a reward model (its folder or its run folder); empty if it used no feedback."""
    if reward_dir is None:
        return FeedbackSnapshot()
    path = Path(reward_dir)
    for folder in (path, *list(path.parents)[:2]):
        data = read_json(folder / SNAPSHOT_FILE)
        if isinstance(data, dict):
            return FeedbackSnapshot(**{k: int(v) for k, v in data.items() if k in FeedbackSnapshot.__annotations__})
    return FeedbackSnapshot()


def count_new(store, reward_dir: str | Path | None = None) -> dict:
    """How many store ratings / votes are not yet in the reward model at `reward_dir`.

    Returns {"ratings": int, "votes": int}. Without a reward model, every row is new.
    """
    snapshot = read_snapshot(reward_dir)
    ratings, votes = store.ratings_frame(), store.votes_frame()
    return {"ratings": int((_row_ids(ratings) > snapshot.ratings_upto).sum()),
            "votes": int((_row_ids(votes) > snapshot.votes_upto).sum())}


def quick_retrain(
    ratings: pd.DataFrame | None,
    preferences: pd.DataFrame | None,
    out_dir: str | Path,
    snapshot: FeedbackSnapshot | None = None,
    **config,
) -> Iterator[dict]:
    """Train the reward model in quick mode on merged data; a JobRunner-ready trainer generator.

    Yields train_reward's metrics dicts; when training ends normally it writes `snapshot` next to
    the checkpoint (a cancelled run records nothing, so its ratings still count as new).
    Extra keyword arguments are RewardConfig fields (e.g. backbone, seed, epochs).
    """
    from rlhf_core.reward.config import RewardConfig
    from rlhf_core.reward.train import train_reward

    if (ratings is None or not len(ratings)) and (preferences is None or not len(preferences)):
        raise ValueError("There is nothing to train on: collect some ratings or choose a dataset.")
    cfg = RewardConfig(quick=True, **config)
    yield from train_reward(cfg, ratings, preferences, Path(out_dir))
    write_snapshot(out_dir, snapshot or FeedbackSnapshot())


def retrain_from_store(store, out_dir: str | Path, dataset=None, use_votes: bool = True, **config) -> Iterator[dict]:
    """`quick_retrain` on the dataset merged with everything the store holds right now."""
    ratings, preferences, snapshot = training_tables(store, dataset, use_ratings=True, use_votes=use_votes)
    return quick_retrain(ratings, preferences, out_dir, snapshot, **config)
