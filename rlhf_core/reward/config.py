"""RewardConfig: every knob of reward-model training, with help text the page and CLI show.

RANGES bound the numeric fields (rlhf_core/bounds.py): checked here, and the page's widgets take
their min / max from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from rlhf_core.bounds import check_bounds
from rlhf_core.errors import ConfigError

OBJECTIVES = ("pointwise", "pairwise", "both")


@dataclass(frozen=True)
class RewardConfig:
    """Reward-model training. Defaults are tuned for a 2-core laptop CPU and MiniLM-L6."""

    backbone: str = field(
        default="minilm",
        metadata={"help": "Encoder with a 1-logit head: 'minilm' (all-MiniLM-L6-v2 from its pip package, offline), "
                  "'tiny' (random 2-layer BERT, for tests), a local folder or a hub id ('bert-base-uncased' as in the seed)."},
    )
    objective: str = field(
        default="both",
        metadata={"help": "'pointwise': MSE of sigmoid(reward) vs the score normalised to [0,1] (the seed, fixed); "
                  "'pairwise': Bradley-Terry -log sigmoid(r_chosen - r_rejected - margin) (Christiano 2017); 'both': their sum."},
    )
    lr: float = field(
        default=2e-4,
        metadata={"help": "Peak AdamW learning rate. The seed uses 1e-5 for 10 epochs of BERT-base; a short run of a small encoder needs more."},
    )
    batch_size: int = field(
        default=32,
        metadata={"help": "About how many (article, headline) rows are encoded per step (whole articles are kept together so their pairs share a batch). The seed uses 32."},
    )
    epochs: float = field(
        default=1.5,
        metadata={"help": "Passes over the training articles (the seed uses 10; 1.5 passes of MiniLM fit in 3 minutes on 2 cores here; fractions allowed)."},
    )
    max_steps: int = field(
        default=0,
        metadata={"help": "Stop after this many optimiser steps (0 = no limit: run all epochs)."},
    )
    max_length: int = field(
        default=64,
        metadata={"help": "Tokens per (article, headline) input. The article is truncated, never the headline: "
                  "64 keeps the lead, which states the facts, and trains twice as fast as 128."},
    )
    freeze_layers: int = field(
        default=0,
        metadata={"help": "Freeze the word embeddings and the first N encoder layers (0 = train everything). "
                  "The backward pass then stops early (faster on a CPU) and a small dataset cannot distort "
                  "the lower layers' general language features (Howard & Ruder 2018, ULMFiT)."},
    )
    head_lr: float = field(
        default=1e-3,
        metadata={"help": "Learning rate of the freshly initialised reward head (classifier and pooler); 0 = the same as lr. "
                  "A new head needs larger steps than the pre-trained encoder (Howard & Ruder 2018, discriminative fine-tuning)."},
    )
    warmup_ratio: float = field(
        default=0.1,
        metadata={"help": "Share of steps with a linear learning-rate warm-up, then linear decay to 0 (Devlin et al. 2019)."},
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (Loshchilov & Hutter 2019)."})
    val_fraction: float = field(
        default=0.15,
        metadata={"help": "Share of ARTICLES held out for validation (split by article, so no headline of a validation article is seen in training)."},
    )
    early_stopping_patience: int = field(
        default=3,
        metadata={"help": "Stop when the validation loss has not improved for this many evaluations (0 = never stop early)."},
    )
    eval_every: int = field(
        default=0,
        metadata={"help": "Evaluate on the validation split every N steps (0 = about 8 times per run). Quick mode: every N head steps."},
    )
    max_val_rows: int = field(
        default=400,
        metadata={"help": "Cap on validation rows scored at each evaluation, to keep evaluation cheap on a CPU."},
    )
    seed: int = field(default=0, metadata={"help": "Seed for the split, shuffling, head initialisation and dropout."})
    expert_weight: float = field(
        default=2.0,
        metadata={"help": "Training weight of expert data (files or rows whose source says 'expert'); the seed uses x2."},
    )
    pairs_from_ratings: bool = field(
        default=True,
        metadata={"help": "Turn ratings of the same article into preference pairs (higher score = chosen, score gap = margin)."},
    )
    use_margin: bool = field(
        default=True,
        metadata={"help": "Subtract the preference margin inside the Bradley-Terry loss (Llama 2, Touvron et al. 2023)."},
    )
    center_rewards_coef: float = field(
        default=0.0,
        metadata={"help": "Reward-centring coefficient: adds coef * mean((r_c + r_r)^2) (Eisenstein et al. 2023; TRL center_rewards_coefficient, e.g. 0.01)."},
    )
    fact_checks: bool = field(
        default=True,
        metadata={"help": "Full fine-tuning: after the headline, the model also reads its fact checks in words "
                  "('numbers 0 of 1 in article, names 2 of 2 in article'), as a tool-augmented reward model "
                  "(Li et al. 2024) reads a tool's output. A few minutes of fine-tuning cannot teach a small "
                  "encoder to compare numbers and names on its own; with the checks it ranks hand-written news "
                  "far better (bench/bench_reward.py). The checkpoint still loads in plain transformers; score "
                  "with rlhf_core.reward.data.encode(..., checks=True)."},
    )
    quick: bool = field(
        default=False,
        metadata={"help": "Quick mode: freeze the encoder, cache its mean-pooled embeddings and train only a linear head (seconds)."},
    )
    quick_head_steps: int = field(
        default=300,
        metadata={"help": "Quick mode: full-batch Adam steps of the linear head."},
    )
    quick_l2: float = field(
        default=1e-2,
        metadata={"help": "Quick mode: L2 penalty on the head weights (ridge), against over-fitting a few hundred ratings."},
    )
    quick_article_tokens: int = field(
        default=64,
        metadata={"help": "Quick mode: tokens of each article given to the frozen encoder (the lead, which states the facts). "
                  "Headlines are always whole. Fewer tokens = faster embedding."},
    )
    quick_layers: int = field(
        default=4,
        metadata={"help": "Quick mode: use only the first N transformer layers of the frozen encoder (0 = all). "
                  "Embedding time is proportional to N; 4 of MiniLM's 6 rank as well here (bench/bench_reward.py)."},
    )
    quick_int8: bool = field(
        default=True,
        metadata={"help": "Quick mode on a CPU: run the frozen encoder's linear layers in int8 (PyTorch dynamic "
                  "quantisation, Jacob et al. 2018), about 2.4x faster embedding; the head is trained on the "
                  "int8 embeddings and scores with them. Ignored on a GPU."},
    )
    quick_reader_checks: bool = field(
        default=True,
        metadata={"help": "Quick mode: add the checks a reader makes to the features (numbers in any rendering and "
                  "names against the article, direction and magnitude words such as 'falls' or 'doubles' against its "
                  "lead and figures, clickbait phrases, shouting, broken text; reward/checks.py reader_checks). "
                  "They hold for hand-written news, not only for the templates trained on."},
    )
    quick_disk_cache: bool = field(
        default=True,
        metadata={"help": "Quick mode: keep text embeddings on disk (models folder / embeddings), so a retrain "
                  "after new ratings only embeds the new texts, also in a new process."},
    )
    device: str = field(default="cpu", metadata={"help": "Torch device ('cpu', 'cuda', 'mps')."})

    RANGES = {"lr": (1e-9, 0.5), "batch_size": (2, 1024), "epochs": (0.0, 100.0), "max_steps": (0, 1_000_000),
              "max_length": (16, 512), "freeze_layers": (0, 48), "head_lr": (0.0, 0.5), "warmup_ratio": (0.0, 0.99),
              "weight_decay": (0.0, 1.0), "val_fraction": (0.01, 0.89), "early_stopping_patience": (0, 1000),
              "eval_every": (0, 1_000_000), "max_val_rows": (4, 100_000), "seed": (0, 2**32 - 1),
              "expert_weight": (0.01, 100.0), "center_rewards_coef": (0.0, 10.0), "quick_head_steps": (1, 100_000),
              "quick_l2": (0.0, 100.0), "quick_article_tokens": (8, 512), "quick_layers": (0, 48)}

    def __post_init__(self):
        check_bounds(self)
        if not self.backbone or not str(self.backbone).strip():
            raise ConfigError("Choose a backbone: 'minilm', 'tiny', a folder or a hub id.")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"The objective must be one of {', '.join(OBJECTIVES)}; got '{self.objective}'.")
        if not 0 < self.lr < 1:
            raise ConfigError(f"The learning rate must be between 0 and 1 (typical: 1e-5 to 1e-3); got {self.lr}.")
        if self.batch_size < 2:
            raise ConfigError("The batch size must be at least 2 (pairs need two rows).")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("Give a positive number of epochs or of max steps.")
        if self.epochs < 0 or self.max_steps < 0:
            raise ConfigError("Epochs and max steps cannot be negative.")
        if not 16 <= self.max_length <= 512:
            raise ConfigError(f"max_length must be between 16 and 512 tokens; got {self.max_length}.")
        if self.freeze_layers < 0 or not 0 <= self.head_lr < 1:
            raise ConfigError("freeze_layers cannot be negative, and head_lr must be in [0, 1) (0 = same as lr).")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError("The warm-up ratio must be in [0, 1).")
        if not 0 < self.val_fraction < 0.9:
            raise ConfigError("The validation fraction must be between 0 and 0.9 (some articles must be held out).")
        if self.early_stopping_patience < 0 or self.eval_every < 0:
            raise ConfigError("Patience and eval_every cannot be negative.")
        if self.max_val_rows < 4:
            raise ConfigError("max_val_rows must be at least 4.")
        if self.expert_weight <= 0:
            raise ConfigError("The expert weight must be positive (1 = same as other data, 2 as in the seed).")
        if self.center_rewards_coef < 0:
            raise ConfigError("The reward-centring coefficient cannot be negative.")
        if self.center_rewards_coef > 0 and self.objective == "pointwise":
            raise ConfigError("Reward centring applies to the pairwise loss; choose 'pairwise' or 'both', or set it to 0.")
        if not 8 <= self.quick_article_tokens <= 512:
            raise ConfigError(f"quick_article_tokens must be between 8 and 512; got {self.quick_article_tokens}.")
        if self.quick_layers < 0:
            raise ConfigError("quick_layers cannot be negative (0 = all layers).")
        if self.quick_head_steps < 1 or self.quick_l2 < 0:
            raise ConfigError("Quick mode needs at least 1 head step and a non-negative L2 penalty.")

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
    for f in fields(RewardConfig):
        if f.name == name:
            return f.metadata.get("help", "")
    raise KeyError(name)
