"""`train_policy(algo, ...)`: one entry point for SFT, PPO, GRPO and DPO, plus what they share.

Shared here (so each algorithm module is only its loop): reading the data, loading the policy and
its frozen reference, encoding prompts and answers, the reward (reward model + the hidden gold
persona, never trained on), probe headlines, and atomic checkpoints loadable by plain
`AutoModelForCausalLM.from_pretrained`.
Shapes: B = rows, P = prompt tokens (left-padded), C = completion tokens (right-padded).
"""

from __future__ import annotations

import copy
import errno
import importlib
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from rlhf_core import paths
from rlhf_core.errors import ConfigError, DataError, StudioError

TRAINERS: dict[str, str] = {
    "sft": "rlhf_core.policy.sft:train_sft",
    "ppo": "rlhf_core.policy.ppo:train_ppo",
    "grpo": "rlhf_core.policy.grpo:train_grpo",
    "dpo": "rlhf_core.policy.dpo:train_dpo",
}
META_FILE = "studio_policy.json"


def train_policy(algo: str, cfg, policy_spec: str, reward_dir=None, data=None, out_dir=None,
                 device: str = "cpu") -> Iterator[dict]:
    """Train a policy with `algo` in sft|ppo|grpo|dpo; yield one flat metrics dict per step.

    Args:
        cfg: the algorithm's config (SFTConfig, PPOConfig, GRPOConfig, DPOConfig).
        policy_spec: 'tiny', 'tiny-init', 'smollm2', a folder or a hub id (see models.registry).
        reward_dir: reward-model folder (PPO/GRPO; optional for SFT/DPO probes), or a callable
            `(articles, headlines) -> scores in [0, 1]`.
        data: a path, a DataFrame or a LoadedData (demonstrations/ratings for SFT, articles for
            PPO/GRPO, preferences for DPO).
        out_dir: run folder: checkpoint-<step>/ and final/ are written there.
    """
    if algo not in TRAINERS:
        raise ConfigError(f"Unknown algorithm '{algo}': choose one of {', '.join(TRAINERS)}.")
    module, name = TRAINERS[algo].split(":")
    trainer = getattr(importlib.import_module(module), name)
    yield from trainer(cfg, policy_spec=policy_spec, reward_dir=reward_dir, data=data,
                       out_dir=Path(out_dir if out_dir is not None else paths.runs_dir() / paths.new_run_id(algo)),
                       device=device)


# ---------------------------------------------------------------------------------------- data
def load_table(data) -> "Any":
    """A canonical DataFrame from a path, a LoadedData or a DataFrame (with a `split` column kept
    when the file has one, so held-out articles stay held out)."""
    import pandas as pd

    if data is None:
        raise DataError("No training data given.")
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if hasattr(data, "frame"):
        return data.frame.reset_index(drop=True)
    from rlhf_core.data.loaders import load_file

    path = Path(data)
    return with_split(load_file(path).frame.reset_index(drop=True), path)


def with_split(frame, path: Path):
    """The canonical `frame` loaded from CSV file `path`, plus the file's `split` column (train/test) if it has one."""
    import pandas as pd

    if Path(path).suffix.lower() == ".csv" and "article" in frame.columns:
        raw = pd.read_csv(path)
        if "split" in raw.columns and "article" in raw.columns:
            frame["split"] = frame["article"].map(dict(zip(raw["article"], raw["split"])))
    return frame


def article_column(frame) -> str:
    for column in ("article", "prompt", "text"):
        if column in frame.columns:
            return column
    raise DataError(f"The data has no article column (columns: {', '.join(map(str, frame.columns))}).")


def split_articles(frame, n_probe: int) -> tuple[list[str], list[str]]:
    """(training articles, probe articles): probes from the test split when there is one, else the
    last `n_probe` distinct articles (left out of training when enough remain)."""
    column = article_column(frame)
    texts = [t for t in dict.fromkeys(str(a).strip() for a in frame[column]) if t]
    if not texts:
        raise DataError("The data has no articles to write headlines for.")
    if "split" in frame.columns:
        held = [t for t in dict.fromkeys(str(a).strip() for a in frame.loc[frame["split"] != "train", column]) if t]
        train = [t for t in dict.fromkeys(str(a).strip() for a in frame.loc[frame["split"] == "train", column]) if t]
        if train and held:
            return train, held[:n_probe]
    if len(texts) > 3 * n_probe:
        return texts[:-n_probe] if n_probe else texts, texts[len(texts) - n_probe:]
    return texts, texts[:n_probe]


# ---------------------------------------------------------------------------------------- reward
class Rewarder:
    """Proxy reward (the reward model, which training maximises) and gold score (logged only)."""

    def __init__(self, reward, gold_persona: str = "", device: str = "cpu"):
        self.score_fn: Callable | None = None
        if callable(reward):
            self.score_fn = reward
        elif reward:
            from rlhf_core.reward.scorer import load_scorer

            self.score_fn = load_scorer(reward, device=device).score
        self.gold = None
        if gold_persona:
            from rlhf_core.data.personas import get_persona

            self.gold = get_persona(gold_persona)

    def __call__(self, articles: Sequence[str], headlines: Sequence[str]):
        """(proxy scores or None, gold scores or None), each an array (B,)."""
        proxy = None if self.score_fn is None else np.asarray(self.score_fn(list(articles), list(headlines)), dtype=np.float64)
        gold = None if self.gold is None else np.array([self.gold.score(a, h) for a, h in zip(articles, headlines)])
        return proxy, gold


def most_overrated(articles: Sequence[str], headlines: Sequence[str], proxy, gold) -> dict:
    """The sampled headline the reward model rates most above its gold score, as a `samples` row
    tagged source="rollout": when reward hacking starts, these are the headlines that fool it."""
    i = int(np.argmax(np.asarray(proxy) - np.asarray(gold)))
    return {"source": "rollout", "article": articles[i], "headline": headlines[i],
            "reward": round(float(proxy[i]), 4), "gold": round(float(gold[i]), 4)}


def mean_or_none(values) -> float | None:
    return None if values is None or len(values) == 0 else float(np.mean(values))


# ---------------------------------------------------------------------------------------- policy
@dataclass
class PolicyRun:
    """Everything a trainer loop needs, loaded once."""

    algo: str
    cfg: Any
    bundle: Any
    ref: Any  # frozen reference copy (None when not needed)
    out_dir: Path
    device: Any
    start_step: int = 0
    policy_spec: str = ""
    extra_modules: dict = field(default_factory=dict)  # e.g. PPO's value head, saved with checkpoints
    lora: Any = None  # a policy.lora.LoraPolicy when only a LoRA adapter trains
    started: float = field(default_factory=time.monotonic)
    _prompt_cache: dict = field(default_factory=dict)

    @property
    def model(self):
        return self.bundle.model

    @property
    def tokenizer(self):
        return self.bundle.tokenizer

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    def stop_ids(self) -> list[int]:
        from rlhf_core.models.generation import stop_token_ids

        eos, newline = stop_token_ids(self.tokenizer, self.model)
        return list(eos) + list(newline)

    @contextmanager
    def reference(self):
        """The frozen start policy for KL terms: the reference copy, or (LoRA) this model with its adapter off."""
        if self.lora is not None:
            with self.lora.reference() as ref:
                yield ref
        else:
            yield self.ref

    def trainable_parameters(self) -> list:
        """The parameters the optimiser updates (with LoRA: the adapter's A and B only)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 2)

    # -- encoding -------------------------------------------------------------------------
    def prompt_ids(self, article: str, max_new_tokens: int, max_prompt_tokens: int) -> list[int]:
        key = (article, max_new_tokens, max_prompt_tokens)
        if key not in self._prompt_cache:
            from rlhf_core.models.prompts import build_prompt, context_length

            context = min(context_length(self.model) or 1024, max_prompt_tokens + max_new_tokens + 8)
            text = build_prompt(self.bundle, article, max_new_tokens=max_new_tokens, context=context)
            self._prompt_cache[key] = self.tokenizer(text, add_special_tokens=False)["input_ids"][-max_prompt_tokens:]
        return self._prompt_cache[key]

    def encode_prompts(self, articles: Sequence[str], max_new_tokens: int, max_prompt_tokens: int):
        """Left-padded prompt ids and mask on the model's device.  -> (B, P), (B, P)"""
        rows = [self.prompt_ids(a, max_new_tokens, max_prompt_tokens) for a in articles]
        return pad_rows(rows, self.pad_id, left=True, device=self.device)

    def answer_ids(self, headline: str, max_tokens: int) -> list[int]:
        """Token ids of a target headline as the policy should write it, ending with end-of-text."""
        text = (" " + headline.strip()) if self.bundle.prompt_style == "plain" else headline.strip()
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: max_tokens - 1]
        return ids + [int(self.tokenizer.eos_token_id)]

    def encode_answers(self, headlines: Sequence[str], max_tokens: int):
        """Right-padded answer ids and mask.  -> (B, C), (B, C)"""
        return pad_rows([self.answer_ids(h, max_tokens) for h in headlines], self.pad_id, left=False, device=self.device)

    def decode(self, completion_ids, completion_mask) -> list[str]:
        """Clean headlines from completion ids (stop token and padding dropped)."""
        from rlhf_core.models.prompts import clean_headline

        rows = []
        for ids, mask in zip(completion_ids.tolist(), completion_mask.tolist()):
            rows.append(clean_headline(self.tokenizer.decode([i for i, m in zip(ids, mask) if m], skip_special_tokens=True)))
        return rows

    # -- probes and checkpoints ---------------------------------------------------------------
    def probe_samples(self, probes: Sequence[str], rewarder: Rewarder, gen) -> list[dict]:
        """Greedy headlines for the fixed probe articles, with their reward and gold scores."""
        import torch

        from rlhf_core.policy.rollout import sample

        if not probes:
            return []
        ids, mask = self.encode_prompts(probes, gen.max_new_tokens, gen.max_prompt_tokens)
        with torch.no_grad():
            roll = sample(self.model, ids, mask, max_new_tokens=gen.max_new_tokens, stop_ids=self.stop_ids(),
                          pad_id=self.pad_id, greedy=True)
        headlines = self.decode(roll.completion_ids, roll.completion_mask)
        proxy, gold = rewarder(probes, headlines)
        return [
            {"article": a, "headline": h,
             "reward": None if proxy is None else round(float(proxy[i]), 4),
             "gold": None if gold is None else round(float(gold[i]), 4)}
            for i, (a, h) in enumerate(zip(probes, headlines))
        ]

    def end_step(self, metrics: dict, step: int, probes: Sequence[str], rewarder: Rewarder, gen,
                 probe_rewards: bool = False) -> dict:
        """Every trainer's step epilogue: probe headlines every `sample_every` steps, a checkpoint
        every `save_every` steps (the last step is saved as final/ by `finish`).

        probe_rewards=True (SFT, DPO: they sample nothing while training) also reports the probes'
        mean proxy and gold scores as `reward/mean` and `reward/gold_mean`, so every algorithm's
        charts have a reward curve.
        """
        if probes and should(self.cfg.sample_every, step, self.cfg.steps):
            samples = self.probe_samples(probes, rewarder, gen)
            metrics["samples"] = samples
            if probe_rewards:
                golds = [s["gold"] for s in samples if s["gold"] is not None]
                rewards = [s["reward"] for s in samples if s["reward"] is not None]
                metrics["reward/gold_mean"] = float(np.mean(golds)) if golds else None
                metrics["reward/mean"] = float(np.mean(rewards)) if rewards else None
        if should(self.cfg.save_every, step, self.cfg.steps) and step < self.cfg.steps:
            self.save(f"checkpoint-{step}", step)
            prune_checkpoints(self.out_dir, getattr(self.cfg, "keep_checkpoints", 0))
        return metrics

    def save(self, name: str, step: int) -> Path:
        """Write the policy (+ tokenizer, + extra modules, + metadata) to out_dir/name atomically.

        A LoRA run writes its adapter (with the base it adapts as `lora_base`), or the merged model
        when the config asks for `save_merged`.
        """
        meta = {"algo": self.algo, "step": step, "total_steps": self.cfg.steps, "policy_spec": self.policy_spec,
                "prompt_style": self.bundle.prompt_style, "config": asdict(self.cfg)}
        save_model = None
        if self.lora is not None:
            merged = bool(self.cfg.save_merged)
            meta.update({"format": "merged" if merged else "adapter", "lora_base": self.lora.base_spec})
            save_model = lambda folder: self.lora.save(folder, merged)  # noqa: E731
        return save_checkpoint(self.model, self.tokenizer, self.out_dir / name, meta, self.extra_modules, save_model)


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, left: bool, device) -> tuple:
    """Pad token-id lists to one length.  -> ids (B, L), mask (B, L)"""
    import torch

    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            span = slice(width - len(row), width) if left else slice(0, len(row))
            ids[i, span] = torch.tensor(row, dtype=torch.long)
            mask[i, span] = 1
    return ids.to(device), mask.to(device)


def save_checkpoint(model, tokenizer, target: Path, meta: dict, extra_modules: dict | None = None,
                    save_model: Callable[[Path], None] | None = None) -> Path:
    """save_pretrained into a temp folder next to `target`, then rename: never half a checkpoint.

    `save_model(folder)`, if given, writes the model instead of `model.save_pretrained` (a LoRA adapter).

    A full disk leaves the previous checkpoints as they were and raises a StudioError that says so.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = paths.make_temp_dir(target)
    except OSError as exc:
        raise _save_error(exc, target) from exc
    try:
        if save_model is not None:
            save_model(tmp)
        else:
            model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        for name, module in (extra_modules or {}).items():
            from safetensors.torch import save_file

            save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(tmp / f"{name}.safetensors"))
        paths.atomic_write_json(tmp / META_FILE, meta)
        paths.replace_dir(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _save_error(exc, target) from exc
        raise
    return target


def _save_error(exc: OSError, target: Path) -> StudioError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StudioError(f"The disk is full: checkpoint {target.name} could not be written ({exc.strerror}). "
                           f"The earlier checkpoints in {target.parent} are intact; free some space and resume from the newest.")
    return StudioError(f"Checkpoint {target.name} could not be written: {exc.strerror or exc}. "
                       "The earlier checkpoints are intact.")


def prune_checkpoints(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` checkpoint-<step>/ folders of a run (keep <= 0: delete none)."""
    if keep <= 0:
        return []
    found = sorted((p for p in Path(out_dir).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]))
    old = found[:-keep]
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return old


def load_extra_module(checkpoint: Path, name: str, module) -> bool:
    """Load `name`.safetensors from a checkpoint into `module` if present (PPO's value head)."""
    path = Path(checkpoint) / f"{name}.safetensors"
    if not path.is_file():
        return False
    from safetensors.torch import load_file

    module.load_state_dict(load_file(str(path)))
    return True


def start_run(algo: str, cfg, policy_spec: str, out_dir: Path, device: str = "cpu", need_ref: bool = True) -> PolicyRun:
    """Load the policy (or the checkpoint to resume) and a frozen reference copy of the start policy."""
    import torch

    from rlhf_core.models.registry import load_policy

    from rlhf_core.jobs import raise_if_cancelled

    torch.manual_seed(cfg.seed)
    start_step, ref_spec, meta = 0, policy_spec, None
    if cfg.resume_from:
        meta = paths.read_json(Path(cfg.resume_from) / META_FILE, default=None)
        if meta is None:
            raise StudioError(f"'{cfg.resume_from}' is not a policy checkpoint (no {META_FILE}).")
        start_step, ref_spec = int(meta.get("step", 0)), meta.get("policy_spec") or policy_spec
    ref, lora = None, None
    if getattr(cfg, "lora_r", 0) > 0:
        # LoRA: only the adapter trains; the reference is the same model with the adapter off (lora.py)
        from rlhf_core.policy.lora import start_lora

        lora, bundle = start_lora(cfg, ref_spec, cfg.resume_from, device)
    else:
        bundle = load_policy(str(cfg.resume_from or policy_spec), device=device, cache=False)
        raise_if_cancelled()  # Cancel pressed while the model loaded: stop before loading more
        bundle.model.requires_grad_(True)
        if need_ref:
            # The reference is the policy we started from: frozen, in eval mode, outside autograd.
            ref = load_policy(ref_spec, device=device, cache=False).model if cfg.resume_from else copy.deepcopy(bundle.model)
            ref.eval().requires_grad_(False)
    raise_if_cancelled()
    if meta is not None:
        bundle.prompt_style = meta.get("prompt_style", bundle.prompt_style)
    bundle.model.eval()  # dropout off: PPO/GRPO ratios must be 1 before the first update
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = next(bundle.model.parameters()).device
    return PolicyRun(algo, cfg, bundle, ref, out_dir, dev, start_step, ref_spec, lora=lora)


class PhaseTimer:
    """Wall seconds a step spends in each phase (generation, scoring, reference, forward, backward,
    optimiser), yielded as `time/<phase>_s`: where a step's time goes, on the page and in the bench."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start

    def metrics(self) -> dict:
        """{'time/<phase>_s': seconds} of the phases timed since the last call; starts afresh."""
        out = {f"time/{phase}_s": round(s, 4) for phase, s in self.seconds.items()}
        self.seconds = {}
        return out


def make_optimizer(params, cfg):
    import torch

    return torch.optim.AdamW([p for p in params if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)


def optimizer_step(optimizer, params, loss, max_grad_norm: float, timer: PhaseTimer | None = None) -> float:
    """zero_grad, backward, clip the global norm, step. Returns the gradient norm before clipping.

    `timer`, if given, records the backward pass and the optimiser (clip + AdamW) as two phases.
    """
    import torch

    timer = timer or PhaseTimer()
    with timer("backward"):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    with timer("optimiser"):
        grads = [p for p in params if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(grads, max_grad_norm if max_grad_norm > 0 else float("inf"))
        optimizer.step()
    return float(norm)


def article_stream(articles: Sequence[str], seed: int) -> Iterator[str]:
    """Articles in a shuffled order, reshuffled each epoch (deterministic by seed)."""
    rng = np.random.default_rng(seed)
    while True:
        for i in rng.permutation(len(articles)):
            yield articles[i]


def index_batches(n: int, batch_size: int, seed: int) -> Iterator[np.ndarray]:
    """Batches of row indices, reshuffled each epoch; an epoch's short tail is dropped (deterministic by seed).

    A batch larger than the data yields the whole (shuffled) data each time.
    """
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        for start in range(0, max(n - batch_size, 0) + 1, batch_size):
            yield order[start:start + batch_size]


def take(stream: Iterator, n: int) -> list:
    return [next(stream) for _ in range(n)]


def finish(run: PolicyRun, step: int, completed: bool) -> None:
    """The `finally` of every trainer: save final/ when the run completed, or was cancelled after at
    least one step; never after a failure (Compare and Evaluate offer every final/ as a policy, and
    a save on the way out could replace the run's real error with its own).

    Called in a `finally`, it tells a cancel from a failure by the exception on its way out:
    GeneratorExit (the runner closed the generator) or JobCancelled is a cancel, anything else a failure.
    """
    from rlhf_core.jobs import JobCancelled

    if completed:
        run.save("final", step)
        return
    leaving = sys.exc_info()[1]
    if isinstance(leaving, (GeneratorExit, JobCancelled)) and step > run.start_step:
        run.save("final", step)


def should(every: int, step: int, total: int) -> bool:
    return every > 0 and (step % every == 0 or step == total)
