"""Checks a newsroom applies to any headline, whatever its template: are its numbers and names in
the article, how long is it, does it shout, repeat itself or address the reader?

The quick reward model takes them as features (`surface_features`); a fully fine-tuned reward
model reads the fact checks as words after the headline (`headline_with_checks`), the way a
tool-augmented reward model reads a tool's output (Li et al. 2024). Plain Python, no model.
"""

from __future__ import annotations

import math
import re

import numpy as np

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PUNCT = ".,;:!?\"'()[]‘’“”$%"
N_SURFACE = 10  # len(surface_features(...))


def surface_features(article: str, headline: str) -> np.ndarray:
    """Checks a newsroom applies to any headline, whatever its template.  -> (N_SURFACE,)

    [log(1 + words), words outside a 5-12 word headline, share of the headline's numbers stated in
    the article, share of its capitalised names found in the article, log(1 + numbers and names
    found), has '!', has '?', share of ALL-CAPS words, share of repeated words, 'you'/'your'].
    A number or name the article never mentions is the commonest wrong fact; length, '!', shouting
    and addressing the reader are the commonest marks of clickbait (Chakraborty et al. 2016).
    """
    words = headline.split()
    numbers, names, article_numbers, article_words = fact_sets(article, headline)
    found = lambda wanted, have: len(wanted & have) / len(wanted) if wanted else 1.0  # noqa: E731
    shouting = sum(w.isupper() and sum(c.isalpha() for c in w) > 1 for w in words) / max(1, len(words))
    lower = [w.strip(_PUNCT).lower() for w in words]
    outside = max(0, 5 - len(words)) + max(0, len(words) - 12)
    repeated = 1.0 - len(set(lower)) / len(lower) if lower else 0.0
    return np.array([math.log1p(len(words)), math.log1p(outside), found(numbers, article_numbers), found(names, article_words),
                     math.log1p(len(numbers & article_numbers) + len(names & article_words)), "!" in headline,
                     "?" in headline, shouting, repeated, sum(w in ("you", "your", "you'll", "you're") for w in lower) > 0],
                    dtype=np.float32)


def fact_sets(article: str, headline: str) -> tuple[set, set, set, set]:
    """(the headline's numbers, its capitalised names after the first word, the article's numbers, its words)."""
    words = headline.split()
    numbers = set(_NUMBER.findall(headline))
    names = {w.strip(_PUNCT).lower() for w in words[1:] if w[:1].isupper()}
    return numbers, names, set(_NUMBER.findall(article)), {w.strip(_PUNCT).lower() for w in article.split()}


def checks_text(article: str, headline: str) -> str:
    """The fact checks as words a cross-encoder reads after the headline (tool-augmented reward
    modelling, Li et al. 2024): 'checks: numbers 0 of 1 in article, names 2 of 2 in article'."""
    numbers, names, article_numbers, article_words = fact_sets(article, headline)
    return (f"checks: numbers {len(numbers & article_numbers)} of {len(numbers)} in article, "
            f"names {len(names & article_words)} of {len(names)} in article")


def headline_with_checks(article: str, headline: str, sep: "str | None") -> str:  # quoted: train.py copies it
    """What a full reward model trained with fact checks reads as its second segment:
    'headline [SEP] checks: ...' (`sep` is the tokenizer's separator token; '|' if it has none)."""
    return f"{headline} {sep or '|'} {checks_text(article, headline)}"
