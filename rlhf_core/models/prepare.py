"""Prepare the offline presets once, as a background job with progress, before a class needs them.

Two things are slow the first time and instant afterwards (cached under paths.models_dir()):
  1. the `tiny` policy, only when the copy shipped in the repository is missing: a tiny GPT-2 pre-trained by
     SFT on synthetic stories of its own seed (~7 min on 2 cores);
  2. `smollm2`: the GGUF file of the pip package dequantised and saved as safetensors (~25 s).
`prepare_models()` is a trainer-shaped generator (one metrics dict per step, with `step` and
`total_steps`), so the job runner shows it with the same progress bar as a training run.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

PREPARABLE = ("tiny", "smollm2")


def is_prepared(name: str) -> bool:
    """True when the preset loads without building anything first."""
    from rlhf_core import paths
    from rlhf_core.models import offline, registry

    if name == "tiny":
        from rlhf_core.models.tiny import SHIPPED_DIR

        return any((folder / "config.json").is_file() for folder in (SHIPPED_DIR, paths.models_dir() / registry.TINY_SFT_DIR))
    if name == "smollm2":
        return bool(offline.offline_status().get("smollm2_cached"))
    raise ValueError(f"unknown preset '{name}': choose from {', '.join(PREPARABLE)}")


def _tiny_steps() -> Iterator[dict]:
    """Run the tiny pre-training in a thread and yield its per-step metrics as they arrive.

    The registry owns the build (lock, temporary folder, atomic rename); it reports steps through a
    callback, and a queue turns the callback into a generator the job runner can iterate.
    The thread answers to `stop`: set when the job is cancelled (its cancel event) or this generator
    is closed, so Cancel ends the pre-training within a step instead of letting it run on for minutes.
    """
    from rlhf_core import jobs
    from rlhf_core.models.registry import tiny_sft_dir

    steps: queue.Queue = queue.Queue()
    done = object()
    failure: list[BaseException] = []
    job_cancel, stop = jobs.cancel_event(), threading.Event()

    def build() -> None:
        jobs.adopt_cancel_event(stop)  # raise_if_cancelled() in the pre-training loop watches `stop`
        try:
            tiny_sft_dir(on_step=steps.put)
        except BaseException as exc:  # re-raised in the consuming thread below
            failure.append(exc)
        finally:
            steps.put(done)

    thread = threading.Thread(target=build, name="prepare-tiny", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = steps.get(timeout=0.2)
            except queue.Empty:
                if job_cancel is not None and job_cancel.is_set():
                    stop.set()  # the job was cancelled while no step arrived (e.g. still tokenising)
                continue
            if item is done:
                break
            yield item
    finally:
        stop.set()  # cancelled, closed or failed: the thread stops at its next step
        thread.join(timeout=120)
    if failure:
        raise failure[0]


def prepare_models(which: tuple[str, ...] = PREPARABLE) -> Iterator[dict]:
    """Build each preset in `which` that is not cached yet; yields {step, total_steps, stage, ...}."""
    from rlhf_core.models.offline import smollm2_dir
    from rlhf_core.policy.sft import PRETRAIN_CONFIG

    todo = [name for name in which if not is_prepared(name)]
    tiny_steps = PRETRAIN_CONFIG.steps if "tiny" in todo else 0
    total = tiny_steps + (1 if "smollm2" in todo else 0)
    step = 0
    if "tiny" in todo:
        # 1. pre-train the tiny policy (SFT on the sample corpus), one row per optimiser step
        for metrics in _tiny_steps():
            step = min(int(metrics.get("step", step + 1)), tiny_steps)
            yield {**metrics, "stage": "tiny", "step": step, "total_steps": total}
        step = tiny_steps
    if "smollm2" in todo:
        # 2. dequantise SmolLM2's GGUF file once and cache it as safetensors
        smollm2_dir()
        step += 1
        yield {"stage": "smollm2", "step": step, "total_steps": total}
    yield {"step": total, "total_steps": total, "summary": {name: is_prepared(name) for name in which}}
