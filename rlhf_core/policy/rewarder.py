"""Rewarder: the proxy reward a policy is trained on and the gold score that is only logged.

The proxy is a reward model (a folder, loaded once) or any callable `(articles, headlines) -> scores
in [0, 1]`; the gold score is a hidden persona's (synthetic data only), never used for training:
proxy up while gold goes down is reward hacking.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


class Rewarder:
    """Proxy reward (the reward model, which training maximises) and gold score (logged only)."""

    def __init__(self, reward, gold_persona: str = "", device: str = "cpu"):
        self.score_fn: Callable | None = None
        if callable(reward):
            self.score_fn = reward
        elif reward:
            from rlhf_core.reward.scorer import load_scorer

            self.score_fn = load_scorer(reward, device=device).score
        self.gold = None
        if gold_persona:
            from rlhf_core.data.personas import get_persona

            self.gold = get_persona(gold_persona)

    def __call__(self, articles: Sequence[str], headlines: Sequence[str]):
        """(proxy scores or None, gold scores or None), each an array (B,)."""
        proxy = None if self.score_fn is None else np.asarray(self.score_fn(list(articles), list(headlines)), dtype=np.float64)
        gold = None if self.gold is None else np.array([self.gold.score(a, h) for a, h in zip(articles, headlines)])
        return proxy, gold
