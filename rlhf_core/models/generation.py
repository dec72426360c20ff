"""Sampling headlines from a policy: temperature, nucleus (top-p), stop at the end of the headline.

The seed called `generate(temperature=0.7)` without `do_sample=True`, so its "temperature" did
nothing: decoding was greedy. Here temperature > 0 samples from softmax(logits / T), optionally
restricted to the smallest set of tokens whose probability reaches top_p (Holtzman et al. 2020,
"The Curious Case of Neural Text Degeneration"); temperature == 0 is greedy decoding.

Reproducibility: the same seed gives the same headlines, also while a training job in another
thread draws from torch's global random generator. So the token is drawn inside a logits
processor with a private `torch.Generator`, which leaves a one-hot distribution for HF's own
sampling step (that step then has nothing random left to do). One processor call can use a
different temperature per row, so a whole Compare grid (temperatures x samples) is one batch.

Shapes: B = rows in the batch (articles x samples), T = tokens so far, V = vocabulary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from rlhf_core.models.prompts import DEFAULT_MAX_NEW_TOKENS, build_prompt, clean_headline

DEFAULT_BATCH_SIZE = 32


def _processor_base():
    from transformers import LogitsProcessor

    return LogitsProcessor


def nucleus_filter(logits, top_p: float):
    """Keep the smallest set of tokens whose probabilities sum to >= top_p; others get -inf.

    Args: logits (B, V). Returns: filtered logits (B, V). top_p >= 1 keeps everything.
    """
    import torch

    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)  # (B, V)
    drop_sorted = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before this token already enough
    drop = torch.zeros_like(drop_sorted).scatter(1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


class SeededSampler:
    """A logits processor that samples the next token itself, with its own torch.Generator.

    Row b uses temperatures[b] (0 = greedy). It also forbids ending the headline on the first
    new token (newline or end-of-text), so no row comes back empty.
    """

    def __init__(self, temperatures, top_p: float, generator, prompt_length: int, begin_banned: list[int]):
        self.temperatures = temperatures  # (B,)
        self.top_p = top_p
        self.generator = generator
        self.prompt_length = prompt_length
        self.begin_banned = begin_banned

    def __call__(self, input_ids, scores):  # input_ids (B, T), scores (B, V)
        import torch

        scores = scores.float()
        if input_ids.shape[1] == self.prompt_length and self.begin_banned:
            scores[:, self.begin_banned] = float("-inf")
        temperatures = self.temperatures.to(scores.device).unsqueeze(1)  # (B, 1)
        greedy = temperatures.squeeze(1) <= 0  # (B,)
        logits = scores / temperatures.clamp_min(1e-6)  # (B, V)
        logits = nucleus_filter(logits, self.top_p)
        probs = torch.softmax(logits, dim=-1)  # (B, V)
        sampled = torch.multinomial(probs, 1, generator=self.generator).squeeze(1)  # (B,)
        chosen = torch.where(greedy, scores.argmax(dim=-1), sampled)  # (B,)
        one_hot = torch.full_like(scores, float("-inf"))
        return one_hot.scatter(1, chosen.unsqueeze(1), 0.0)  # HF's sampler can only pick `chosen`


def _as_processor(sampler: SeededSampler):
    base = _processor_base()

    class _Processor(base):
        def __call__(self, input_ids, scores):
            return sampler(input_ids, scores)

    return _Processor()


def stop_token_ids(tokenizer, model=None) -> tuple[list[int], list[int]]:
    """(end-of-text ids, ids of tokens that contain a newline) for this tokenizer, computed once."""
    cached = getattr(tokenizer, "_studio_stop_ids", None)
    if cached is not None:
        return cached
    eos: set[int] = set()
    if tokenizer.eos_token_id is not None:
        eos.add(int(tokenizer.eos_token_id))
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(config_eos, int):
        eos.add(config_eos)
    elif isinstance(config_eos, (list, tuple)):
        eos.update(int(i) for i in config_eos)
    for token in ("<|im_end|>", "<|endoftext|>", "</s>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id >= 0:
            eos.add(token_id)
    vocab = len(tokenizer)
    pieces = tokenizer.batch_decode([[i] for i in range(vocab)], skip_special_tokens=False)
    newline = sorted(i for i, piece in enumerate(pieces) if "\n" in piece and i not in eos)
    result = (sorted(eos), newline)
    try:
        tokenizer._studio_stop_ids = result
    except AttributeError:
        pass
    return result


def _prefill(model, input_ids, attention_mask):
    """The key/value cache of all prompt tokens but the last (generate() reads that one itself).

    Positions count only real tokens, as generate() computes them for left-padded rows.
    Returns (keyword generate() takes it by, cache), or (None, None) for one-token prompts.
    transformers 5.x renamed `past_key_values` to `cache`; the output tells which one it speaks.
    """
    if input_ids.shape[1] < 2:
        return None, None
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)  # (P, T)
    out = model(
        input_ids=input_ids[:, :-1],
        attention_mask=attention_mask[:, :-1],
        position_ids=position_ids[:, :-1],
        use_cache=True,
    )
    keyword = "cache" if "cache" in out.keys() else "past_key_values"
    return keyword, out[keyword]


@dataclass
class Generation:
    """Raw output of one batched generation: per row its prompt index, text, headline and length."""

    prompt_index: list[int]  # which prompt each row continues
    temperature: list[float]
    text: list[str]  # the decoded completion, up to the stop token
    headline: list[str]  # clean_headline(text)
    n_tokens: list[int]  # completion tokens before the stop token
    seconds: float


def generate_rows(
    bundle,
    articles: Sequence[str],
    temperatures: Sequence[float],
    n: int = 1,
    top_p: float = 1.0,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Generation:
    """Generate n samples per (article, temperature), in as few batches as possible.

    Rows are ordered article-major, then temperature, then sample.
    """
    import torch

    if n < 1:
        raise ValueError("n (samples per article) must be at least 1.")
    if not 0.0 < top_p <= 1.0:
        raise ValueError("top_p must be in (0, 1].")
    if not temperatures:
        raise ValueError("Give at least one temperature.")
    if any(t < 0 for t in temperatures):
        raise ValueError("Temperatures must be >= 0 (0 means greedy decoding).")
    model, tokenizer = bundle.model, bundle.tokenizer
    device = next(model.parameters()).device
    prompts = [build_prompt(bundle, a, max_new_tokens=max_new_tokens) for a in articles]
    rows = [(i, float(t)) for i in range(len(prompts)) for t in temperatures for _ in range(n)]
    eos_ids, newline_ids = stop_token_ids(tokenizer, model)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    eos_set, newline_set = set(eos_ids), set(newline_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    texts: list[str] = []
    lengths: list[int] = []
    per_prompt = len(temperatures) * n  # rows continuing each prompt (contiguous in `rows`)
    prompts_per_batch = max(1, batch_size // per_prompt)
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(prompts), prompts_per_batch):
            chunk_prompts = prompts[first : first + prompts_per_batch]
            chunk_rows = rows[first * per_prompt : (first + len(chunk_prompts)) * per_prompt]
            encoded = tokenizer(chunk_prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            input_ids = encoded["input_ids"].to(device)  # (P, T) one row per distinct prompt
            attention_mask = encoded["attention_mask"].to(device)  # (P, T)
            # Read each prompt once, then copy its key/value cache to all of its samples: the
            # Compare grid's 8 rows share one article, and reading it dominates the cost on a CPU.
            cache_keyword, cache = _prefill(model, input_ids, attention_mask)
            input_ids = input_ids.repeat_interleave(per_prompt, dim=0)  # (B, T)
            attention_mask = attention_mask.repeat_interleave(per_prompt, dim=0)  # (B, T)
            if cache is not None:
                cache.batch_repeat_interleave(per_prompt)
            temps = torch.tensor([t for _, t in chunk_rows], dtype=torch.float32)  # (B,)
            sampler = SeededSampler(temps, top_p, generator, input_ids.shape[1], eos_ids + newline_ids)
            output = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                **({cache_keyword: cache} if cache is not None else {}),
                do_sample=bool((temps > 0).any()),  # the draw happens in SeededSampler; greedy rows take the argmax
                temperature=1.0,
                top_k=None,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos_ids + newline_ids,  # a newline ends the headline like end-of-text does
                pad_token_id=pad_id,
                logits_processor=[_as_processor(sampler)],
                use_cache=True,
            )
            completion = output[:, input_ids.shape[1] :]  # (B, new)
            for row in completion.tolist():
                kept, ends_in_newline = [], False
                for token in row:
                    if token in newline_set:  # keep the text before the newline inside this token
                        kept.append(token)
                        ends_in_newline = True
                        break
                    if token in eos_set or token == pad_id:
                        break
                    kept.append(token)
                text = tokenizer.decode(kept, skip_special_tokens=True)
                texts.append(text.split("\n")[0])
                lengths.append(len(kept) - int(ends_in_newline))
    seconds = time.perf_counter() - start
    return Generation(
        prompt_index=[i for i, _ in rows],
        temperature=[t for _, t in rows],
        text=texts,
        headline=[clean_headline(t) for t in texts],
        n_tokens=lengths,
        seconds=seconds,
    )


def generate_headlines(
    bundle,
    articles: Sequence[str],
    temperature: float,
    n: int = 1,
    top_p: float = 1.0,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    seed: int = 0,
) -> list[list[str]]:
    """n headlines per article: result[i][j] is sample j for articles[i].

    Args:
        bundle: a PolicyBundle from `load_policy`.
        articles: the news articles.
        temperature: 0 = greedy (then all n samples are equal); > 0 samples softmax(logits / T).
        n: samples per article.
        top_p: nucleus sampling mass (1.0 = off).
        max_new_tokens: the longest headline in tokens.
        seed: the same seed gives the same headlines.
    """
    result = generate_rows(bundle, list(articles), [temperature], n, top_p, max_new_tokens, seed)
    return [result.headline[i * n : (i + 1) * n] for i in range(len(articles))]


def generate_grid(
    bundle,
    article: str,
    temperatures: Sequence[float],
    n: int = 2,
    seed: int = 0,
    top_p: float = 1.0,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
) -> list[dict]:
    """One article, every temperature x n samples, in one batch (the Compare grid's cells).

    Returns rows {temperature, sample, headline, n_tokens, seconds}; `seconds` is the wall time
    of the whole grid's batch divided by its rows (the per-headline cost).
    """
    result = generate_rows(bundle, [article], list(temperatures), n, top_p, max_new_tokens, seed)
    per_row = result.seconds / max(1, len(result.headline))
    rows = []
    for k, (temperature, headline, n_tokens) in enumerate(zip(result.temperature, result.headline, result.n_tokens)):
        rows.append(
            {"temperature": temperature, "sample": k % n, "headline": headline, "n_tokens": n_tokens, "seconds": per_row}
        )
    return rows
