"""The settings of one evaluation: a frozen dataclass the Evaluate page and the CLI both build.

Each field carries its help and bounds (rlhf_core.bounds.bounded), checked by __post_init__ and read by the page."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rlhf_core.bounds import bounded, check_bounds
from rlhf_core.errors import ConfigError


@dataclass(frozen=True)
class EvalConfig:
    """How policies are compared on held-out articles (every policy with the same articles and seed)."""

    articles: int = bounded(40, "Held-out articles to evaluate on (the first ones of the data). Intervals narrow "
                                "roughly as 1 / sqrt(articles).", 1, 5000)
    n: int = bounded(4, "Headlines each policy writes per article. More samples make each article's win rate "
                        "less noisy; with temperature 0 (greedy) all n would be the same, so use n = 1 there.", 1, 64)
    temperature: float = bounded(0.7, "Sampling temperature of the evaluated headlines; 0 = greedy decoding.", 0.0, 5.0)
    top_p: float = bounded(1.0, "Nucleus sampling mass (Holtzman et al. 2020); 1.0 = off.", 0.01, 1.0)
    max_new_tokens: int = bounded(24, "Longest headline in tokens.", 1, 256)
    seed: int = bounded(0, "Random seed of sampling and of the bootstrap: the same inputs give the same report.", 0, 2**32 - 1)
    kl_samples: int = bounded(4, "Headlines per article sampled at temperature 1 to estimate KL(policy || its start), "
                                 "summing Schulman's k3 estimator over the tokens (GRPO's policy/kl_k3, at T = 1).", 1, 64)
    bootstrap: int = bounded(1000, "Bootstrap resamples of the articles for the 95% intervals of the win rates "
                                   "(Efron & Tibshirani 1993).", 100, 100_000)
    leaderboard_rounds: int = bounded(200, "Bootstrap rounds of the Bradley-Terry leaderboard over the A/B votes "
                                           "(Chatbot Arena: 100-1000).", 10, 10_000)
    confidence: float = bounded(0.95, "Coverage of the intervals.", 0.5, 0.999)
    curve_articles: int = bounded(16, "Articles of the over-optimisation curve (each checkpoint samples kl_samples "
                                      "headlines per article; best-of-n samples bon_max_n).", 1, 1000)
    bon_max_n: int = bounded(64, "Largest n of the best-of-n curve: n = 1, 2, 4, ... up to this power of two "
                                 "(Gao et al. 2022 go to 60,000; 64 reaches sqrt(KL) = 1.8).", 2, 1024)

    def __post_init__(self):
        check_bounds(self)  # each field's range, from its metadata; then the rules across fields
        if self.temperature == 0 and self.n > 1:
            raise ConfigError("Greedy decoding (temperature 0) writes the same headline every time: use n = 1, or a "
                              "temperature above 0.")
        if self.bon_max_n & (self.bon_max_n - 1):
            raise ConfigError("bon_max_n must be a power of two between 2 and 1024 (n = 1, 2, 4, ...).")

    def bon_ns(self) -> list[int]:
        """n = 1, 2, 4, ..., bon_max_n."""
        return [2 ** k for k in range(self.bon_max_n.bit_length())]

    def to_dict(self) -> dict:
        return asdict(self)
