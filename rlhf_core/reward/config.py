"""RewardConfig: every knob of reward-model training, with the help text and bounds the page and CLI show
(each field's metadata, rlhf_core.bounds: checked by __post_init__, read by the config form)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from rlhf_core.bounds import bounded, check_bounds
from rlhf_core.bounds import field_help as _field_help
from rlhf_core.errors import ConfigError

OBJECTIVES = ("pointwise", "pairwise", "both")


@dataclass(frozen=True)
class RewardConfig:
    """Reward-model training. Defaults are tuned for a 2-core laptop CPU and MiniLM-L6."""

    backbone: str = bounded(
        "minilm",
        "Encoder with a 1-logit head: 'minilm' (all-MiniLM-L6-v2 from its pip package, offline), "
        "'tiny' (random 2-layer BERT, for tests), a local folder or a hub id ('bert-base-uncased' as in the seed).",
    )
    objective: str = bounded(
        "both",
        "'pointwise': MSE of sigmoid(reward) vs the score normalised to [0,1] (the seed, fixed); "
        "'pairwise': Bradley-Terry -log sigmoid(r_chosen - r_rejected - margin) (Christiano 2017); 'both': their sum.",
        choices=OBJECTIVES,
    )
    lr: float = bounded(
        2e-4,
        "Peak AdamW learning rate. The seed uses 1e-5 for 10 epochs of BERT-base; a short run of a small encoder needs more.",
        1e-9, 0.5,
    )
    batch_size: int = bounded(
        32,
        "About how many (article, headline) rows are encoded per step (whole articles are kept together so their pairs share a batch). The seed uses 32.",
        2, 1024,
    )
    epochs: float = bounded(
        1.5,
        "Passes over the training articles (the seed uses 10; 1.5 passes of MiniLM fit in 3 minutes on 2 cores here; fractions allowed).",
        0.0, 100.0,
    )
    max_steps: int = bounded(
        0,
        "Stop after this many optimiser steps (0 = no limit: run all epochs).",
        0, 1_000_000,
    )
    max_length: int = bounded(
        64,
        "Tokens per (article, headline) input. The article is truncated, never the headline: "
        "64 keeps the lead, which states the facts, and trains twice as fast as 128.",
        16, 512,
    )
    freeze_layers: int = bounded(
        0,
        "Freeze the word embeddings and the first N encoder layers (0 = train everything). "
        "The backward pass then stops early (faster on a CPU) and a small dataset cannot distort "
        "the lower layers' general language features (Howard & Ruder 2018, ULMFiT).",
        0, 48,
    )
    head_lr: float = bounded(
        1e-3,
        "Learning rate of the freshly initialised reward head (classifier and pooler); 0 = the same as lr. "
        "A new head needs larger steps than the pre-trained encoder (Howard & Ruder 2018, discriminative fine-tuning).",
        0.0, 0.5,
    )
    warmup_ratio: float = bounded(
        0.1,
        "Share of steps with a linear learning-rate warm-up, then linear decay to 0 (Devlin et al. 2019).",
        0.0, 0.99,
    )
    weight_decay: float = bounded(
        0.01,
        "AdamW weight decay (Loshchilov & Hutter 2019).",
        0.0, 1.0,
    )
    val_fraction: float = bounded(
        0.15,
        "Share of ARTICLES held out for validation (split by article, so no headline of a validation article is seen in training).",
        0.01, 0.89,
    )
    early_stopping_patience: int = bounded(
        3,
        "Stop when the validation loss has not improved for this many evaluations (0 = never stop early).",
        0, 1000,
    )
    eval_every: int = bounded(
        0,
        "Evaluate on the validation split every N steps (0 = about 8 times per run). Quick mode: every N head steps.",
        0, 1_000_000,
    )
    max_val_rows: int = bounded(
        400,
        "Cap on validation rows scored at each evaluation, to keep evaluation cheap on a CPU.",
        4, 100_000,
    )
    seed: int = bounded(
        0,
        "Seed for the split, shuffling, head initialisation and dropout.",
        0, 2**32 - 1,
    )
    expert_weight: float = bounded(
        2.0,
        "Training weight of expert data (files or rows whose source says 'expert'); the seed uses x2.",
        0.01, 100.0,
    )
    pairs_from_ratings: bool = bounded(
        True,
        "Turn ratings of the same article into preference pairs (higher score = chosen, score gap = margin).",
    )
    use_margin: bool = bounded(
        True,
        "Subtract the preference margin inside the Bradley-Terry loss (Llama 2, Touvron et al. 2023).",
    )
    center_rewards_coef: float = bounded(
        0.0,
        "Reward-centring coefficient: adds coef * mean((r_c + r_r)^2) (Eisenstein et al. 2023; TRL center_rewards_coefficient, e.g. 0.01).",
        0.0, 10.0,
    )
    fact_checks: bool = bounded(
        True,
        "Full fine-tuning: after the headline, the model also reads its fact checks in words "
        "('numbers 0 of 1 in article, names 2 of 2 in article, directions reversed, magnitudes consistent'), "
        "as a tool-augmented reward model (Li et al. 2024) reads a tool's output. A few minutes of "
        "fine-tuning cannot teach a small encoder to compare numbers, names and directions on its own; with "
        "the checks it ranks hand-written news far better (bench/bench_reward.py). The checkpoint still "
        "loads in plain transformers; score with rlhf_core.reward.data.encode(..., checks=v), v = its "
        "metadata's fact_checks_version.",
    )
    quick: bool = bounded(
        False,
        "Quick mode: freeze the encoder, cache its mean-pooled embeddings and train only a linear head (seconds).",
    )
    quick_head_steps: int = bounded(
        300,
        "Quick mode: full-batch Adam steps of the linear head.",
        1, 100000,
    )
    quick_l2: float = bounded(
        1e-2,
        "Quick mode: L2 penalty on the head weights (ridge), against over-fitting a few hundred ratings.",
        0.0, 100.0,
    )
    quick_article_tokens: int = bounded(
        64,
        "Quick mode: tokens of each article given to the frozen encoder (the lead, which states the facts). "
        "Headlines are always whole. Fewer tokens = faster embedding.",
        8, 512,
    )
    quick_layers: int = bounded(
        4,
        "Quick mode: use only the first N transformer layers of the frozen encoder (0 = all). "
        "Embedding time is proportional to N; 4 of MiniLM's 6 rank as well here (bench/bench_reward.py).",
        0, 48,
    )
    quick_int8: bool = bounded(
        True,
        "Quick mode on a CPU: run the frozen encoder's linear layers in int8 (PyTorch dynamic "
        "quantisation, Jacob et al. 2018), about 2.4x faster embedding; the head is trained on the "
        "int8 embeddings and scores with them. Ignored on a GPU.",
    )
    quick_reader_checks: bool = bounded(
        True,
        "Quick mode: add the checks a reader makes to the features (numbers in any rendering and "
        "names against the article, direction words such as 'falls' against what it says of the same thing, "
        "names in swapped roles ('Pell to buy Tarrow' for 'Tarrow to buy Pell'), verdicts, schedules and budgets "
        "('convicted' for 'acquitted', 'on time' for 'months late'), the runner-up named as the winner, a cause the "
        "article gives for something else, magnitude words such as "
        "'doubles' against its figures, clickbait phrases, shouting, broken text; "
        "reward/checks.py reader_checks). They hold for hand-written news, not only for the templates trained on.",
    )
    quick_leave_out_checks: str = bounded(
        "",
        "Quick mode: reader checks left out (held at zero), comma-separated names from reward/checks.py "
        "READER_CHECKS. Empty: all of them. The lesson's reward-hacking part leaves out the checks for "
        "broken text ('log length score, repetition, copied 4-grams'), so its reward model is blind to "
        "the one kind of headline its ratings never showed it.",
    )
    quick_disk_cache: bool = bounded(
        True,
        "Quick mode: keep text embeddings on disk (models folder / embeddings), so a retrain "
        "after new ratings only embeds the new texts, also in a new process.",
    )
    device: str = bounded(
        "cpu",
        "Torch device ('cpu', 'cuda', 'mps').",
    )

    def __post_init__(self):
        check_bounds(self)  # each field's range or choices, from its metadata; then the rules across fields
        if not self.backbone or not str(self.backbone).strip():
            raise ConfigError("Choose a backbone: 'minilm', 'tiny', a folder or a hub id.")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("Give a positive number of epochs or of max steps.")
        if self.quick_leave_out_checks:
            from rlhf_core.reward.checks import check_columns

            check_columns(self.quick_leave_out_checks)
        if self.center_rewards_coef > 0 and self.objective == "pointwise":
            raise ConfigError("Reward centring applies to the pairwise loss; choose 'pairwise' or 'both', or set it to 0.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RewardConfig":
        """Build from a dict, ignoring unknown keys (e.g. older saved configs)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_(self, **changes) -> "RewardConfig":
        return replace(self, **changes)


def field_help(name: str) -> str:
    """The help text of a RewardConfig field (for page tooltips and CLI --help)."""
    if name not in {f.name for f in fields(RewardConfig)}:
        raise KeyError(name)
    return _field_help(RewardConfig, name)
