"""Sampling for the evaluation: policies loaded once, headlines at temperature 1 with their KL to a reference.

Shapes: A = articles, S = samples per article, B = A * S rows, C = completion tokens.
"""

from __future__ import annotations

from typing import Sequence

CHUNK = 8  # articles per generation batch (one progress step of the evaluation job)


def chunks(items: Sequence, size: int = CHUNK) -> list[list]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def sample_with_kl(bundle, ref_model, articles: Sequence[str], samples: int, max_new_tokens: int, seed: int):
    """S headlines per article sampled at temperature 1, and each one's KL(policy || reference) estimate.

        KL(pi || pi_ref) = E_{y ~ pi} sum_t k3_t,  k3_t = exp(log pi_ref(y_t) - log pi(y_t)) - (...) - 1

    (Schulman 2020, http://joschu.net/blog/kl-approx.html; rlhf_core.policy.losses.kl_k3): unbiased
    and never negative. Returns (headlines (A*S,), kl (A*S,) or None without a reference).
    """
    import torch

    from rlhf_core.policy.losses import kl_k3
    from rlhf_core.policy.rollout import completion_logprobs, sample
    from rlhf_core.policy.train import PolicyRun

    run = PolicyRun("eval", None, bundle, None, None, next(bundle.model.parameters()).device)
    ids, mask = run.encode_prompts(list(articles), max_new_tokens, 256)  # (A, P)
    generator = torch.Generator(device=run.device).manual_seed(seed)
    with torch.no_grad():
        roll = sample(bundle.model, ids, mask, max_new_tokens=max_new_tokens, temperature=1.0, stop_ids=run.stop_ids(),
                      pad_id=run.pad_id, repeats=samples, generator=generator)  # B = A * S rows
        headlines = run.decode(roll.completion_ids, roll.completion_mask)
        if ref_model is None:
            return headlines, None
        ref_logprobs = completion_logprobs(ref_model, roll.prompt_ids, roll.prompt_mask, roll.completion_ids,
                                           roll.completion_mask, 1.0, group_size=samples)  # (B, C)
        kl = (kl_k3(roll.logprobs, ref_logprobs) * roll.completion_mask).sum(-1)  # (B,)
    return headlines, kl.cpu().numpy().astype(float)


class Models:
    """Policies loaded once per evaluation (a start model serves every policy that began there)."""

    def __init__(self, device: str):
        self.device, self.loaded = device, {}

    def get(self, spec: str):
        if spec not in self.loaded:
            from rlhf_core.models.registry import load_policy

            bundle = load_policy(spec, device=self.device, cache=False)
            bundle.model.eval()
            self.loaded[spec] = bundle
        return self.loaded[spec]

    def drop(self, spec: str) -> None:
        self.loaded.pop(spec, None)
