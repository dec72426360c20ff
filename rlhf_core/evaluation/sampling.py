"""Sampling for the evaluation: policies loaded once, headlines sampled as in training, their KL to a reference.

Shapes: A = articles, S = samples per article, B = A * S rows, C = completion tokens.
"""

from __future__ import annotations

from typing import Sequence

CHUNK = 8  # articles per generation batch (one progress step of the evaluation job)


def chunks(items: Sequence, size: int = CHUNK) -> list[list]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def rollout(bundle, articles: Sequence[str], samples: int, max_new_tokens: int, seed: int, temperature: float = 1.0,
            top_p: float = 1.0):
    """(PolicyRun, Rollout): S completions per article as the trainers sample them (temperature 0 = greedy).

    The same loop as RL (rlhf_core.policy.rollout.sample), so the evaluation sees the policy's own
    distribution: a headline may end at once (empty), as it may in training. The Compare page's
    generation forbids that; a policy that learned to write nothing must show it here.
    """
    import torch

    from rlhf_core.policy.rollout import sample
    from rlhf_core.policy.run import PolicyRun

    run = PolicyRun("eval", None, bundle, None, None, next(bundle.model.parameters()).device)
    ids, mask = run.encode_prompts(list(articles), max_new_tokens, 256)  # (A, P)
    generator = torch.Generator(device=run.device).manual_seed(seed)
    with torch.no_grad():
        roll = sample(bundle.model, ids, mask, max_new_tokens=max_new_tokens, temperature=temperature or 1.0, top_p=top_p,
                      stop_ids=run.stop_ids(), pad_id=run.pad_id, repeats=samples, generator=generator,
                      greedy=temperature == 0)  # B = A * S rows
    return run, roll


def sample_headlines(bundle, articles: Sequence[str], samples: int, max_new_tokens: int, seed: int, temperature: float,
                     top_p: float = 1.0) -> list[list[str]]:
    """S headlines per article: result[i][j] is sample j for articles[i]."""
    run, roll = rollout(bundle, articles, samples, max_new_tokens, seed, temperature, top_p)
    flat = run.decode(roll.completion_ids, roll.completion_mask)
    return [flat[i * samples:(i + 1) * samples] for i in range(len(articles))]


def sample_with_kl(bundle, ref_model, articles: Sequence[str], samples: int, max_new_tokens: int, seed: int):
    """S headlines per article sampled at temperature 1, and each one's KL(policy || reference) estimate.

        KL(pi || pi_ref) = E_{y ~ pi} sum_t k3_t,  k3_t = exp(log pi_ref(y_t) - log pi(y_t)) - (...) - 1

    (Schulman 2020, http://joschu.net/blog/kl-approx.html; rlhf_core.policy.losses.kl_k3): unbiased
    and never negative. Returns (headlines (A*S,), kl (A*S,) or None without a reference).
    """
    import torch

    from rlhf_core.policy.losses import kl_k3
    from rlhf_core.policy.rollout import completion_logprobs

    run, roll = rollout(bundle, articles, samples, max_new_tokens, seed)
    headlines = run.decode(roll.completion_ids, roll.completion_mask)
    if ref_model is None:
        return headlines, None
    with torch.no_grad():
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
