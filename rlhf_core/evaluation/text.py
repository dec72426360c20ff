"""Text metrics for generated headlines: ROUGE against a reference, and diversity among samples.

- ROUGE-1/2/L (Lin 2004, "ROUGE: A Package for Automatic Evaluation of Summaries"): F-measure
  of unigram / bigram / longest-common-subsequence overlap, via Google's `rouge-score` with the
  Porter stemmer on, exactly as the seed computes it.
- distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
  Models"): unique n-grams / all n-grams over a set of samples.
- self-ROUGE (after Self-BLEU, Zhu et al. 2018, "Texygen"): mean pairwise ROUGE-L F among the
  samples; 1.0 = all identical, lower = more diverse.
"""

from __future__ import annotations

import functools
from itertools import combinations
from typing import Sequence

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)


def rouge_scores(reference: str, generated: str) -> dict[str, float]:
    """ROUGE-1/2/L F-measures of one generated headline against its reference, each in [0, 1]."""
    scores = _scorer().score(str(reference), str(generated))  # rouge-score's order: (target, prediction)
    return {key: float(scores[key].fmeasure) for key in ROUGE_KEYS}


def mean_rouge(references: Sequence[str], generated: Sequence[str]) -> dict[str, float]:
    """Average ROUGE-1/2/L over aligned (reference, generated) pairs; zeros for no pairs."""
    if len(references) != len(generated):
        raise ValueError(f"{len(references)} references but {len(generated)} generated headlines.")
    if not references:
        return {key: 0.0 for key in ROUGE_KEYS}
    totals = {key: 0.0 for key in ROUGE_KEYS}
    for reference, text in zip(references, generated):
        for key, value in rouge_scores(reference, text).items():
            totals[key] += value
    return {key: value / len(references) for key, value in totals.items()}


def _tokens(text: str) -> list[str]:
    from rouge_score import tokenize

    return tokenize.tokenize(str(text), None)  # rouge-score's own lowercase word tokens, no stemming


def distinct_n(texts: Sequence[str], n: int = 1) -> float:
    """Unique n-grams divided by all n-grams across `texts` (0.0 when there are none)."""
    if n < 1:
        raise ValueError("n must be at least 1.")
    grams = []
    for text in texts:
        words = _tokens(text)
        grams.extend(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def self_rouge(texts: Sequence[str]) -> float:
    """Mean pairwise ROUGE-L F among samples: 1.0 = identical, lower = more diverse (0.0 if < 2 texts)."""
    pairs = list(combinations(list(texts), 2))
    if not pairs:
        return 0.0
    return sum(rouge_scores(a, b)["rougeL"] for a, b in pairs) / len(pairs)
