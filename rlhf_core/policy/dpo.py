"""DPO: direct preference optimisation (Rafailov et al. 2023) from (prompt, chosen, rejected) pairs.

No reward model and no sampling: the policy raises the likelihood of the chosen headline over the
rejected one, measured relative to the frozen reference, whose log-ratio acts as an implicit
reward r = beta * log(pi / pi_ref). Pairs come from any canonical preferences table, including the
ones raters collect in the app (`RatingsStore.preferences_jsonl()`), or from ratings of the same
article (the higher-scored headline is chosen).
Shapes: B = pairs per step, 2B = rows (chosen_i, rejected_i interleaved), C = answer tokens.
"""

from __future__ import annotations

from typing import Iterator

from rlhf_core.errors import DataError
from rlhf_core.policy.config import DPOConfig
from rlhf_core.policy.run import PolicyRun, answer_loop, finish, optimizer_step


def preference_pairs(frame) -> tuple[list[str], list[str], list[str]]:
    """(prompts, chosen, rejected) from a preferences table, or pairs built from ratings."""
    if "chosen" not in frame.columns and {"article", "headline", "score"} <= set(frame.columns):
        from rlhf_core.reward.data import pairs_from_ratings

        frame = pairs_from_ratings(frame)
    if not {"prompt", "chosen", "rejected"} <= set(frame.columns):
        raise DataError("DPO needs preference pairs: columns prompt, chosen, rejected (or ratings of the same article).")
    frame = frame[(frame["chosen"].astype(str).str.strip() != "") & (frame["rejected"].astype(str).str.strip() != "")
                  & (frame["chosen"].astype(str) != frame["rejected"].astype(str))]
    if frame.empty:
        raise DataError("No usable preference pairs (empty, or chosen equals rejected everywhere).")
    return frame["prompt"].astype(str).tolist(), frame["chosen"].astype(str).tolist(), frame["rejected"].astype(str).tolist()


def train_dpo(cfg: DPOConfig, run: PolicyRun, frame, rewarder) -> Iterator[dict]:
    """Run DPO for cfg.steps steps of cfg.batch_size pairs from `frame`; yield one metrics dict per step."""
    import torch

    from rlhf_core.policy.losses import dpo_loss, rpo_nll
    from rlhf_core.policy.rollout import sequence_logprobs

    prompts, chosen, rejected = preference_pairs(frame)
    model, loop = run.model, answer_loop(run, cfg, frame, len(prompts))
    gen, step, completed = loop.gen, run.start_step, False
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1. a batch of pairs, interleaved (chosen_i, rejected_i) so each prompt's forward runs once
            idx = next(loop.batches)
            prompt_ids, prompt_mask = run.encode_prompts([prompts[i] for i in idx for _ in (0, 1)], gen.max_new_tokens, gen.max_prompt_tokens)
            answer_ids, answer_mask = run.encode_answers([text for i in idx for text in (chosen[i], rejected[i])], gen.max_new_tokens)
            seq = (prompt_ids, prompt_mask, answer_ids, answer_mask)
            # 2. reference sequence log-probs without autograd, policy with
            with torch.no_grad(), run.reference() as ref:
                ref_logps = sequence_logprobs(ref, *seq, group_size=2)  # (2B,)
            policy_logps = sequence_logprobs(model, *seq, group_size=2)  # (2B,)
            # 3. DPO loss on the implicit reward margin
            loss, chosen_r, rejected_r = dpo_loss(policy_logps[0::2], policy_logps[1::2], ref_logps[0::2], ref_logps[1::2], cfg.beta)
            nll = rpo_nll(policy_logps[0::2], answer_mask[0::2].sum(-1))  # 4. RPO: keep the chosen headlines likely
            if cfg.rpo_alpha > 0:
                loss = loss + cfg.rpo_alpha * nll
            optimizer_step(loop.optimizer, loop.params, loss, cfg.max_grad_norm)
            metrics = {
                "step": step, "total_steps": cfg.steps, "loss/policy": float(loss.detach()),
                "dpo/accuracy": float((chosen_r > rejected_r).float().mean()),
                "dpo/margin": float((chosen_r - rejected_r).mean()),
                "reward/chosen": float(chosen_r.mean()), "reward/rejected": float(rejected_r.mean()),
                "dpo/chosen_nll": float(nll.detach()), "policy/beta": cfg.beta,
                "completion/length": float(answer_mask.sum(-1).float().mean()),
                "time/elapsed_s": run.elapsed(),
            }
            run.end_step(metrics, step, loop.probes, rewarder, gen, probe_rewards=True)
            yield metrics
        completed = True
    finally:
        finish(run, step, completed)
