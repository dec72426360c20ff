"""The algorithm registry: every policy algorithm declared once, and everything else reads it.

An entry says what the algorithm is (title, one line, its loss in LaTeX), what it trains on (data
kinds, the sample dataset it starts from, whether it needs a reward model or a frozen reference),
how to run it (its trainer and config class, and the settings that learn on each offline preset),
which metric keys only it logs, and how a TRL bundle writes it (rlhf_core.export). The CLI (`policy
train --algo`), the Policy page (its choices, equations, form and data picker), the run pickers
(runs of a trainable algorithm are policies), `train_policy` and the TRL export and import all
read ALGORITHMS; none keeps its own list.

Adding an algorithm: its loss in losses.py, its config + trainer in one module (a thin loop
`train_x(cfg, run, frame, rewarder)` like grpo.py), and one `Algorithm(...)` below.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from rlhf_core import export_rows
from rlhf_core.errors import ConfigError
from rlhf_core.policy import best_of_n, dpo, grpo, kto, ppo, rloo, sft
from rlhf_core.policy.config import DPOConfig, GenerationConfig, GRPOConfig, PPOConfig, SFTConfig

ARTICLE_KINDS = ("articles", "ratings", "demonstrations", "preferences")  # any table with articles: RL prompts


@dataclass(frozen=True)
class TRLExport:
    """How `python -m rlhf_core export trl --algo NAME` writes this algorithm as a TRL bundle (rlhf_core.export).

    fields: TRL config field <- our config field ("generation.temperature" reads a nested one) or a
        function of our config; fixed: TRL settings our trainer hard-wires; values spelled differently
        are translated by export.TRL_VALUES.
    rows: the train.jsonl builder (rlhf_core.export_rows); shape: "model" (TRL loads MODEL_ID and its
        own reference) or "reward_function" (a reward model scores sampled completions).
    note: train.py's comment on what TRL's trainer does; readme: a bullet for the bundle README's "What
        differs" list; metrics: studio metric <- TRL log key (or a function of a log row), for `import trl`.
    """

    trainer: str
    config: str
    fields: dict[str, str | Callable]
    rows: Callable
    shape: str = "model"
    fixed: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    readme: str = ""
    needs: str = ""  # what to give when `rows` finds nothing (default: the builder's usual words, export._NEEDS)
    metrics: dict[str, str | Callable] = field(default_factory=dict)


@dataclass(frozen=True)
class Algorithm:
    """One policy algorithm, declared once."""

    name: str                      # the CLI's --algo, the run kind, the key everywhere
    title: str                     # what the page shows
    description: str               # one line: what it does, after which paper
    loss: tuple[str, ...]          # its loss in LaTeX (one equation per item)
    config: type | None            # its frozen config dataclass (fields carry help and bounds)
    trainer: Callable | None       # train_x(cfg, run, frame, rewarder) -> metrics per step; None: nothing to train
    data_kinds: tuple[str, ...]    # the data kinds it reads (rlhf_core.data.schema.DATA_KINDS), preferred first
    default_data: str              # the sample table it starts from ("rl_prompts" = sample-rl_prompts)
    data_help: str                 # what its data is, in words
    needs_reward_model: bool = False
    needs_reference: bool = True   # a frozen copy of the start policy (KL tie, implicit rewards)
    presets: dict[str, dict] = field(default_factory=dict)  # preset -> settings that learn on it (make_config)
    collected: str = ""            # "votes" | "ratings": Rate-page feedback it can add to its data
    metrics: dict[str, str] = field(default_factory=dict)   # glossary entries of keys only it logs
    trl: TRLExport | None = None

    @property
    def trains(self) -> bool:
        return self.trainer is not None


def _grpo_batch(cfg) -> int:
    """prompts_per_step * group_size (TRL counts completions per device, GRPO and RLOO)."""
    return cfg.prompts_per_step * cfg.group_size


def _dpo_loss_type(cfg) -> str | list[str]:
    """'sigmoid' (Rafailov 2023), plus TRL's 'sft' loss (the chosen headlines' NLL) when rpo_alpha > 0."""
    return ["sigmoid", "sft"] if cfg.rpo_alpha > 0 else "sigmoid"


def _dpo_loss_weights(cfg) -> list[float] | None:
    """[1, rpo_alpha] when rpo_alpha > 0 (RPO), else None."""
    return [1.0, cfg.rpo_alpha] if cfg.rpo_alpha > 0 else None


def kl_per_completion(row: dict) -> float | None:
    """TRL logs `kl` per token (the mean over completion tokens); times the mean completion length it is
    the sum over a completion's tokens, as the studio's KL keys are (exact for one batch)."""
    kl, length = row.get("kl"), row.get("completions/mean_length")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (kl, length))
    return kl * length if numbers else None


_COMMON_TRL = {"weight_decay": "weight_decay", "max_grad_norm": "max_grad_norm", "seed": "seed"}
_POLICY_METRICS = {"loss/policy": "loss", "loss/val": "eval_loss", "optim/lr": "learning_rate",
                   "policy/entropy": "entropy", "trl/grad_norm": "grad_norm"}
_SAMPLED_METRICS = {**_POLICY_METRICS, "reward/mean": "reward", "reward/std": "reward_std",
                    "completion/length": "completions/mean_length", "policy/clipfrac": "clip_ratio/region_mean"}

ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm(
        name="sft", title="SFT",
        description="Supervised fine-tuning: imitate expert headlines (the seed's expert data, weighted x2). "
                    "The usual first step (Ouyang et al. 2022).",
        loss=(r"\mathcal{L}_{SFT}(\theta) = -\frac{1}{\sum_i w_i}\sum_i w_i \sum_t \log \pi_\theta(y_{i,t} \mid x_i, y_{i,<t})",),
        config=SFTConfig, trainer=sft.train_sft, needs_reference=False,
        data_kinds=("demonstrations", "ratings"), default_data="expert_demonstrations",
        data_help="Expert demonstrations (or ratings: the best-rated headlines).",
        # smollm2: LoRA (r 16 on every linear layer), bench/bench_smollm2.py
        presets={"tiny": {"lr": 3e-4, "steps": 40}, "smollm2": {"lr": 3e-4, "batch_size": 8, "steps": 30, "lora_r": 16}},
        trl=TRLExport(trainer="SFTTrainer", config="SFTConfig", rows=export_rows.sft_rows,
                      fields={"learning_rate": "lr", "per_device_train_batch_size": "batch_size", "max_steps": "steps",
                              "max_length": "max_length", "warmup_steps": "warmup_steps", **_COMMON_TRL},
                      fixed={"completion_only_loss": True, "logging_steps": 1},  # the studio's loss covers the headline only
                      note="the loss covers the completion (the headline) only; accelerate splits the batches over the processes",
                      metrics={**_POLICY_METRICS, "loss/train": "loss", "trl/token_accuracy": "mean_token_accuracy"}),
    ),
    Algorithm(
        name="ppo", title="PPO",
        description="Sample headlines, score them with the reward model minus a per-token KL penalty to the frozen "
                    "reference, and take clipped policy-gradient steps with a learned value baseline (GAE). Ouyang et al. 2022.",
        loss=(r"r_t = r_\phi(x, y)\,[t = T] \;-\; \beta \log\frac{\pi_\theta(y_t \mid s_t)}{\pi_{ref}(y_t \mid s_t)}",
              r"\mathcal{L}^{CLIP}(\theta) = -\mathbb{E}_t\big[\min(\rho_t A_t,\ \mathrm{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\, A_t)\big],"
              r"\quad \rho_t = \frac{\pi_\theta(y_t \mid s_t)}{\pi_{old}(y_t \mid s_t)}"),
        config=PPOConfig, trainer=ppo.train_ppo, needs_reward_model=True,
        data_kinds=ARTICLE_KINDS, default_data="rl_prompts",
        data_help="Articles to write headlines for (their headlines are ignored).",
        presets={"tiny": {"lr": 3e-4, "batch_size": 16, "generation": {"temperature": 0.7, "max_new_tokens": 20}},
                 # smollm2, LoRA r 16: 30 steps from SmolLM2 raised the sampled headlines' reward 0.22 -> 0.62 (first
                 # vs last 10 steps, KL 7) while gold stayed 0.17 -> 0.19: start from an SFT run (start_note). From
                 # the LoRA SFT run, 50 steps raised held-out sampled gold (T 1.0, 40 test articles x 4) 0.470 -> 0.745
                 # (win rate 0.78, 0.71 .. 0.83); in training gold 0.54 -> 0.76 (first vs last 10 steps), KL 3.6
                 "smollm2": {"lr": 1e-4, "lora_r": 16}},
    ),
    Algorithm(
        name="grpo", title="GRPO",
        description="Sample a group of G headlines per article; each one's advantage is its reward relative to the group "
                    "(no value network); clipped ratio plus a k3 KL penalty to the reference. Shao et al. 2024 (DeepSeekMath).",
        loss=(r"A_i = \frac{r_i - \mathrm{mean}(r_1, \dots, r_G)}{\mathrm{std}(r_1, \dots, r_G)}, \qquad"
              r"\mathbb{D}^{k3}_{KL} = \frac{\pi_{ref}}{\pi_\theta} - \log\frac{\pi_{ref}}{\pi_\theta} - 1",
              r"\mathcal{L}(\theta) = -\frac{1}{G}\sum_{i=1}^{G}\frac{1}{|y_i|}\sum_t \Big[\min(\rho_{i,t} A_i,\ "
              r"\mathrm{clip}(\rho_{i,t}, 1 \pm \epsilon)\, A_i) - \beta\, \mathbb{D}^{k3}_{KL}\Big]"),
        config=GRPOConfig, trainer=grpo.train_grpo, needs_reward_model=True,
        data_kinds=ARTICLE_KINDS, default_data="rl_prompts",
        data_help="Articles to write headlines for (their headlines are ignored).",
        presets={"tiny": {"lr": 2e-4, "steps": 150, "prompts_per_step": 8,
                          "generation": {"temperature": 0.7, "max_new_tokens": 20}},
                 # smollm2: LoRA (r 16 on every linear layer), bench/bench_smollm2.py and bench/bench_grpo.py
                 "smollm2": {"lr": 2e-4, "steps": 60, "lora_r": 16,
                             "generation": {"temperature": 0.7, "max_new_tokens": 24}}},
        trl=TRLExport(trainer="GRPOTrainer", config="GRPOConfig", rows=export_rows.prompt_rows, shape="reward_function",
                      fields={"learning_rate": "lr", "per_device_train_batch_size": _grpo_batch,
                              "num_generations": "group_size", "max_steps": "steps", "beta": "beta", "epsilon": "clip_eps",
                              "loss_type": "loss_type", "scale_rewards": "scale_rewards", "num_iterations": "num_iterations",
                              "max_completion_length": "generation.max_new_tokens", "temperature": "generation.temperature",
                              "top_p": "generation.top_p", **_COMMON_TRL},
                      fixed={"logging_steps": 1},
                      note="sample num_generations headlines per article, advantages relative to the group",
                      # TRL's GRPO logs k3 per token: times the mean length it is the studio's k3 per completion
                      metrics={**_SAMPLED_METRICS, "policy/kl_k3": kl_per_completion}),
    ),
    Algorithm(
        name="rloo", title="RLOO",
        description="REINFORCE with a leave-one-out baseline: k headlines per article, each one's advantage its "
                    "KL-penalised reward minus the mean of the other k - 1 (no value network, no per-token credit). "
                    "Ahmadian et al. 2024.",
        loss=(r"R_i = r_\phi(x, y_i) - \beta \sum_t \log\frac{\pi_{old}(y_{i,t} \mid s_t)}{\pi_{ref}(y_{i,t} \mid s_t)}, \qquad "
              r"A_i = R_i - \frac{1}{k-1}\sum_{j \neq i} R_j",
              r"\mathcal{L}(\theta) = -\frac{1}{k}\sum_{i=1}^{k} A_i \log \pi_\theta(y_i \mid x)"),
        config=rloo.RLOOConfig, trainer=rloo.train_rloo, needs_reward_model=True,
        data_kinds=ARTICLE_KINDS, default_data="rl_prompts",
        data_help="Articles to write headlines for (their headlines are ignored).",
        # tiny: 150 steps from the preset against a quick MiniLM reward model raise the held-out greedy headlines'
        # proxy reward by +0.041 (95% CI 0.010..0.072, 80 articles), gold +0.021 (not significant), like GRPO's
        # preset in the same run (+0.049, gold +0.026). smollm2: LoRA r 16 at GRPO's lr, sampling at T 1.0 (TRL's):
        # 50 steps from the LoRA SFT run raised held-out sampled gold (T 1.0, 40 test articles x 4) 0.470 -> 0.820,
        # higher on 40 of 40 articles. At T 0.7 SFT's samples already scored gold ~0.79 and RLOO stayed level (0.79 ->
        # 0.78): the rewards' spread in a batch was half T 1.0's (std 0.18 against 0.35), little to learn from. From
        # SmolLM2 itself (T 0.7) the proxy rose 0.36 -> 0.57 while gold barely moved (0.26 -> 0.30): start from SFT.
        presets={"tiny": {"lr": 5e-5, "steps": 150, "prompts_per_step": 8, "group_size": 4,
                          "generation": {"temperature": 0.7, "max_new_tokens": 20}},
                 "smollm2": {"lr": 2e-4, "lora_r": 16, "steps": 50, "group_size": 4,
                             "generation": {"temperature": 1.0, "max_new_tokens": 24}}},
        trl=TRLExport(trainer="RLOOTrainer", config="RLOOConfig", rows=export_rows.prompt_rows, shape="reward_function",
                      fields={"learning_rate": "lr", "per_device_train_batch_size": _grpo_batch,
                              "num_generations": "group_size", "max_steps": "steps", "beta": "beta", "epsilon": "clip_eps",
                              "num_iterations": "num_iterations", "normalize_advantages": "normalize_advantages",
                              "max_completion_length": "generation.max_new_tokens", "temperature": "generation.temperature",
                              "top_p": "generation.top_p", **_COMMON_TRL},
                      fixed={"logging_steps": 1},
                      note="sample num_generations headlines per article, each against the mean of the others",
                      # TRL's RLOO logs k1 per token (its reward penalty, summed per sequence): times the mean length
                      metrics={**_SAMPLED_METRICS, "policy/kl_k1": kl_per_completion}),
    ),
    Algorithm(
        name="dpo", title="DPO",
        description="Learn straight from preference pairs, no reward model and no sampling: raise the chosen headline's "
                    "likelihood relative to the rejected one, measured against the reference. Rafailov et al. 2023. "
                    "rpo_alpha > 0 also keeps the chosen headlines likely (RPO, Pang et al. 2024; on by default for "
                    "smollm2, which has never written a headline).",
        loss=(r"\mathcal{L}_{DPO}(\theta) = -\log \sigma\Big(\beta \log\frac{\pi_\theta(y_w|x)}{\pi_{ref}(y_w|x)} - "
              r"\beta \log\frac{\pi_\theta(y_l|x)}{\pi_{ref}(y_l|x)}\Big)",
              r"\mathcal{L}_{RPO} = \mathcal{L}_{DPO} - \alpha \frac{\sum_i \log \pi_\theta(y_{w,i}|x_i)}{\sum_i |y_{w,i}|}, "
              r"\quad \alpha = \text{rpo\_alpha}"),
        config=DPOConfig, trainer=dpo.train_dpo,
        data_kinds=("preferences",), default_data="train_preferences", collected="votes",
        data_help="Preference pairs (prompt, chosen, rejected), also those collected on the Rate page.",
        # smollm2 (LoRA r 16), 50 steps from SmolLM2, which has never written a headline: pure DPO at lr 5e-5 moved
        # the probe headlines' gold 0.16 -> 0.21; at lr 5e-4 the margin rose to ~1-2 while the chosen headlines'
        # likelihood fell (both pushed down) and probe gold went 0.29 -> 0.17 by step 20. With RPO's NLL of the
        # chosen headlines (rpo_alpha 1, Pang 2024) at lr 2e-4 the model learns the form too: probe gold 0.30 -> 0.53.
        presets={"tiny": {"lr": 1e-4}, "smollm2": {"lr": 2e-4, "lora_r": 16, "rpo_alpha": 1.0}},
        metrics={"dpo/accuracy": "Share of preference pairs where the policy's implicit reward ranks chosen above rejected.",
                 "dpo/margin": "Mean implicit reward margin beta * (log-ratio chosen - log-ratio rejected).",
                 "dpo/chosen_nll": "Negative log-likelihood per token of the chosen headlines (RPO's term; in the loss "
                                   "only when rpo_alpha > 0)."},
        trl=TRLExport(trainer="DPOTrainer", config="DPOConfig", rows=export_rows.pair_rows,
                      fields={"learning_rate": "lr", "per_device_train_batch_size": "batch_size", "max_steps": "steps",
                              "beta": "beta", "max_length": "max_length", "loss_type": _dpo_loss_type,
                              "loss_weights": _dpo_loss_weights, **_COMMON_TRL},
                      fixed={"logging_steps": 1},
                      note="TRL builds the frozen reference model from MODEL_ID, as the studio does from the SFT policy",
                      metrics={**_POLICY_METRICS, "reward/chosen": "rewards/chosen", "reward/rejected": "rewards/rejected",
                               "dpo/accuracy": "rewards/accuracies", "dpo/margin": "rewards/margins"}),
    ),
    Algorithm(
        name="kto", title="KTO",
        description="Learn from star ratings directly, no pairs and no reward model: headlines rated at or above a "
                    "threshold are desirable, the rest undesirable; raise the first above a KL reference point, push the "
                    "second below it. Ethayarajh et al. 2024.",
        loss=(r"r_\theta(x, y) = \log\frac{\pi_\theta(y \mid x)}{\pi_{ref}(y \mid x)}, \qquad "
              r"z_{ref} = \max\big(0, \mathbb{E}_{x, y'}[r_\theta(x, y')]\big)",
              r"\mathcal{L}_{KTO}(\theta) = \mathbb{E}_{x, y}\big[\lambda_y - v(x, y)\big]",
              r"v(x, y) = \begin{cases} \lambda_D\, \sigma(\beta (r_\theta(x, y) - z_{ref})) & y \text{ desirable} \\ "
              r"\lambda_U\, \sigma(\beta (z_{ref} - r_\theta(x, y))) & y \text{ undesirable} \end{cases}"),
        config=kto.KTOConfig, trainer=kto.train_kto,
        data_kinds=("ratings", "preferences"), default_data="train_ratings", collected="ratings",
        data_help="Rated headlines (stars), also those collected on the Rate page; or preference pairs (chosen = "
                  "desirable, rejected = undesirable).",
        # tiny, on the sample ratings (10% rated 4-5 stars, so lambda_D = 8 puts lambda_D n_D / lambda_U n_U near
        # Ethayarajh's 1): after 100 steps, on 40 held-out articles, desirable headlines' log pi/pi_ref is 5.1 nats
        # above the undesirable ones' and 82% of an article's (desirable, undesirable) pairs are ordered right (50%
        # before); its greedy headlines' gold does not rise (-0.013, 95% CI -0.049..0.023), nor does DPO's preset's
        # (-0.018). With lambda_D = 1 (the paper's default) and lr 1e-4 the policy collapsed (gold -0.37).
        # smollm2 writes sentences, not headlines, and desirable and undesirable headlines share that form: with
        # tiny's balanced weights (beta 0.5, LoRA r 16, lr 2e-4) the two pushes cancelled on the form, both kinds'
        # implicit rewards fell (~-3, ~-4.5) and probe gold moved only 0.17 -> 0.23 in 20 steps (from the LoRA SFT
        # run: held-out gold 0.913 -> 0.855). With the desirable side ahead (lambda_D n_D / lambda_U n_U = 8 x 0.1 /
        # (0.25 x 0.9) ~ 3.6, past Ethayarajh's [1, 4/3]) and beta 0.1 (the paper's; the sigmoid saturates ~5x
        # later than at 0.5), 30 steps from SmolLM2 itself learned the form: probe gold 0.25 -> 0.67, 'Researchers
        # identify 6 new species of beetles near Darexport'; held-out greedy gold 0.357 -> 0.803 (40 test articles,
        # win rate 0.90, 0.80..0.98); seed 1: 0.357 -> 0.837 (win rate 0.93, 0.85..1.0; 475 s on 2 threads).
        presets={"tiny": {"lr": 5e-5, "beta": 0.5, "desirable_weight": 8.0, "steps": 100},
                 "smollm2": {"lr": 2e-4, "beta": 0.1, "desirable_weight": 8.0, "undesirable_weight": 0.25,
                             "lora_r": 16, "steps": 30}},
        metrics={"kto/kl_ref": "KTO's reference point z_ref: max(0, mean log pi/pi_ref) over mismatched (article, "
                               "another headline) pairs, an estimate of KL(pi || pi_ref) over the batch.",
                 "kto/desirable": "KTO: share of the batch's headlines rated at or above the threshold (desirable)."},
        trl=TRLExport(trainer="KTOTrainer", config="KTOConfig", rows=kto.kto_rows,
                      fields={"learning_rate": "lr", "per_device_train_batch_size": "batch_size", "max_steps": "steps",
                              "beta": "beta", "desirable_weight": "desirable_weight",
                              "undesirable_weight": "undesirable_weight", "max_length": "max_length", **_COMMON_TRL},
                      fixed={"loss_type": "kto", "logging_steps": 1},  # Ethayarajh 2024's loss, the one our KTO computes
                      note="TRL builds the frozen reference and the mismatched pairs of the KL reference point itself",
                      readme="KTO: TRL warns when desirable_weight x desirable rows / (undesirable_weight x undesirable "
                             "rows) is outside the paper's range [1, 4/3] (Ethayarajh 2024). The studio's smollm2 "
                             "preset puts it near 3.6 on purpose: a model that has never written these headlines "
                             "learns their form only with the desirable side ahead. There the warning is expected.",
                      needs="give ratings with an article and a headline, or preference pairs.",
                      metrics={**_POLICY_METRICS, "reward/chosen": "rewards/chosen", "reward/rejected": "rewards/rejected",
                               "kto/kl_ref": "kl"}),
    ),
    Algorithm(
        name="bon", title="Best-of-n",
        description="No training: sample n headlines and keep the one the reward model scores highest. A strong baseline "
                    "that costs n times the generation; pick it as a policy on Compare.",
        loss=(r"y^* = \arg\max_{y_j \sim \pi_{ref}(\cdot|x),\ j=1..n} r_\phi(x, y_j)",),
        config=best_of_n.BestOfNConfig, trainer=None, needs_reward_model=True, needs_reference=False,
        data_kinds=ARTICLE_KINDS, default_data="test_ratings",
        data_help="Articles to write headlines for (their headlines are ignored).",
        metrics={"reward/best_mean": "Best-of-n: mean reward-model score of the picked headlines.",
                 "reward/gold_best_mean": "Best-of-n: mean gold score of the picked headlines."},
    ),
)}
TRAINABLE: tuple[str, ...] = tuple(name for name, a in ALGORITHMS.items() if a.trains)  # the run kinds of policies
PRESET_ALIASES = {"tiny-init": "tiny"}


def get_algorithm(name: str) -> Algorithm:
    """The registry entry of `name`; a ConfigError naming the choices for anything else."""
    if name not in ALGORITHMS:
        raise ConfigError(f"Unknown algorithm '{name}': choose one of {', '.join(ALGORITHMS)}.")
    return ALGORITHMS[name]


# Algorithms that only reshape what the policy already writes: from a model that has never written the newsroom's
# headlines they mostly chase the proxy (measured on smollm2, see the presets' comments and README). DPO and KTO
# learn from the rated headlines themselves, and their smollm2 presets learn the form too.
FROM_SFT = ("ppo", "grpo", "rloo")


def start_note(algo: str, policy_spec: str) -> str | None:
    """Advice on where `algo` should start, where measurement says one is due (the Policy page and the CLI show it)."""
    if policy_spec == "smollm2" and algo in FROM_SFT:
        return (f"SmolLM2 writes full sentences, not headlines, and {get_algorithm(algo).title} only reshapes what "
                "it writes: from SmolLM2 itself the reward rises while gold barely moves. Train SFT first and start "
                "from that run (or use DPO or KTO, whose smollm2 presets also learn the form).")
    return None


def preset_of(policy_spec: str) -> str | None:
    """The preset a policy is or started from ('tiny', 'smollm2'), None for anything else.

    A checkpoint folder (a run's final/ or checkpoint-N/) is followed back through its metadata's
    `policy_spec`, so GRPO from a tiny SFT run gets the tiny settings.
    """
    from rlhf_core import paths

    presets = {p for a in ALGORITHMS.values() for p in a.presets}
    spec = str(policy_spec or "").strip()
    for _ in range(8):  # a chain of runs, each started from the one before
        if spec in presets or spec in PRESET_ALIASES:
            return PRESET_ALIASES.get(spec, spec)
        folder = Path(spec).expanduser()
        meta = None
        for candidate in (folder, folder / "final"):
            meta = paths.read_json(candidate / "studio_policy.json", default=None) if folder.is_dir() else None
            if isinstance(meta, dict):
                break
        if not isinstance(meta, dict) or not meta.get("policy_spec"):
            return None
        spec = str(meta["policy_spec"])
    return None


def make_config(algo: str, policy_spec: str = "", paper_defaults: bool = False, **values):
    """The config of `algo` for `policy_spec`: the preset's settings (unless `paper_defaults`), then `values`.

    The dataclass defaults are the papers' values, chosen for 1B+ models trained for hours. On the offline
    presets they barely move the policy (GRPO at lr 1e-5 left `tiny`'s gold flat over 100 steps), so each
    entry's `presets` holds the settings that visibly learn there (bench/bench_lesson.py,
    bench/bench_tiny_loop.py). `generation` may be a dict of GenerationConfig fields; it is merged with the preset's.
    """
    algorithm = get_algorithm(algo)
    cls = algorithm.config
    preset = {} if paper_defaults else dict(algorithm.presets.get(preset_of(policy_spec) or "", {}))
    generation = {**preset.pop("generation", {}), **_as_dict(values.pop("generation", {}))}
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{algo} has no setting {', '.join(unknown)}.")
    merged = {**preset, **values}
    if "generation" in known and generation:
        merged["generation"] = GenerationConfig(**generation)
    return cls(**merged)


def config_from_dict(algo: str, data: dict):
    """`algo`'s config from a saved dict (a run's config.json); unknown keys are ignored."""
    cls = get_algorithm(algo).config
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in data.items() if k in names}
    if isinstance(values.get("generation"), dict):
        values["generation"] = GenerationConfig(**values["generation"])
    return cls(**values)


def _as_dict(value) -> dict:
    if isinstance(value, GenerationConfig):
        return {f.name: getattr(value, f.name) for f in fields(GenerationConfig)}
    return dict(value or {})
