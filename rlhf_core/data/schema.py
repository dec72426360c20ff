"""The canonical tables every part of RLHF Studio passes around (pandas DataFrames).

Whatever the upload looked like, loaders return one of four kinds:

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

COLUMNS: dict[str, list[str]] = {
    "ratings": ["article", "headline", "score", "score_raw", "weight", "source"],
    "preferences": ["prompt", "chosen", "rejected", "margin", "weight", "source"],
    "demonstrations": ["article", "headline", "weight", "source"],
    "articles": ["article", "reference", "article_id"],
}


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
