"""The canonical tables every part of RLHF Studio passes around (pandas DataFrames), declared once.

Whatever the upload looked like, loaders return one of four kinds (DATA_KINDS below; the loaders,
their validation, the Data page, the CLI and each algorithm's `data_kinds` read that table):

- ratings:        article, headline, score (normalised to [0, 1]), score_raw (as uploaded), weight, source
- preferences:    prompt, chosen, rejected, margin, weight, source        (TRL's names; prompt = article)
- demonstrations: article, headline, weight, source                       (expert headlines for SFT)
- articles:       article, reference, article_id                          (reference headline may be "")

`weight` is a per-example training weight (the seed gives expert data x2); `source` says where a
row came from (file name, "synthetic:wire_editor", "app:ratings", ...). The seed's `text<TAB>score`
lines have no article: they load as ratings with article = "".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Kind = Literal["ratings", "preferences", "demonstrations", "articles"]


@dataclass(frozen=True)
class DataKind:
    """One kind of table: its canonical columns, what a file of it must hold, and how it is explained."""

    name: str
    columns: tuple[str, ...]   # the canonical table, in order
    required: tuple[str, ...]  # our columns a file must have (after the loaders' aliases: text = article, ...)
    used: tuple[str, ...]      # our columns the loader reads; other file columns are ignored with a warning
    expected: str              # what a file of this kind looks like, in words (errors and help)
    text_columns: tuple[str, ...]  # the text columns whose lengths the Data page charts
    description: str           # what it is for, in one line


DATA_KINDS: dict[str, DataKind] = {k.name: k for k in (
    DataKind("ratings", ("article", "headline", "score", "score_raw", "weight", "source"), ("headline", "score"),
             ("article", "headline", "score", "weight", "is_expert", "source"),
             "article, headline, score (or the seed's text, title, score; or text<TAB>score lines)", ("article", "headline"),
             "Headlines rated 1-5 (or 0-1, 0-10): the reward model learns them; SFT reads the best-rated."),
    DataKind("preferences", ("prompt", "chosen", "rejected", "margin", "weight", "source"), ("prompt", "chosen", "rejected"),
             ("prompt", "chosen", "rejected", "margin", "weight", "is_expert", "source"),
             "prompt, chosen, rejected (optional margin)", ("prompt", "chosen", "rejected"),
             "Pairs (TRL's names; prompt = article): the reward model's Bradley-Terry loss and DPO learn them."),
    DataKind("demonstrations", ("article", "headline", "weight", "source"), ("article", "headline"),
             ("article", "headline", "weight", "is_expert", "source"), "article, headline (or text, title)",
             ("article", "headline"), "Expert headlines for supervised fine-tuning (SFT)."),
    DataKind("articles", ("article", "reference", "article_id"), ("article",), ("article", "reference", "article_id"),
             "article (or text), optional reference / title", ("article", "reference"),
             "Articles to write headlines for: RL prompts, evaluation (the reference feeds ROUGE)."),
)}
KINDS: tuple[str, ...] = tuple(DATA_KINDS)
COLUMNS: dict[str, list[str]] = {k.name: list(k.columns) for k in DATA_KINDS.values()}


@dataclass
class LoadedData:
    """A validated table of one kind, plus what the loader noticed on the way."""

    kind: Kind
    frame: pd.DataFrame
    scale: tuple[float, float] | None = None  # the raw score range used for normalisation (ratings only)
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    def summary(self) -> dict:
        """A JSON-able description (what `data validate` prints)."""
        return {
            "kind": self.kind,
            "rows": int(len(self.frame)),
            "score_scale": list(self.scale) if self.scale else None,
            "warnings": list(self.warnings),
            "source": self.source,
        }
