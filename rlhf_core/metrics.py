"""One metrics vocabulary for every trainer, chart and CLI line.

Every training step yields a flat dict with slash-grouped keys. PPO, GRPO, DPO, SFT and the reward
model use the same names for the same quantities, so one chart function draws them all and the UI
shows this glossary next to each chart. A key means one thing: the KL to the reference is
`policy/kl_k1` where a trainer sums Ziegler's k1 = log pi - log pi_ref over a completion (PPO) and
`policy/kl_k3` where it sums Schulman's k3 (GRPO), never both under one name, so a chart that
overlays runs only overlays like with like. Keys only one algorithm logs are declared with it
(rlhf_core.policy.algorithms, `metrics=`); `glossary()` is this table plus theirs.
Bookkeeping keys: `step`, `total_steps`, `epoch`, `time/elapsed_s`, `phase`, `stage`.
"""

from __future__ import annotations

GLOSSARY: dict[str, str] = {
    "reward/mean": "Mean reward-model score of the sampled headlines (the proxy the policy optimises).",
    "reward/gold_mean": "Mean score of the same headlines by the hidden gold persona (synthetic data only; never used for training). Proxy up while gold goes down = reward hacking.",
    "reward/std": "Spread (standard deviation) of the reward-model scores in the batch: GRPO learns nothing from groups whose headlines all score the same.",
    "reward/chosen": "Implicit reward beta x log(pi / pi_ref) of the headlines people preferred (chosen in a pair, or rated desirable).",
    "reward/rejected": "Implicit reward beta x log(pi / pi_ref) of the headlines people did not prefer (rejected, or rated undesirable).",
    "reward/kl_penalised": "Reward minus beta x (k1 KL per completion): what an algorithm with the KL penalty in its reward (PPO) actually maximises.",
    "policy/kl_k1": "KL to the frozen reference (SFT) policy, per completion, by the k1 estimator: the sum over the "
                    "headline's tokens of log pi - log pi_ref (unbiased, can dip below 0). Grows as the policy drifts away.",
    "policy/kl_k3": "KL to the frozen reference (SFT) policy, per completion, by Schulman's k3 estimator: the sum over "
                    "the headline's tokens of pi_ref/pi - log(pi_ref/pi) - 1 (never below 0). Grows as the policy drifts away.",
    "policy/entropy": "Mean per-token entropy of the policy: falls as generations become more deterministic.",
    "policy/clipfrac": "Fraction of tokens whose probability ratio was clipped (PPO/GRPO trust region active).",
    "policy/approx_kl": "Schulman's k3 estimate of KL(old || new) between the sampling and the updated policy.",
    "policy/beta": "Current KL coefficient (changes only with the adaptive controller).",
    "loss/policy": "Policy loss (clipped surrogate for PPO/GRPO, -log sigmoid margin for DPO, NLL for SFT).",
    "loss/value": "Value-head loss (PPO only).",
    "loss/train": "Training loss of the reward model (or SFT) on the current batch.",
    "loss/val": "Loss on the held-out validation split.",
    "loss/pointwise": "Reward model: MSE between sigmoid(reward) and the human score normalised to [0, 1] (the seed's loss, fixed).",
    "loss/pairwise": "Reward model: Bradley-Terry loss -log sigmoid(r_chosen - r_rejected - margin) on preference pairs (Christiano et al. 2017).",
    "completion/length": "Mean generated headline length in tokens.",
    "eval/spearman": "Spearman rank correlation between reward-model scores and human scores on validation data.",
    "eval/pairwise_accuracy": "Share of held-out preference pairs the reward model orders correctly.",
    "optim/lr": "Learning rate at this step (after warm-up / decay).",
    # Where a step's wall time goes (GRPO, RLOO: PolicyRun.timer); they add up to about the step's time.
    "time/generation_s": "Seconds of this step spent sampling headlines (the rollouts, KV cache).",
    "time/scoring_s": "Seconds of this step spent scoring headlines with the reward model (and the gold persona).",
    "time/reference_s": "Seconds of this step spent on the reference model's log-probs (with LoRA: the adapter switched off).",
    "time/forward_s": "Seconds of this step spent on the policy's forward pass with autograd (log-probs, entropy, loss).",
    "time/backward_s": "Seconds of this step spent on the backward pass (with LoRA: gradients of the adapter only).",
    "time/optimiser_s": "Seconds of this step spent clipping gradients and taking the AdamW step.",
    # Logged by TRL in runs trained with an exported bundle and imported back (rlhf_core.trl_import);
    # what TRL logs under a studio name's meaning is mapped onto that name instead.
    "trl/grad_norm": "Run trained with TRL: global gradient norm before clipping (max_grad_norm).",
    "trl/pairwise_accuracy": "Reward model trained with TRL: share of the TRAINING batch's pairs ranked the right way round (held-out pairs: eval/pairwise_accuracy).",
    "trl/token_accuracy": "SFT with TRL: share of the headline tokens the policy predicts exactly (greedy), on the training batch.",
}


BOOKKEEPING = ("step", "total_steps", "epoch", "time/elapsed_s", "phase", "stage", "samples", "summary")


def glossary() -> dict[str, str]:
    """Every metric key with its one meaning: the shared vocabulary above and each algorithm's own keys."""
    from rlhf_core.policy.algorithms import ALGORITHMS

    return {**GLOSSARY, **{key: text for a in ALGORITHMS.values() for key, text in a.metrics.items()}}


def describe(key: str) -> str:
    """The glossary entry of a metric key, or an empty string."""
    return GLOSSARY.get(key) or glossary().get(key, "")
