"""Bring a TRL bundle run back into the studio: `import_trl_run(output_dir)` makes it a studio run.

A bundle written by `rlhf_core.export` and run anywhere (`accelerate launch ... train.py`) leaves

    output/final/                    the trained model (save_pretrained, safetensors; a LoRA run without
                                     SAVE_MERGED leaves peft's adapter, folded into its base on import)
    output/trainer_state.json        TRL's log history: one dict per logged step, in TRL's metric names
    output/processes/rank-<i>.json   one record per process that took part (algo, world size, device)

and the bundle folder around `output/` holds `studio_config.json`, the config it was exported from.
The import writes a run like any other (the contract of `rlhf_core.jobs`): `runs/<id>/config.json`,
`status.json`, `metrics.jsonl` under the studio's metric names (TRL_METRICS below), and the model as
the studio's trainers write it: `final/` for a policy, `model/` (with studio_reward.json) for a reward
model. So the charts, "compare runs", Compare, Evaluate and the Rate queue use it unchanged.
TRL's own log is kept beside it in `trl_log_history.json`.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from rlhf_core import paths
from rlhf_core.errors import StudioError
from rlhf_core.policy.algorithms import ALGORITHMS, kl_per_completion  # noqa: F401 - kl_per_completion: GRPO's, re-exported

LOG_FILE = "trainer_state.json"
PROCESS_DIR = "processes"
KEPT_LOG = "trl_log_history.json"


# studio metric (rlhf_core.metrics.glossary())  <-  TRL log_history key, per bundle kind: the reward model's
# here, each policy algorithm's in its registry entry (rlhf_core.policy.algorithms, trl.metrics); a function
# computes a studio metric that no single TRL key holds. TRL keys not listed stay in trl_log_history.json.
REWARD_METRICS: dict[str, str | Callable[[dict], float | None]] = {
    "loss/train": "loss", "loss/val": "eval_loss", "optim/lr": "learning_rate",
    "trl/pairwise_accuracy": "accuracy", "trl/grad_norm": "grad_norm"}
TRL_METRICS: dict[str, dict[str, str | Callable[[dict], float | None]]] = {
    "reward": REWARD_METRICS, **{name: a.trl.metrics for name, a in ALGORITHMS.items() if a.trl is not None}}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- TRL's log -> studio rows
def studio_metrics(log_history: list[dict], algo: str, total_steps: int | None = None) -> list[dict]:
    """TRL's log history as studio metrics rows: {step, total_steps, epoch, <studio metric>: value, ...}.

    Rows without any mapped metric (TRL's end-of-training summary) are left out; non-finite values
    (a diverged loss) are kept, as the studio's trainers would log them.
    """
    mapping = TRL_METRICS[algo]
    rows = []
    for entry in log_history:
        if not isinstance(entry, dict) or not _number(entry.get("step")):
            continue
        row = {}
        for studio_key, source in mapping.items():
            value = source(entry) if callable(source) else entry.get(source)
            if _number(value):
                row[studio_key] = float(value)
        if row:
            head = {"step": int(entry["step"]), "total_steps": total_steps}
            if _number(entry.get("epoch")):
                head["epoch"] = float(entry["epoch"])
            rows.append({**head, **row})
    return rows


def training_summary(log_history: list[dict]) -> dict:
    """TRL's end-of-training entry (train_loss, train_runtime, ...), finite numbers only."""
    for entry in reversed(log_history):
        if isinstance(entry, dict) and "train_runtime" in entry:
            return {f"trl/{k}": float(v) for k, v in entry.items()
                    if k.startswith("train_") and _number(v) and math.isfinite(v)}
    return {}


# --------------------------------------------------------------------------- reading a bundle run
def read_trl_output(path) -> dict:
    """What a bundle run left: {output, model_dir, log_history, total_steps, global_step, processes,
    algo (or None), studio (the bundle's studio_config.json, or {})}.

    `path` is the run's output folder or the bundle folder around it. The model is output/final/, else
    the newest checkpoint-N/ (a run stopped early); the log is output/trainer_state.json, else that
    checkpoint's.
    """
    from rlhf_core.models.registry import is_model_dir

    folder = Path(str(path)).expanduser()
    if not folder.is_dir():
        raise StudioError(f"There is no folder {folder}.")
    output = folder / "output" if (folder / "output").is_dir() and not (folder / LOG_FILE).exists() else folder
    checkpoints = sorted((p for p in output.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                         key=lambda p: int(p.name.split("-")[-1]))
    # a full model (config.json) or, for a LoRA run saved without SAVE_MERGED, peft's adapter folder
    model_dir = output / "final" if is_model_dir(output / "final") else (
        checkpoints[-1] if checkpoints and is_model_dir(checkpoints[-1]) else None)
    if model_dir is None:
        raise StudioError(f"{output} holds no trained model (no final/ or checkpoint-N/ with a config.json or a LoRA "
                          "adapter_config.json): give the output folder of a finished bundle run.")
    if not any(model_dir.glob("*.safetensors")):
        raise StudioError(f"{model_dir} has no safetensors weights; the studio loads no pickled weights.")
    state_file = output / LOG_FILE if (output / LOG_FILE).is_file() else model_dir / LOG_FILE
    state = paths.read_json(state_file)
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise StudioError(f"{output} has no readable {LOG_FILE} with a log history (train.py writes it at the end).")
    processes = [p for p in (paths.read_json(f) for f in sorted((output / PROCESS_DIR).glob("rank-*.json")))
                 if isinstance(p, dict)]
    studio = paths.read_json(output.parent / "studio_config.json", default={})
    studio = studio if isinstance(studio, dict) else {}
    algo = next((p.get("algo") for p in processes if p.get("algo")), None) or studio.get("algo")
    return {"output": output, "model_dir": model_dir, "log_history": state["log_history"],
            "total_steps": state.get("max_steps") if _number(state.get("max_steps")) else None,
            "global_step": state.get("global_step"), "processes": processes, "algo": algo, "studio": studio}


def guess_algo(found: dict) -> str:
    """The bundle kind from the model and the log keys, for an output folder without records."""
    config = paths.read_json(found["model_dir"] / "config.json", default={}) or {}
    if any("SequenceClassification" in str(a) for a in config.get("architectures") or []):
        return "reward"
    keys = {k for entry in found["log_history"] if isinstance(entry, dict) for k in entry}
    return "dpo" if "rewards/chosen" in keys else "grpo" if "reward" in keys else "sft"


# --------------------------------------------------------------------------- the import
def import_trl_run(path, algo: str | None = None, name: str = "", runs_root=None) -> dict:
    """Make a finished bundle run a studio run (policy or reward model) and return what was imported.

    Args:
        path: the run's output folder (or the bundle folder around it).
        algo: the bundle kind, when the folder does not say (train.py's records and studio_config.json do).
        name: the run's label (default: "<ALGO> via TRL (<n> processes, <device>)").
        runs_root: the runs folder (default paths.runs_dir()).
    Returns:
        {"run_id", "kind", "algo", "steps", "metrics": [studio keys], "model_dir", "processes", "device",
         "source"}.
    """
    from rlhf_core.export import ALGOS
    from rlhf_core.jobs import FAILED, JobRunner

    found = read_trl_output(path)
    algo = algo or found["algo"] or guess_algo(found)
    if algo not in TRL_METRICS:
        raise StudioError(f"Cannot import a '{algo}' run: the studio imports {', '.join(a for a in ALGOS if a in TRL_METRICS)}.")
    rows = studio_metrics(found["log_history"], algo, found["total_steps"])
    if not rows:
        raise StudioError(f"{found['output'] / LOG_FILE} logs no training step the studio can chart.")
    processes, studio = found["processes"], found["studio"]
    world = max((int(p.get("world_size") or 0) for p in processes), default=0) or None
    device = ", ".join(sorted({str(p.get("device", "?")).split(":")[0] for p in processes})) or "unknown device"
    model_id = next((p.get("model_id") for p in processes if p.get("model_id")), "") or "(unknown)"
    saver = _reward_saver(found, model_id, studio) if algo == "reward" else _policy_saver(found, algo, model_id, studio)
    config = {**(studio.get("config") or {}), "algo": algo, "source": "trl", "imported_from": str(found["output"]),
              "processes": world, "device": device, "prompt_style": studio.get("prompt_style"),
              "data": "train.jsonl (exported bundle)"}
    config.update({"backbone": model_id, "objective": "pairwise", "quick": False} if algo == "reward" else {"policy": model_id})
    summary = {**training_summary(found["log_history"]), "steps": found["global_step"], "source": "trl",
               "processes": world, "device": device}

    def make_iter(run_dir: Path):
        # 1. the model, written as the studio's trainers write theirs
        model_dir = saver(run_dir)
        paths.atomic_write_json(run_dir / KEPT_LOG, found["log_history"])
        # 2. TRL's log history, one studio metrics row per logged step
        yield from rows
        # 3. the run's summary (what the pages show next to a finished run)
        extra = {"model_dir": str(model_dir), "backbone": model_id, "objective": "pairwise", "quick": False} \
            if algo == "reward" else {"model_dir": str(model_dir)}
        yield {"step": rows[-1]["step"], "total_steps": rows[-1]["total_steps"] or rows[-1]["step"],
               "summary": {**summary, **extra}}

    label = name or f"{algo.upper()} via TRL ({world or '?'} process{'es' if world != 1 else ''}, {device})"
    runner = JobRunner(runs_root)  # its own queue: an import never waits behind a training run
    run_id = runner.submit(algo, config, make_iter, name=label)
    info = runner.wait(run_id)
    if info.status == FAILED:
        raise StudioError(f"Importing {found['output']} failed: {info.error}")
    return {"run_id": run_id, "kind": algo, "algo": algo, "steps": rows[-1]["step"],
            "metrics": sorted({k for row in rows for k in row} - {"step", "total_steps", "epoch"}),
            "model_dir": str((info.summary or {}).get("model_dir", "")), "processes": world, "device": device,
            "source": str(found["output"])}


def _policy_saver(found: dict, algo: str, model_id: str, studio: dict) -> Callable[[Path], Path]:
    """Load the policy with plain transformers now (a clear error before any run exists); the job writes
    it to run_dir/final the way the studio's policy trainers do (save_checkpoint, studio_policy.json)."""
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.run import save_checkpoint

    bundle = load_policy(str(found["model_dir"]), cache=False)  # a LoRA adapter is folded into its base here
    meta = {"algo": algo, "step": found["global_step"], "total_steps": found["total_steps"], "policy_spec": model_id,
            "prompt_style": studio.get("prompt_style") or bundle.prompt_style, "config": studio.get("config") or {},
            "source": "trl"}
    return lambda run_dir: save_checkpoint(bundle.model, bundle.tokenizer, run_dir / "final", meta)


def _reward_saver(found: dict, model_id: str, studio: dict) -> Callable[[Path], Path]:
    """Load the reward model now; the job writes it to run_dir/model with studio_reward.json, like
    train_reward. TRL's RewardTrainer feeds no segment ids: the metadata says so, and the scorer obeys."""
    from rlhf_core.models.registry import load_reward_backbone
    from rlhf_core.reward.common import save_checkpoint_dir, write_full

    model, tokenizer = load_reward_backbone(str(found["model_dir"]))
    if model.config.num_labels != 1:
        raise StudioError(f"{found['model_dir']} has {model.config.num_labels} labels; a reward model has exactly 1.")
    config = studio.get("config") or {}
    meta = {"format": "full", "backbone": model_id, "objective": "pairwise", "max_length": int(config.get("max_length", 256)),
            "fact_checks": False, "token_type_ids": False, "source": "trl", "steps_done": found["global_step"],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return lambda run_dir: save_checkpoint_dir(run_dir, lambda folder: write_full(model, tokenizer, meta, folder))
