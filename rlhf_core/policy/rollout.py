"""A lean generation loop for RL and log-probs computed only where they are needed.

Why not `model.generate`: RL needs, for every sampled token, its log-probability under the
sampling policy. Recording it inside the loop (from the logits the sampler already has) means no
second "old policy" forward when each batch is used once. The loop keeps the KV cache, runs the
prompt prefill once per distinct article (GRPO's G completions share it), and stops a row at
end-of-text or at a newline (the end of a headline).

`completion_logprobs` runs the transformer body on prompt + completion but applies the LM head
only to the C positions that predict completion tokens: the (B, T, V) logits of the prompt are
never built (V = 49k for SmolLM2).
Shapes: B = completions, P = prompt tokens (left-padded), C = completion tokens (right-padded),
T = P + C, H = hidden size, V = vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlhf_core.policy.losses import entropy_from_logits


@dataclass
class Rollout:
    """Sampled completions and what RL needs to know about them."""

    prompt_ids: torch.Tensor  # (B, P) left-padded
    prompt_mask: torch.Tensor  # (B, P)
    completion_ids: torch.Tensor  # (B, C) right-padded with the pad id
    completion_mask: torch.Tensor  # (B, C) 1 for sampled tokens, the stop token included
    logprobs: torch.Tensor  # (B, C) log pi(y_t) of the sampled tokens at the sampling temperature

    @property
    def lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(-1)  # (B,)


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that skip left padding, as `generate` computes them.  (B, T) -> (B, T)"""
    return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)


def nucleus_mask(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero the tokens outside the smallest set whose probability reaches top_p (Holtzman 2020).  (B, V)"""
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    outside = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep a token if the mass before it is < top_p
    sorted_probs = sorted_probs.masked_fill(outside, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs)


@torch.no_grad()
def sample(model, prompt_ids, prompt_mask, *, max_new_tokens: int, temperature: float = 1.0, top_p: float = 1.0,
           stop_ids=(), pad_id: int = 0, repeats: int = 1, greedy: bool = False, generator=None) -> Rollout:
    """Sample completions with the KV cache, recording each sampled token's log-probability.

    Args:
        prompt_ids, prompt_mask: (N, P) distinct prompts, left-padded.
        repeats: completions per prompt (GRPO's group size): the prefill runs once per prompt and
            its cache is repeated, so rows i*repeats .. (i+1)*repeats-1 continue prompt i.
        stop_ids: token ids that end a completion (end-of-text, newline tokens); kept in the mask.
        greedy: argmax instead of sampling (probe headlines).
    Returns: a Rollout with B = N * repeats rows.
    """
    device = prompt_ids.device
    stop = torch.tensor(sorted(set(int(i) for i in stop_ids)), dtype=torch.long, device=device)
    # 1. prefill the distinct prompts, keep only the last position's logits
    out = model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=position_ids(prompt_mask),
                use_cache=True, logits_to_keep=1)
    cache, logits = out.cache, out.logits[:, -1, :]  # (N, V)
    if repeats > 1:
        cache.batch_repeat_interleave(repeats)
        logits = logits.repeat_interleave(repeats, dim=0)  # (B, V)
        prompt_ids = prompt_ids.repeat_interleave(repeats, dim=0)
        prompt_mask = prompt_mask.repeat_interleave(repeats, dim=0)
    B = prompt_ids.shape[0]
    attention = prompt_mask.clone()
    next_position = position_ids(prompt_mask)[:, -1] + 1  # (B,)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    tokens, logps, alive = [], [], []
    for _ in range(max_new_tokens):
        # 2. sample one token per row from softmax(logits / T), nucleus-filtered
        scaled = logits.float() / temperature  # (B, V)
        logp_all = torch.log_softmax(scaled, dim=-1)
        if greedy:
            token = scaled.argmax(-1)
        else:
            probs = logp_all.exp()
            if top_p < 1.0:
                probs = nucleus_mask(probs, top_p)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)
        token = torch.where(finished, torch.full_like(token, pad_id), token)
        # 3. record the token, its log-prob under the sampling policy, and whether it counts
        tokens.append(token)
        logps.append(logp_all.gather(-1, token[:, None]).squeeze(-1))
        alive.append(~finished)
        finished = finished | torch.isin(token, stop)
        if bool(finished.all()):
            break
        # 4. one cached forward step for the new token
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        out = model(input_ids=token[:, None], attention_mask=attention, position_ids=next_position[:, None],
                    cache=cache, use_cache=True)
        cache, logits, next_position = out.cache, out.logits[:, -1, :], next_position + 1
    mask = torch.stack(alive, dim=1).long()  # (B, C)
    return Rollout(prompt_ids, prompt_mask, torch.stack(tokens, dim=1), mask, torch.stack(logps, dim=1) * mask)


def backbone(model):
    """The transformer body under the LM head (`model.model` for Llama, `model.transformer` for GPT-2)."""
    body = getattr(model, getattr(model, "base_model_prefix", "model"), None)
    if body is None:
        raise TypeError(f"{type(model).__name__} has no transformer body '{model.base_model_prefix}'")
    return body


def completion_hidden(model, prompt_ids, prompt_mask, completion_ids, completion_mask, group_size: int = 1) -> torch.Tensor:
    """Final hidden states at the C positions that predict the completion tokens.  -> (B, C, H)

    With group_size = G > 1 (rows i*G .. i*G+G-1 share prompt i, as GRPO's groups do) the prompt
    runs once per group and its KV cache (inside autograd) is repeated G times: the same numbers
    as a forward over every row, with N*P + B*C tokens instead of B*(P + C).
    """
    body = backbone(model)
    if group_size > 1:
        N = prompt_ids.shape[0] // group_size
        first = torch.arange(N, device=prompt_ids.device) * group_size  # one row per group
        prefill = body(input_ids=prompt_ids[first], attention_mask=prompt_mask[first],
                       position_ids=position_ids(prompt_mask[first]), use_cache=True)
        cache = prefill.cache
        cache.batch_repeat_interleave(group_size)
        last = prefill.last_hidden_state[:, -1:].repeat_interleave(group_size, dim=0)  # (B, 1, H) predicts token 0
        if completion_ids.shape[1] == 1:
            return last
        attention = torch.cat([prompt_mask, completion_mask.to(prompt_mask.dtype)], dim=1)  # (B, T)
        P = prompt_ids.shape[1]
        rest = body(input_ids=completion_ids[:, :-1], attention_mask=attention[:, :-1], cache=cache, use_cache=True,
                    position_ids=position_ids(attention)[:, P:-1]).last_hidden_state  # (B, C-1, H)
        return torch.cat([last, rest], dim=1)
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)  # (B, T)
    attention = torch.cat([prompt_mask, completion_mask.to(prompt_mask.dtype)], dim=1)  # (B, T)
    hidden = body(input_ids=input_ids, attention_mask=attention, position_ids=position_ids(attention)).last_hidden_state  # (B, T, H)
    P, C = prompt_ids.shape[1], completion_ids.shape[1]
    return hidden[:, P - 1:P + C - 1]  # position t predicts token t + 1


def token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[ids] without materialising the (B, C, V) log-softmax.  (B, C, V), (B, C) -> (B, C)"""
    return logits.gather(-1, ids[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def completion_logprobs(model, prompt_ids, prompt_mask, completion_ids, completion_mask, temperature: float = 1.0,
                        with_entropy: bool = False, return_hidden: bool = False, group_size: int = 1):
    """Log-probs of the completion tokens under `model` (LM head on the C completion positions only).

    Returns: logprobs (B, C) (0 on padding); plus entropy (B, C) (detached) if `with_entropy`,
    plus the hidden states (B, C, H) if `return_hidden` (PPO's value head reads them).
    group_size > 1 shares each group's prompt forward (see completion_hidden).
    Wrap in `torch.no_grad()` for the reference model.
    """
    hidden = completion_hidden(model, prompt_ids, prompt_mask, completion_ids, completion_mask, group_size)  # (B, C, H)
    logits = model.get_output_embeddings()(hidden).float() / temperature  # (B, C, V)
    logprobs = token_logprobs(logits, completion_ids) * completion_mask  # (B, C)
    result = [logprobs]
    if with_entropy:
        with torch.no_grad():
            result.append(entropy_from_logits(logits.detach()))
    if return_hidden:
        result.append(hidden)
    return result[0] if len(result) == 1 else tuple(result)


def sequence_logprobs(model, prompt_ids, prompt_mask, completion_ids, completion_mask, group_size: int = 1) -> torch.Tensor:
    """Sum of completion-token log-probs per sequence, log pi(y | x) (DPO).  -> (B,)"""
    return completion_logprobs(model, prompt_ids, prompt_mask, completion_ids, completion_mask, group_size=group_size).sum(-1)
