"""The studio's canonical tables written in TRL's columns: the rows of an exported bundle's train.jsonl.

One builder per row shape, each `(tables, cfg, style) -> list[dict]`; an algorithm's registry entry
(rlhf_core.policy.algorithms) names the builder its TRL trainer reads:

    sft_rows         {prompt, completion}                   SFTTrainer
    pair_rows        {prompt, chosen, rejected}             DPOTrainer (reward models: + margin, RewardTrainer)
    prompt_rows      {prompt, article}                      GRPOTrainer and the like (`article` goes to the reward function)

`tables` is {kind: [DataFrame, ...]} (see `as_tables`); `style` is 'chat' (conversational rows for
instruct models) or 'plain' ("Article: ...\nHeadline:" as the studio prompts base models), or None
for reward models (plain article and headline). TRL has no per-example weights: a row of weight w
(expert data: x2) is written round(w) times.
"""

from __future__ import annotations

import math

from rlhf_core.errors import DataError


def as_tables(datasets) -> dict[str, list]:
    """{kind: [DataFrame, ...]} from LoadedData objects, {kind: DataFrame} or bare canonical frames."""
    from rlhf_core.data.schema import COLUMNS, LoadedData

    if datasets is None:
        return {}
    if isinstance(datasets, dict):
        datasets = [LoadedData(kind, frame) for kind, frame in datasets.items()]
    elif isinstance(datasets, LoadedData) or hasattr(datasets, "columns"):
        datasets = [datasets]
    tables: dict[str, list] = {}
    for item in datasets:
        if isinstance(item, LoadedData):
            kind, frame = item.kind, item.frame
        else:  # a DataFrame: its kind follows from its columns
            kind = next((k for k, cols in COLUMNS.items() if set(cols) - {"weight", "source", "score_raw", "margin",
                                                                           "reference", "article_id"} <= set(item.columns)), None)
            if kind is None:
                raise DataError(f"cannot tell the kind of a table with columns {list(item.columns)}")
            frame = item
        tables.setdefault(kind, []).append(frame)
    return tables


def frame_of(tables: dict[str, list], kind: str):
    import pandas as pd

    frames = [f for f in tables.get(kind, []) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def copies(weight) -> int:
    """TRL has no per-example weights: a row of weight w is written round(w) times (at least once)."""
    try:
        w = float(weight)
    except (TypeError, ValueError):
        return 1
    return max(1, int(math.floor(w + 0.5))) if math.isfinite(w) else 1


def trl_prompt(article: str, style: str):
    """The policy's prompt for an article, as the studio builds it (rlhf_core.models.prompts)."""
    from rlhf_core.models.prompts import INSTRUCTION, PLAIN_TEMPLATE

    if style == "chat":
        return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": article}]
    return PLAIN_TEMPLATE.format(article=" ".join(article.split()))  # one line: a newline ends the prompt


def trl_completion(headline: str, style: str):
    """A completion as the studio's policy writes it: a space after 'Headline:', or an assistant turn."""
    headline = headline.strip()
    return [{"role": "assistant", "content": headline}] if style == "chat" else " " + headline


def sft_rows(tables: dict[str, list], cfg, style: str) -> list[dict]:
    """{prompt, completion} rows: demonstrations, ratings >= cfg.min_score, chosen answers, references.

    The same selection as the studio's SFT (rlhf_core.policy.sft.demonstrations); weights above 1
    (expert rows) become cfg.expert_weight copies.
    """
    pairs = []  # (article, headline, weight)
    for kind, article_col, headline_col in (("demonstrations", "article", "headline"), ("ratings", "article", "headline"),
                                            ("preferences", "prompt", "chosen"), ("articles", "article", "reference")):
        frame = frame_of(tables, kind)
        if frame is None:
            continue
        if kind == "ratings":
            frame = frame[frame["score"] >= cfg.min_score]
        weights = frame["weight"] if "weight" in frame.columns else [1.0] * len(frame)
        for article, headline, weight in zip(frame[article_col], frame[headline_col], weights):
            if str(article).strip() and str(headline).strip():
                pairs.append((str(article), str(headline), cfg.expert_weight if float(weight) > 1.0 else weight))
    return [{"prompt": trl_prompt(a, style), "completion": trl_completion(h, style)} for a, h, w in pairs for _ in range(copies(w))]


def preference_rows(tables: dict[str, list], cfg, style: str | None, with_margin: bool) -> list[dict]:
    """{prompt, chosen, rejected[, margin]} rows: preference pairs plus pairs built from ratings.

    style None (reward models) keeps the plain article and headlines: train.py encodes them as
    the studio does, [CLS] article [SEP] headline [SEP].
    """
    import pandas as pd

    from rlhf_core.reward.data import clean_preferences, clean_ratings, pairs_from_ratings

    expert_weight = float(getattr(cfg, "expert_weight", 1.0))
    frames = [clean_preferences(frame_of(tables, "preferences"), expert_weight)]
    ratings = frame_of(tables, "ratings")
    if ratings is not None and getattr(cfg, "pairs_from_ratings", True):
        frames.append(pairs_from_ratings(clean_ratings(ratings, expert_weight)))
    pairs = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else frames[0]
    use_margin = with_margin and getattr(cfg, "use_margin", True)
    rows = []
    for p in pairs.itertuples(index=False):
        if style is None:
            row = {"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}
        else:
            row = {"prompt": trl_prompt(p.prompt, style), "chosen": trl_completion(p.chosen, style),
                   "rejected": trl_completion(p.rejected, style)}
        if with_margin:
            row["margin"] = float(p.margin) if use_margin else 0.0
        rows.extend(dict(row) for _ in range(copies(p.weight)))
    return rows


def prompt_rows(tables: dict[str, list], cfg, style: str) -> list[dict]:
    """{prompt, article} rows, one per distinct article; TRL hands `article` to the reward function."""
    seen, rows = set(), []
    for kind, column in (("articles", "article"), ("demonstrations", "article"), ("ratings", "article"),
                         ("preferences", "prompt")):
        frame = frame_of(tables, kind)
        for article in ([] if frame is None else frame[column]):
            article = str(article).strip()
            if article and article not in seen:
                seen.add(article)
                rows.append({"prompt": trl_prompt(article, style), "article": article})
    return rows


def pair_rows(tables: dict[str, list], cfg, style: str) -> list[dict]:
    """{prompt, chosen, rejected} rows for a policy trained on pairs (DPO): preference_rows without margins."""
    return preference_rows(tables, cfg, style, with_margin=False)
