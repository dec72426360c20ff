"""KTO: Kahneman-Tversky optimisation (Ethayarajh et al. 2024) straight from star ratings, as TRL's KTOTrainer.

Product teams give stars, not pairs. KTO needs only a label per rated headline: rated at or above
`threshold` it is desirable, below it undesirable; no pairs, no reward model, no sampling. The policy
raises the implicit reward r = log pi/pi_ref of desirable headlines above a reference point z_ref
(an estimate of KL(pi || pi_ref) from mismatched article-headline pairs) and pushes undesirable ones
below it, each through a sigmoid that saturates: a few very bad headlines cannot dominate.
Preference pairs work too: chosen = desirable, rejected = undesirable (TRL's unpaired form of a pair).
Shapes: B = rated headlines per step, 2B = rows (each headline, then its article with another headline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from rlhf_core.bounds import bounded
from rlhf_core.errors import DataError
from rlhf_core.policy.config import _Common
from rlhf_core.policy.run import PolicyRun, answer_loop, finish, optimizer_step


@dataclass(frozen=True)
class KTOConfig(_Common):
    """KTO from ratings (Ethayarajh et al. 2024); defaults are the paper's and TRL's KTOConfig (1.16)."""

    lr: float = bounded(1e-6, "AdamW learning rate (TRL's KTO: 1e-6; Ethayarajh 2024: 5e-7 for 7B+ models).", 1e-9, 0.5)
    batch_size: int = bounded(8, "Rated headlines per step, at least 2: the reference point pairs each article with "
                                 "another example's headline (Ethayarajh 2024: 32; smaller on a CPU).", 2, 1024)
    beta: float = bounded(0.1, "How far the policy may move from the reference: the implicit reward's scale "
                               "(Ethayarajh 2024 and TRL: 0.1).", 1e-4, 100.0)
    threshold: float = bounded(0.75, "Ratings at or above this normalised score are desirable, below it undesirable "
                                     "(0.75 = 4 of 5 stars; scores are normalised to [0, 1] on load).", 0.0, 1.0)
    desirable_weight: float = bounded(1.0, "lambda_D, the weight of desirable headlines' losses. With more undesirable "
                                           "than desirable ones, raise it so lambda_D n_D / (lambda_U n_U) is in "
                                           "[1, 4/3] (Ethayarajh 2024, section 4.2). A model that has never written "
                                           "such headlines (SmolLM2) needs it further ahead: its preset has ~3.6.", 0.01, 100.0)
    undesirable_weight: float = bounded(1.0, "lambda_U, the weight of undesirable headlines' losses (Ethayarajh 2024 "
                                             "and TRL: 1.0).", 0.01, 100.0)
    max_length: int = bounded(256, "Most tokens of prompt + headline (the article is cut, not the headline).", 32, 8192)


def unpaired_examples(frame, threshold: float) -> tuple[list[str], list[str], np.ndarray]:
    """(articles, headlines, desirable) from rated headlines (score >= threshold: desirable) or from preference
    pairs (chosen desirable, rejected undesirable). Rows without an article or a headline are left out."""
    columns = set(frame.columns)
    if {"prompt", "chosen", "rejected"} <= columns:
        articles = frame["prompt"].astype(str).tolist() * 2
        headlines = frame["chosen"].astype(str).tolist() + frame["rejected"].astype(str).tolist()
        desirable = np.array([True] * len(frame) + [False] * len(frame))
    elif {"article", "headline", "score"} <= columns:
        articles, headlines = frame["article"].astype(str).tolist(), frame["headline"].astype(str).tolist()
        desirable = frame["score"].to_numpy(dtype=float) >= threshold
    else:
        raise DataError("KTO needs rated headlines (article, headline, score) or preference pairs (prompt, chosen, rejected).")
    keep = [i for i, (a, h) in enumerate(zip(articles, headlines)) if a.strip() and h.strip()]
    if not keep:
        raise DataError("No usable rated headlines: every row lacks an article or a headline.")
    return [articles[i] for i in keep], [headlines[i] for i in keep], desirable[keep]


def kto_rows(tables: dict[str, list], cfg: KTOConfig, style: str) -> list[dict]:
    """The TRL bundle's rows, {prompt, completion, label}: the same examples as `unpaired_examples`."""
    from rlhf_core.export_rows import frame_of, trl_completion, trl_prompt

    rows = []
    for kind in ("ratings", "preferences"):
        frame = frame_of(tables, kind)
        if frame is None:
            continue
        try:
            articles, headlines, desirable = unpaired_examples(frame, cfg.threshold)
        except DataError:
            continue
        rows += [{"prompt": trl_prompt(a, style), "completion": trl_completion(h, style), "label": bool(d)}
                 for a, h, d in zip(articles, headlines, desirable)]
    return rows


def train_kto(cfg: KTOConfig, run: PolicyRun, frame, rewarder) -> Iterator[dict]:
    """Run KTO for cfg.steps steps of cfg.batch_size rated headlines from `frame`; yield one metrics dict per step."""
    import torch

    from rlhf_core.policy.losses import kto_loss, kto_reference_point
    from rlhf_core.policy.rollout import sequence_logprobs

    articles, headlines, desirable = unpaired_examples(frame, cfg.threshold)
    model, loop = run.model, answer_loop(run, cfg, frame, len(articles))
    gen, step, completed = loop.gen, run.start_step, False
    try:
        for step in range(run.start_step + 1, cfg.steps + 1):
            # 1. a batch of rated headlines; each article also gets the previous example's headline (TRL's
            #    mismatched pair), interleaved so each prompt's forward runs once for both
            idx = next(loop.batches)
            answers = [text for j, i in enumerate(idx) for text in (headlines[i], headlines[idx[j - 1]])]
            prompt_ids, prompt_mask = run.encode_prompts([articles[i] for i in idx for _ in (0, 1)], gen.max_new_tokens,
                                                         gen.max_prompt_tokens)
            answer_ids, answer_mask = run.encode_answers(answers, gen.max_new_tokens)
            seq = (prompt_ids, prompt_mask, answer_ids, answer_mask)
            # 2. sequence log-probs: the reference without autograd, the policy with
            with torch.no_grad(), run.reference() as ref:
                ref_logps = sequence_logprobs(ref, *seq, group_size=2)  # (2B,)
            policy_logps = sequence_logprobs(model, *seq, group_size=2)  # (2B,)
            # 3. the reference point z_ref from the mismatched pairs (no gradient), then the KTO loss
            kl_ref = kto_reference_point(policy_logps[1::2], ref_logps[1::2])
            labels = torch.as_tensor(desirable[idx], device=run.device)  # (B,)
            loss, good, bad = kto_loss(policy_logps[0::2], ref_logps[0::2], labels, kl_ref, cfg.beta,
                                       cfg.desirable_weight, cfg.undesirable_weight)
            optimizer_step(loop.optimizer, loop.params, loss, cfg.max_grad_norm)
            metrics = {
                "step": step, "total_steps": cfg.steps, "loss/policy": float(loss.detach()),
                "reward/chosen": float(good.mean()) if len(good) else None,
                "reward/rejected": float(bad.mean()) if len(bad) else None,
                "kto/kl_ref": float(kl_ref), "kto/desirable": float(labels.float().mean()), "policy/beta": cfg.beta,
                "completion/length": float(answer_mask[0::2].sum(-1).float().mean()), "time/elapsed_s": run.elapsed(),
            }
            run.end_step(metrics, step, loop.probes, rewarder, gen, probe_rewards=True)
            yield metrics
        completed = True
    finally:
        finish(run, step, completed)
