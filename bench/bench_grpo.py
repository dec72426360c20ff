"""GRPO step cost on SmolLM2-135M: our trainer vs TRL's GRPOTrainer, side by side (prints; not a test).

    pip install -r bench/requirements-bench.txt      # TRL, for this bench only (keeps torch as is)
    python bench/bench_grpo.py [--steps 4] [--warmup 1] [--threads 2] [--trl-gradient-checkpointing]

Same settings for both: 2 prompts x 4 generations, 24 new tokens, temperature 1.0, beta 0.04,
clip 0.2, loss_type 'grpo', fp32, full fine-tuning, AdamW lr 1e-6, one update per batch, the same
chat-templated prompts and the same reward function (the wire-editor gold score, cheap Python).
Each trainer runs in its own process so `resource.getrusage(RUSAGE_SELF).ru_maxrss` is its own
peak RSS. s/step is the mean over the steps after the warm-up ones. TRL's default
gradient_checkpointing=True is switched off (our trainer does not checkpoint either) unless
--trl-gradient-checkpointing is given. Timings depend on how busy the machine is (load printed).
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


def worker_ours(steps: int, warmup: int, out_dir: str) -> dict:
    from rlhf_core.policy.config import GenerationConfig, GRPOConfig
    from rlhf_core.policy.train import train_policy

    cfg = GRPOConfig(steps=steps, lr=LR, prompts_per_step=PROMPTS, group_size=GROUP, beta=BETA, clip_eps=0.2,
                     loss_type="grpo", sample_every=0, save_every=0, probe_articles=0, gold_persona="",
                     generation=GenerationConfig(max_new_tokens=NEW_TOKENS, temperature=1.0, max_prompt_tokens=384))
    import pandas as pd

    data = pd.DataFrame({"article": _articles()})
    gen = train_policy("grpo", cfg, "smollm2", _reward, data, out_dir)
    times, last, lengths = [], time.perf_counter(), []
    for i in range(steps):
        metrics = next(gen)
        now = time.perf_counter()
        times.append(now - last)
        last = now
        lengths.append(metrics["completion/length"])
    peak = _peak_rss_mb()  # before the final checkpoint is written (TRL saves nothing either)
    gen.close()
    return {"impl": "ours", "step_s": times, "peak_rss_mb": peak, "completion_len": lengths}


def worker_trl(steps: int, warmup: int, out_dir: str, gradient_checkpointing: bool) -> dict:
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

    def reward_func(prompts, completions, article, **kwargs):
        from rlhf_core.models.prompts import clean_headline

        return _reward(article, [clean_headline(c) for c in completions])

    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.start)

    args = GRPOConfig(
        output_dir=out_dir, per_device_train_batch_size=PROMPTS * GROUP, num_generations=GROUP,
        max_completion_length=NEW_TOKENS, temperature=1.0, beta=BETA, epsilon=0.2, loss_type="grpo",
        scale_rewards="group", learning_rate=LR, max_steps=steps, gradient_accumulation_steps=1, num_iterations=1,
        bf16=False, fp16=False, use_cpu=True, save_strategy="no", report_to="none", logging_steps=1,
        gradient_checkpointing=gradient_checkpointing, seed=0, dataloader_num_workers=0, disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=reward_func, args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[Timer()])
    trainer.train()
    lengths = [h.get("completions/mean_length") for h in trainer.state.log_history if "completions/mean_length" in h]
    return {"impl": "trl", "step_s": times, "peak_rss_mb": _peak_rss_mb(), "completion_len": lengths}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["ours", "trl"])
    parser.add_argument("--out", default="")
    parser.add_argument("--trl-gradient-checkpointing", action="store_true")
    parser.add_argument("--only", choices=["ours", "trl"])
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        if args.worker == "ours":
            result = worker_ours(args.steps, args.warmup, args.out)
        else:
            result = worker_trl(args.steps, args.warmup, args.out, args.trl_gradient_checkpointing)
        print(json.dumps(result))
        return
    from rlhf_core.models.offline import smollm2_dir

    smollm2_dir()  # convert the GGUF once, outside the timed processes
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; steps={args.steps} (warm-up {args.warmup})")
    results = {}
    for name in ("ours", "trl"):
        if args.only and name != args.only:
            continue
        results[name] = r = _spawn(name, args, env)
        if "error" in r:
            print(f"{name}: FAILED\n{r['error']}")
            continue
        timed = r["step_s"][args.warmup:] or r["step_s"]
        r["mean_s"] = sum(timed) / len(timed)
        print(f"{name:>5}: {r['mean_s']:.2f} s/step (steps {', '.join(f'{t:.2f}' for t in r['step_s'])}), "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, mean completion length {r['completion_len']}")
    if all(k in results and "mean_s" in results[k] for k in ("ours", "trl")):
        o, t = results["ours"], results["trl"]
        print(f"speed-up ours vs TRL: {t['mean_s'] / o['mean_s']:.2f}x (target >= 2x); "
              f"peak RSS ours/TRL: {o['peak_rss_mb'] / t['peak_rss_mb']:.2f} (target <= 1.0)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
