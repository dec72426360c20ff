"""Running the lesson: which stage comes next, submitting it as a background job, resetting it.

The lesson's state is one small file, `lesson.json` in the data directory: its settings and, per
stage, the run ids it made. Everything else is read from the runs themselves (status, outputs), so
a browser refresh or an app restart picks the lesson up where it was. The Lesson page submits one
stage at a time and pauses; `run_part` (the CLI) runs a part's stages back to back.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from rlhf_core import paths
from rlhf_core.errors import StudioError
from rlhf_core.lesson import stages
from rlhf_core.lesson.config import STAGE_BY_KEY, LessonConfig, Stage, part_stages

STATE_FILE = "lesson.json"
JOB_KIND = {"newsroom": "lesson", "hack_data": "lesson", "rival_data": "lesson", "compare": "lesson",
            "personas_table": "lesson", "sft": "sft", "reward": "reward", "hack_reward": "reward",
            "rival_reward": "reward", "grpo": "grpo", "hacking": "rloo", "personas": "grpo", "generalist": "sft"}
DONE, PENDING, LIVE, BROKEN = "done", "pending", "running", "failed"


# ------------------------------------------------------------------------------------------ state
def state_path() -> Path:
    return paths.studio_home() / STATE_FILE


def load_state() -> dict | None:
    """The current lesson ({config, runs}) or None when no lesson was started."""
    state = paths.read_json(state_path(), default=None)
    return state if isinstance(state, dict) and isinstance(state.get("runs"), dict) else None


def config_of(state: dict) -> LessonConfig:
    return LessonConfig(**state.get("config", {}))


def start(cfg: LessonConfig) -> dict:
    """A new lesson with these settings (the old one's runs stay until `reset`)."""
    state = {"config": cfg.to_dict(), "runs": {}, "created": time.time()}
    paths.atomic_write_json(state_path(), state)
    return state


_state_lock = threading.Lock()  # the page and a lesson's chain thread both start stages


def stage_status(runner, state: dict, key: str) -> str:
    """done | running | failed (also cancelled / interrupted) | pending, from the stage's runs."""
    ids = state["runs"].get(key) or []
    if not ids:
        return PENDING
    statuses = [_status(runner, run_id) for run_id in ids]
    if all(s == "succeeded" for s in statuses):
        return DONE
    if any(s in ("queued", "running") for s in statuses):
        return LIVE
    return BROKEN


def _status(runner, run_id: str) -> str:
    try:
        return runner.status(run_id).status
    except StudioError:  # its folder was deleted by hand
        return "missing"


def next_stage(runner, state: dict, part: str = "main") -> Stage | None:
    """The first stage of `part` that is not done (None when the part is finished)."""
    return next((s for s in part_stages(part) if stage_status(runner, state, s.key) != DONE), None)


def ready(runner, state: dict, stage: Stage) -> bool:
    """Are all the stages this one needs done?"""
    return all(stage_status(runner, state, key) == DONE for key in stage.needs)


# ---------------------------------------------------------------------------------------- outputs
def run_dirs(runner, state: dict, key: str) -> list[Path]:
    return [runner.status(run_id).run_dir for run_id in state["runs"].get(key) or []]


def output(runner, state: dict, key: str) -> str:
    """The folder a finished stage made: a policy's final/, a reward model's model/, a result's run folder."""
    folder = run_dirs(runner, state, key)[0]
    return str(folder / {"sft": "final", "grpo": "final", "generalist": "final"}.get(key, "model" if JOB_KIND[key] == "reward" else ""))


def result(runner, state: dict, key: str) -> dict | None:
    """The result.json of a finished compare / personas_table stage."""
    if stage_status(runner, state, key) != DONE:
        return None
    return paths.read_json(run_dirs(runner, state, key)[0] / stages.RESULT_FILE, default=None)


# ----------------------------------------------------------------------------------------- submit
def jobs_for(runner, state: dict, stage: Stage) -> list[tuple[str, dict, Callable[[Path], Iterator[dict]], str]]:
    """(kind, config, make_iter, name) of each run the stage starts; several runs train in lockstep.
    Each run trains with the lesson's torch thread count (LessonConfig.threads)."""
    threads = config_of(state).threads
    return [(kind, config, _with_threads(threads, make_iter), name)
            for kind, config, make_iter, name in _stage_jobs(runner, state, stage)]


def _with_threads(threads: int, make_iter: Callable[[Path], Iterator[dict]]) -> Callable[[Path], Iterator[dict]]:
    from rlhf_core.threads import with_torch_threads

    return lambda run_dir: with_torch_threads(threads, make_iter(run_dir))


def _stage_jobs(runner, state: dict, stage: Stage) -> list[tuple[str, dict, Callable[[Path], Iterator[dict]], str]]:
    cfg = config_of(state)
    key, kind = stage.key, JOB_KIND[stage.key]
    base = {"lesson_stage": key, "lesson": cfg.to_dict()}
    label = f"lesson: {stage.title.split('. ', 1)[-1]}"
    if key in ("newsroom", "hack_data", "rival_data"):
        persona = cfg.rival_persona if key == "rival_data" else cfg.persona
        blind, prompts = key == "hack_data", key == "newsroom"
        return [(kind, base, lambda d: stages.newsroom(cfg, persona, blind=blind, with_prompts=prompts), label)]
    if key == "sft":
        return [(kind, {**base, "algo": "sft", "policy": "tiny"}, lambda d: stages.sft(cfg, d), label)]
    if key == "generalist":
        return [(kind, {**base, "algo": "sft", "policy": "tiny"}, lambda d: stages.generalist(cfg, d), label)]
    if key in ("reward", "hack_reward", "rival_reward"):
        persona = cfg.rival_persona if key == "rival_reward" else cfg.persona
        return [(kind, {**base, "persona": persona}, lambda d: stages.reward_model(cfg, persona, d, blind=key == "hack_reward"), label)]
    sft_dir = output(runner, state, "sft") if "sft" in stage.needs else ""  # the personas part starts elsewhere
    if key == "grpo":
        reward_dir = output(runner, state, "reward")
        return [(kind, {**base, "algo": "grpo", "policy": sft_dir, "reward_dir": reward_dir},
                 lambda d: stages.reinforce(cfg, sft_dir, reward_dir, d, steps=cfg.grpo_steps, lr=cfg.grpo_lr,
                                            beta=cfg.beta, persona=cfg.persona), label)]
    if key == "compare":
        before, after, reward_dir = sft_dir, output(runner, state, "grpo"), output(runner, state, "reward")
        return [(kind, base, lambda d: stages.before_after(cfg, before, after, reward_dir, d), label)]
    if key == "hacking":
        reward_dir = output(runner, state, "hack_reward")  # on the RL prompts, as the main run
        return [(kind, {**base, "algo": "rloo", "policy": sft_dir, "reward_dir": reward_dir, "beta": beta},
                 _rl_job(cfg, sft_dir, reward_dir, cfg.hack_steps, cfg.hack_lr, beta, cfg.persona, algo="rloo",
                         normalize_advantages=True),
                 f"lesson: reward hacking, beta {beta:g}") for beta in (0.0, cfg.hack_beta)]
    if key == "personas":
        start_dir = output(runner, state, "generalist")
        rewards = {cfg.persona: output(runner, state, "reward"), cfg.rival_persona: output(runner, state, "rival_reward")}
        return [(kind, {**base, "algo": "grpo", "policy": start_dir, "reward_dir": reward_dir, "aligned_to": persona},
                 _rl_job(cfg, start_dir, reward_dir, cfg.persona_steps, cfg.grpo_lr, cfg.beta, persona),
                 f"lesson: aligned to {persona}") for persona, reward_dir in rewards.items()]
    if key == "personas_table":
        folders = [folder / "final" for folder in run_dirs(runner, state, "personas")]
        policies = dict(zip((cfg.persona, cfg.rival_persona), map(str, folders)))
        return [(kind, base, lambda d: stages.personas_table(cfg, policies, d), label)]
    raise StudioError(f"unknown lesson stage '{key}'")


def _rl_job(cfg, start_dir, reward_dir, steps, lr, beta, persona, **settings):
    """A make_iter for one GRPO or RLOO run (a function, so each run of a group binds its own values)."""
    return lambda d: stages.reinforce(cfg, start_dir, reward_dir, d, steps=steps, lr=lr, beta=beta, persona=persona,
                                      **settings)


def submit(runner, state: dict, key: str) -> list[str]:
    """Start a stage as background job(s); refused while it runs, is done, or waits for another stage.

    Checked and recorded under one lock against lesson.json as it is on disk, so two clicks (or the
    page and a chain thread) never start a stage twice, and a reset lesson is never resurrected.
    """
    stage = STAGE_BY_KEY.get(key)
    if stage is None:
        raise StudioError(f"unknown lesson stage '{key}'")
    with _state_lock:
        current = load_state()
        if current is None or current.get("created") != state.get("created"):
            raise StudioError("The lesson was reset or replaced meanwhile.")
        status = stage_status(runner, current, key)
        if status in (DONE, LIVE):
            raise StudioError(f"'{stage.title}' is already {status}.")
        missing = [STAGE_BY_KEY[k].title for k in stage.needs if stage_status(runner, current, k) != DONE]
        if missing:
            raise StudioError(f"'{stage.title}' needs {', '.join(missing)} first.")
        run_ids = runner.submit_group(jobs_for(runner, current, stage))
        current["runs"][key] = run_ids
        paths.atomic_write_json(state_path(), current)
        state["runs"] = current["runs"]
    return run_ids


def advance(runner, state: dict, key: str, through_pauses: bool = False) -> threading.Thread:
    """Start stage `key` now and, in a background thread, each following stage of its part that does
    not pause for discussion (all of them with `through_pauses`): the lesson goes on while the teacher
    shows another page. The thread stops at the next pause, at the part's end or when a stage fails."""
    first = submit(runner, state, key)

    def chain() -> None:
        run_ids, stage = first, STAGE_BY_KEY[key]
        while True:
            if any(runner.wait(run_id).status != "succeeded" for run_id in run_ids):
                return
            current = load_state()  # the page may have started stages meanwhile, or reset the lesson
            if current is None or current.get("created") != state.get("created"):
                return
            following = next_stage(runner, current, stage.part)
            if following is None or (stage.pause and not through_pauses) or not ready(runner, current, following):
                return
            try:
                run_ids, stage = submit(runner, current, following.key), following
            except StudioError:  # the page (or another tab) started it first
                return

    thread = threading.Thread(target=chain, name=f"lesson-{key}", daemon=True)
    thread.start()
    return thread


def run_part(runner, state: dict, part: str, on_stage: Callable[[Stage, float], None] | None = None) -> None:
    """Run a part's remaining stages one after the other, waiting for each (the CLI, tests).

    on_stage(stage, seconds) is called after each stage; a stage that does not succeed stops the part.
    """
    while (stage := next_stage(runner, state, part)) is not None:
        started = time.monotonic()
        for run_id in submit(runner, state, stage.key):
            info = runner.wait(run_id)
            if info.status != "succeeded":
                raise StudioError(f"lesson stage '{stage.title}' {info.status}: {info.error or 'no error recorded'}")
        if on_stage is not None:
            on_stage(stage, time.monotonic() - started)


# ------------------------------------------------------------------------------------------ reset
def lesson_run_ids(state: dict | None) -> list[str]:
    return [run_id for ids in (state or {}).get("runs", {}).values() for run_id in ids or []]


def lesson_datasets(cfg: LessonConfig) -> list[str]:
    """Every dataset name the lesson's stages can make (and nothing else)."""
    names = [stages.dataset_name(p, t) for p in (cfg.persona, cfg.rival_persona) for t in stages.TABLES]
    return names + [stages.dataset_name(cfg.persona, t, blind=True) for t in stages.TABLES[:2]] + [stages.PROMPTS_DATASET]


def reset(runner, timeout: float = 60.0) -> dict:
    """Remove the lesson's own runs and datasets and forget it; nothing else is touched.

    Live runs are cancelled first (and waited for), so no thread writes into a deleted folder.
    """
    from rlhf_core.data.datasets import delete_dataset, list_datasets

    state = load_state()
    removed_runs = 0
    for run_id in lesson_run_ids(state):
        try:
            if runner.status(run_id).is_live:
                runner.cancel(run_id)
                runner.wait(run_id, timeout=timeout)
            runner.delete_run(run_id)
            removed_runs += 1
        except StudioError:
            continue  # already gone
    ours = set(lesson_datasets(config_of(state))) if state else set()
    names = [m["name"] for m in list_datasets() if m.get("name") in ours]
    for name in names:
        delete_dataset(name)
    state_path().unlink(missing_ok=True)
    return {"runs": removed_runs, "datasets": len(names)}
