"""PolicyRun: what a trainer loop holds once its models are loaded, and the pieces every loop shares.

Here: reading the data table, probe articles, the loop's batches and optimiser step, probe headlines
every few steps and atomic checkpoints loadable by plain `AutoModelForCausalLM.from_pretrained`.
Nothing here loads a model by name or a reward model: `rlhf_core.policy.train` does that for every
algorithm (start_run, Rewarder) and hands each trainer a PolicyRun, so the tiny preset's own
pretraining (policy.sft.pretrain_tiny, called by the model registry) can run the SFT loop without
the registry importing itself back.
Shapes: B = rows, P = prompt tokens (left-padded), C = completion tokens (right-padded).
"""

from __future__ import annotations

import errno
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from rlhf_core import paths
from rlhf_core.errors import DataError, StudioError

META_FILE = "studio_policy.json"


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


def most_overrated(articles: Sequence[str], headlines: Sequence[str], proxy, gold) -> dict:
    """The sampled headline the reward model rates most above its gold score, as a `samples` row
    tagged source="rollout": when reward hacking starts, these are the headlines that fool it."""
    i = int(np.argmax(np.asarray(proxy) - np.asarray(gold)))
    return {"source": "rollout", "article": articles[i], "headline": headlines[i],
            "reward": round(float(proxy[i]), 4), "gold": round(float(gold[i]), 4)}


def mean_or_none(values) -> float | None:
    return None if values is None or len(values) == 0 else float(np.mean(values))


# ---------------------------------------------------------------------------------------- the run
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
    timer: "PhaseTimer" = field(default_factory=lambda: PhaseTimer())  # where a step's time goes: time/<phase>_s
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
    def probe_samples(self, probes: Sequence[str], rewarder, gen) -> list[dict]:
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

    def end_step(self, metrics: dict, step: int, probes: Sequence[str], rewarder, gen,
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


# ---------------------------------------------------------------------------------------- loop setups
@dataclass
class Group:
    """One step's rollouts: `k` sampled headlines for each of a batch of articles, scored.  B = articles x k."""

    roll: Any              # rollout.Rollout: prompt / completion ids and masks, the sampler's log-probs (B, C)
    articles: list[str]    # the article of each completion (B)
    headlines: list[str]   # the decoded headlines (B)
    proxy: Any             # reward-model scores (B,) as they came
    gold: Any              # gold persona scores (B,) or None
    rewards: Any           # the proxy as a tensor (B,), normalised per `reward_norm`


class GroupSampler:
    """Steps 1-3 of the algorithms that sample a group of headlines per article (GRPO, ...): each prompt
    encoded once, `k` headlines sampled per article by the current policy (pi_old; KV cache, one prefill per
    group), each scored by the reward model and by the gold persona (logged only). Articles come in a shuffled
    stream and sampling uses its own generator, both seeded by cfg.seed and the step a run resumes from."""

    def __init__(self, run: PolicyRun, articles: Sequence[str], cfg):
        import torch

        self.run, self.cfg, self.gen, self.k = run, cfg, cfg.generation, cfg.group_size
        self.stream = article_stream(articles, cfg.seed + run.start_step)
        self.generator = torch.Generator(device=run.device).manual_seed(cfg.seed + run.start_step)
        self.stop_ids = run.stop_ids()

    def next(self, rewarder) -> Group:
        import torch

        from rlhf_core.policy.losses import normalise_rewards
        from rlhf_core.policy.rollout import sample

        run, gen, k = self.run, self.gen, self.k
        articles = take(self.stream, self.cfg.prompts_per_step)  # 1. a batch of articles
        prompt_ids, prompt_mask = run.encode_prompts(articles, gen.max_new_tokens, gen.max_prompt_tokens)
        with run.timer("generation"):
            roll = sample(run.model, prompt_ids, prompt_mask, max_new_tokens=gen.max_new_tokens,  # 2. k headlines each
                          temperature=gen.temperature, top_p=gen.top_p, stop_ids=self.stop_ids, pad_id=run.pad_id,
                          repeats=k, generator=self.generator)
        headlines = run.decode(roll.completion_ids, roll.completion_mask)  # 3. scored
        group_articles = [a for a in articles for _ in range(k)]
        with run.timer("scoring"):
            proxy, gold = rewarder(group_articles, headlines)
        rewards = normalise_rewards(torch.tensor(proxy, dtype=torch.float32, device=run.device), self.cfg.reward_norm)
        return Group(roll, group_articles, headlines, proxy, gold, rewards)


@dataclass
class GroupLoop:
    """What the algorithms that sample a group of headlines per article (GRPO, ...) share around their loss."""

    run: PolicyRun
    params: list
    optimizer: Any
    groups: GroupSampler  # .next(rewarder): the step's scored rollouts
    probes: list[str]     # held-out probe articles

    def end_step(self, metrics: dict, step: int, group: Group, rewarder) -> dict:
        """Add what every group algorithm logs: its rollouts' rewards and length; then probe headlines and a
        checkpoint when due (PolicyRun.end_step), and the rollout the reward model over-rates most."""
        proxy, gold, mask = group.proxy, group.gold, group.roll.completion_mask
        metrics.update({"reward/mean": float(proxy.mean()), "reward/std": float(proxy.std()),
                        "reward/gold_mean": mean_or_none(gold), "completion/length": float(mask.sum(-1).float().mean()),
                        "time/elapsed_s": self.run.elapsed(), **self.run.timer.metrics()})
        self.run.end_step(metrics, step, self.probes, rewarder, self.groups.gen)
        if gold is not None:  # the headline the reward model over-rates most: reward hacking as it appears
            metrics["samples"] = metrics.get("samples", []) + [most_overrated(group.articles, group.headlines, proxy, gold)]
        return metrics


def group_loop(run: PolicyRun, cfg, frame) -> GroupLoop:
    """The optimiser, the group sampler over the training articles, the probe articles."""
    train_articles, probes = split_articles(frame, cfg.probe_articles)
    params = run.trainable_parameters()  # with LoRA: the adapter only
    return GroupLoop(run, params, make_optimizer(params, cfg), GroupSampler(run, train_articles, cfg), probes)


@dataclass
class AnswerLoop:
    """What the algorithms that learn from given answers and never sample (DPO, ...) set up before their loop."""

    params: list
    optimizer: Any
    gen: Any                    # the probes' generation settings (answers up to 32 tokens, the prompt the rest)
    batches: Iterator[np.ndarray]  # row indices, reshuffled each epoch
    probes: list[str]           # held-out probe articles


def answer_loop(run: PolicyRun, cfg, frame, rows: int) -> AnswerLoop:
    """The optimiser, probe articles (a preferences table's prompts are its articles), batches of `rows` row indices."""
    from rlhf_core.policy.config import GenerationConfig

    params = run.trainable_parameters()  # with LoRA: the adapter only
    probes = split_articles(frame.rename(columns={"prompt": "article"}), cfg.probe_articles)[1] if cfg.probe_articles else []
    return AnswerLoop(params, make_optimizer(params, cfg),
                      GenerationConfig(max_new_tokens=32, max_prompt_tokens=max(16, cfg.max_length - 32)),
                      index_batches(rows, cfg.batch_size, cfg.seed + run.start_step), probes)
