"""The settings of one evaluation: a frozen dataclass the Evaluate page and the CLI both build."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rlhf_core.policy.config import _check, _help  # the studio's config helpers: help per field, plain-English checks


@dataclass(frozen=True)
class EvalConfig:
    """How policies are compared on held-out articles (every policy with the same articles and seed)."""

    articles: int = _help(40, "Held-out articles to evaluate on (the first ones of the data). Intervals narrow "
                              "roughly as 1 / sqrt(articles).")
    n: int = _help(4, "Headlines each policy writes per article. More samples make each article's win rate "
                      "less noisy; with temperature 0 (greedy) all n would be the same, so use n = 1 there.")
    temperature: float = _help(0.7, "Sampling temperature of the evaluated headlines; 0 = greedy decoding.")
    top_p: float = _help(1.0, "Nucleus sampling mass (Holtzman et al. 2020); 1.0 = off.")
    max_new_tokens: int = _help(24, "Longest headline in tokens.")
    seed: int = _help(0, "Random seed of sampling and of the bootstrap: the same inputs give the same report.")
    kl_samples: int = _help(4, "Headlines per article sampled at temperature 1 to estimate KL(policy || its start), "
                               "summing Schulman's k3 estimator over the tokens (the trainers' policy/kl, at T = 1).")
    bootstrap: int = _help(1000, "Bootstrap resamples of the articles for the 95% intervals of the win rates "
                                 "(Efron & Tibshirani 1993).")
    leaderboard_rounds: int = _help(200, "Bootstrap rounds of the Bradley-Terry leaderboard over the A/B votes "
                                         "(Chatbot Arena: 100-1000).")
    confidence: float = _help(0.95, "Coverage of the intervals.")
    curve_articles: int = _help(16, "Articles of the over-optimisation curve (each checkpoint samples kl_samples "
                                    "headlines per article; best-of-n samples bon_max_n).")
    bon_max_n: int = _help(64, "Largest n of the best-of-n curve: n = 1, 2, 4, ... up to this power of two "
                               "(Gao et al. 2022 go to 60,000; 64 reaches sqrt(KL) = 1.8).")

    def __post_init__(self):
        _check(1 <= self.articles <= 5000, "articles must be between 1 and 5000.")
        _check(1 <= self.n <= 64, "n (headlines per article) must be between 1 and 64.")
        _check(0 <= self.temperature <= 5, "temperature must be between 0 (greedy) and 5.")
        _check(not (self.temperature == 0 and self.n > 1),
               "Greedy decoding (temperature 0) writes the same headline every time: use n = 1, or a temperature above 0.")
        _check(0 < self.top_p <= 1, "top_p must be in (0, 1]; 1.0 turns nucleus sampling off.")
        _check(1 <= self.max_new_tokens <= 256, "max_new_tokens must be between 1 and 256.")
        _check(1 <= self.kl_samples <= 64, "kl_samples must be between 1 and 64.")
        _check(100 <= self.bootstrap <= 100_000, "bootstrap must be between 100 and 100000 resamples.")
        _check(10 <= self.leaderboard_rounds <= 10_000, "leaderboard_rounds must be between 10 and 10000.")
        _check(0.5 <= self.confidence < 1, "confidence must be at least 0.5 and below 1 (0.95 = 95% intervals).")
        _check(1 <= self.curve_articles <= 1000, "curve_articles must be between 1 and 1000.")
        _check(2 <= self.bon_max_n <= 1024 and self.bon_max_n & (self.bon_max_n - 1) == 0,
               "bon_max_n must be a power of two between 2 and 1024 (n = 1, 2, 4, ...).")

    def bon_ns(self) -> list[int]:
        """n = 1, 2, 4, ..., bon_max_n."""
        return [2 ** k for k in range(self.bon_max_n.bit_length())]

    def to_dict(self) -> dict:
        return asdict(self)
