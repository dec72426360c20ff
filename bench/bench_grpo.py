"""GRPO step cost on SmolLM2-135M: our trainer vs TRL's GRPOTrainer, side by side (prints; not a test).

    pip install -r bench/requirements-bench.txt      # TRL, for this bench only (keeps torch as is)
    python bench/bench_grpo.py [--steps 4] [--warmup 1] [--threads 2] [--runs ours-lora,ours-full,trl-full,trl-lora]

Same settings for every run: 2 prompts x 4 generations, 24 new tokens, temperature 1.0, beta 0.04,
clip 0.2, loss_type 'grpo', fp32, AdamW lr 1e-6, one update per batch, the same chat-templated
prompts and the same reward function (the wire-editor gold score, cheap Python). `-full` runs
fine-tune every weight; `-lora` runs train a LoRA adapter (r 16, alpha 32, every linear layer but
the head; the same peft LoraConfig for both), whose KL reference is the model with the adapter off.
Each run is its own process, so `ru_maxrss` is its own peak RSS. s/step is the mean over the steps
after the warm-up ones, in wall seconds and in CPU seconds of the process (user + system: what a
busy machine's other processes cannot inflate as much). Each step's time is split into generation,
scoring, reference forward, policy forward, backward and optimiser (ours: the trainer's own
`time/*_s` metrics; TRL: timers wrapped around generate, the reward function,
_get_per_token_logps_and_entropies, accelerator.backward and the optimiser callbacks; TRL's
remainder is shown as `other`). TRL's default gradient_checkpointing=True is switched off (our
trainer does not checkpoint either) unless --trl-gradient-checkpointing is given. Timings depend on
how busy the machine is (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPTS, GROUP, NEW_TOKENS, BETA, LR = 2, 4, 24, 0.04, 1e-6
LORA = {"lora_r": 16, "lora_alpha": 32.0, "lora_dropout": 0.0, "lora_targets": "all-linear"}
PHASES = ("generation", "scoring", "reference", "forward", "backward", "optimiser")
RUNS = ("ours-lora", "ours-full", "trl-full", "trl-lora")


def _articles(n: int = 16) -> list[str]:
    import pandas as pd

    frame = pd.read_csv(ROOT / "sample_data" / "articles.csv")
    return frame[frame["split"] == "train"]["article"].head(n).tolist()


def _reward(articles, headlines):
    from rlhf_core.data.personas import get_persona

    persona = get_persona("wire_editor")
    return [persona.score(a, h) for a, h in zip(articles, headlines)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_ours(steps: int, warmup: int, out_dir: str, lora: bool) -> dict:
    from rlhf_core.policy.config import GenerationConfig, GRPOConfig
    from rlhf_core.policy.train import train_policy

    cfg = GRPOConfig(steps=steps, lr=LR, prompts_per_step=PROMPTS, group_size=GROUP, beta=BETA, clip_eps=0.2,
                     loss_type="grpo", sample_every=0, save_every=0, probe_articles=0, gold_persona="",
                     generation=GenerationConfig(max_new_tokens=NEW_TOKENS, temperature=1.0, max_prompt_tokens=384),
                     **(LORA if lora else {}))
    import pandas as pd

    data = pd.DataFrame({"article": _articles()})
    gen = train_policy("grpo", cfg, "smollm2", _reward, data, out_dir)
    times, cpu, lengths, split = [], [], [], []
    last, last_cpu = time.perf_counter(), _cpu_s()
    for i in range(steps):
        metrics = next(gen)
        now, now_cpu = time.perf_counter(), _cpu_s()
        times.append(now - last)
        cpu.append(now_cpu - last_cpu)
        last, last_cpu = now, now_cpu
        lengths.append(metrics["completion/length"])
        split.append({p: metrics.get(f"time/{p}_s", 0.0) for p in PHASES})
    peak = _peak_rss_mb()  # before the final checkpoint is written (TRL saves nothing either)
    gen.close()
    return {"step_s": times, "cpu_s": cpu, "split": split, "peak_rss_mb": peak, "completion_len": lengths}


def _trl_timers(trainer, model, reward_timer) -> list[dict]:
    """Wrap TRL's phases in timers; returns the list the per-step splits are appended to."""
    import torch
    from transformers import TrainerCallback

    current: dict[str, float] = {p: 0.0 for p in PHASES}
    steps: list[dict] = []

    def timed(fn, phase_of):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phase = phase_of()
                current[phase] = current.get(phase, 0.0) + time.perf_counter() - start
        return wrapper

    generate = type(model).generate
    type(model).generate = timed(generate, lambda: "generation")
    trainer._get_per_token_logps_and_entropies = timed(
        trainer._get_per_token_logps_and_entropies, lambda: "forward" if torch.is_grad_enabled() else "reference")
    trainer.accelerator.backward = timed(trainer.accelerator.backward, lambda: "backward")
    reward_timer.append(current)

    class Split(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            current.update({p: 0.0 for p in PHASES})

        def on_pre_optimizer_step(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_optimizer_step(self, args, state, control, **kw):
            current["optimiser"] += time.perf_counter() - self.start

        def on_step_end(self, args, state, control, **kw):
            steps.append(dict(current))

    trainer.add_callback(Split())
    return steps


def worker_trl(steps: int, warmup: int, out_dir: str, gradient_checkpointing: bool, lora: bool) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlhf_core.models.offline import smollm2_dir
    from rlhf_core.models.prompts import build_prompt

    folder = str(smollm2_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    articles = _articles()
    prompts = [build_prompt(tokenizer, a, style="chat", max_new_tokens=NEW_TOKENS, context=384 + NEW_TOKENS + 8) for a in articles]
    dataset = Dataset.from_dict({"prompt": prompts, "article": articles})
    clocks: list[dict] = []  # the per-step phase clock, once the trainer exists

    def reward_func(prompts, completions, article, **kwargs):
        from rlhf_core.models.prompts import clean_headline

        start = time.perf_counter()
        scores = _reward(article, [clean_headline(c) for c in completions])
        if clocks:
            clocks[0]["scoring"] += time.perf_counter() - start
        return scores

    times: list[float] = []
    cpu: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.start, self.start_cpu = time.perf_counter(), _cpu_s()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.start)
            cpu.append(_cpu_s() - self.start_cpu)

    peft_config = None
    if lora:
        from rlhf_core.policy.config import GRPOConfig as StudioGRPO
        from rlhf_core.policy.lora import lora_config

        peft_config = lora_config(StudioGRPO(**LORA), model)  # the very LoraConfig our trainer builds
    args = GRPOConfig(
        output_dir=out_dir, per_device_train_batch_size=PROMPTS * GROUP, num_generations=GROUP,
        max_completion_length=NEW_TOKENS, temperature=1.0, beta=BETA, epsilon=0.2, loss_type="grpo",
        scale_rewards="group", learning_rate=LR, max_steps=steps, gradient_accumulation_steps=1, num_iterations=1,
        bf16=False, fp16=False, use_cpu=True, save_strategy="no", report_to="none", logging_steps=1,
        gradient_checkpointing=gradient_checkpointing, seed=0, dataloader_num_workers=0, disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=reward_func, args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[Timer()], peft_config=peft_config)
    split = _trl_timers(trainer, trainer.model, clocks)
    trainer.train()
    lengths = [h.get("completions/mean_length") for h in trainer.state.log_history if "completions/mean_length" in h]
    return {"step_s": times, "cpu_s": cpu, "split": split, "peak_rss_mb": _peak_rss_mb(), "completion_len": lengths}


def _spawn(name: str, args: argparse.Namespace, env: dict) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, __file__, "--worker", name, "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--threads", str(args.threads), "--out", out]
        if args.trl_gradient_checkpointing:
            cmd.append("--trl-gradient-checkpointing")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"impl": name, "error": (proc.stderr or proc.stdout)[-2000:]}
    return json.loads(lines[-1])


def _mean(values) -> float:
    return sum(values) / max(1, len(values))


def summarise(name: str, r: dict, warmup: int) -> str:
    """One line per run: wall and CPU s/step after the warm-up, peak RSS, and where a step's time goes."""
    keep = slice(warmup, None) if len(r["step_s"]) > warmup else slice(None)
    r["mean_s"], r["mean_cpu_s"] = _mean(r["step_s"][keep]), _mean(r["cpu_s"][keep])
    split = {p: _mean([s.get(p, 0.0) for s in r["split"][keep]]) for p in PHASES}
    split["other"] = max(0.0, r["mean_s"] - sum(split.values()))
    r["phases"] = split
    parts = ", ".join(f"{p} {v:.2f}" for p, v in split.items())
    return (f"{name:>9}: {r['mean_s']:.2f} s/step wall, {r['mean_cpu_s']:.2f} CPU s/step (steps "
            f"{', '.join(f'{t:.1f}' for t in r['step_s'])}), peak RSS {r['peak_rss_mb']:.0f} MB, completion length "
            f"{_mean([x for x in r['completion_len'] if x is not None]):.1f}\n{'':>11}time split (s): {parts}")


def compare(results: dict, ours: str, theirs: str) -> str:
    o, t = results.get(ours, {}), results.get(theirs, {})
    if "mean_s" not in o or "mean_s" not in t:
        return ""
    return (f"{ours} vs {theirs}: {t['mean_s'] / o['mean_s']:.2f}x faster (wall), {t['mean_cpu_s'] / o['mean_cpu_s']:.2f}x "
            f"(CPU); peak RSS {o['peak_rss_mb'] / t['peak_rss_mb']:.2f} of TRL's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=RUNS)
    parser.add_argument("--out", default="")
    parser.add_argument("--trl-gradient-checkpointing", action="store_true")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, from {', '.join(RUNS)}")
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        impl, kind = args.worker.split("-")
        if impl == "ours":
            result = worker_ours(args.steps, args.warmup, args.out, kind == "lora")
        else:
            result = worker_trl(args.steps, args.warmup, args.out, args.trl_gradient_checkpointing, kind == "lora")
        print(json.dumps(result))
        return
    from rlhf_core.models.offline import smollm2_dir

    smollm2_dir()  # convert the GGUF once, outside the timed processes
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.threads} threads per run; "
          f"steps={args.steps} (warm-up {args.warmup})")
    results = {}
    for name in [n.strip() for n in args.runs.split(",") if n.strip()]:
        if name not in RUNS:
            raise SystemExit(f"unknown run {name!r}: choose from {', '.join(RUNS)}")
        results[name] = r = _spawn(name, args, env)
        if "error" in r:
            print(f"{name}: FAILED\n{r['error']}")
            continue
        print(summarise(name, r, args.warmup), flush=True)
    for ours, theirs, target in (("ours-lora", "trl-full", "target >= 4x, RSS <= 0.5"), ("ours-lora", "trl-lora", "like for like"),
                                 ("ours-full", "trl-full", "like for like")):
        line = compare(results, ours, theirs)
        if line:
            print(f"{line}  ({target})")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
