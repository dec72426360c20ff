"""Runs that go wrong: final/ only after completion or cancel, failed runs never offered, bounded
configs, the last k checkpoints, one Prepare / quick retrain at a time, Cancel reaching a run that
is still loading (also the tiny preset's pre-training thread), a full disk during a checkpoint."""

from __future__ import annotations

import errno
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlhf_core import jobs, paths
from rlhf_core.errors import ConfigError, StudioError
from rlhf_core.jobs import JobRunner
from rlhf_core.policy.config import GenerationConfig, GRPOConfig, SFTConfig
from rlhf_core.policy.train import train_policy

from test_jobs import _until  # noqa: E402  (tests/ is on sys.path: pytest's default import mode)

GEN = GenerationConfig(max_new_tokens=6, max_prompt_tokens=48)
ROOT = Path(__file__).resolve().parent.parent


def _reward(fail_on_call: int | None = None):
    """A reward function that works, or raises on its n-th call (a reward model that breaks mid-run)."""
    calls = {"n": 0}

    def score(articles, headlines):
        calls["n"] += 1
        if fail_on_call is not None and calls["n"] >= fail_on_call:
            raise ValueError("the reward model exploded")
        return np.array([0.01 * len(h.split()) for h in headlines])

    return score


# --- final/ ------------------------------------------------------------------------------------
def test_final_is_written_on_completion_and_cancel_but_never_after_a_failure(articles, tmp_path):
    cfg = GRPOConfig(steps=3, lr=1e-3, group_size=2, sample_every=0, probe_articles=0, generation=GEN)
    # 1. a failure at step 2: no final/, the real error propagates
    failing = train_policy("grpo", cfg, "tiny-init", _reward(fail_on_call=2), articles, tmp_path / "failed")
    with pytest.raises(ValueError, match="exploded"):
        list(failing)
    assert not (tmp_path / "failed" / "final").exists()
    # 2. a cancel after one step (the runner closes the generator): final/ holds step 1
    cancelled = train_policy("grpo", cfg, "tiny-init", _reward(), articles, tmp_path / "cancelled")
    next(cancelled)
    cancelled.close()
    assert paths.read_json(tmp_path / "cancelled" / "final" / "studio_policy.json")["step"] == 1
    # 3. completion
    list(train_policy("grpo", cfg, "tiny-init", _reward(), articles, tmp_path / "done"))
    assert paths.read_json(tmp_path / "done" / "final" / "studio_policy.json")["step"] == 3


def test_a_failing_save_never_hides_the_runs_real_error(articles, tmp_path, monkeypatch):
    """The reward model fails at step 2 and the disk is full: the status names the reward model."""
    import rlhf_core.policy.run as train  # save_checkpoint lives with PolicyRun

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(train, "save_checkpoint", full_disk)
    runner = JobRunner(tmp_path / "runs")
    cfg = GRPOConfig(steps=3, lr=1e-3, group_size=2, sample_every=0, probe_articles=0, generation=GEN)
    run_id = runner.submit("grpo", {}, lambda out: train_policy("grpo", cfg, "tiny-init", _reward(2), articles, out))
    info = runner.wait(run_id, timeout=120)
    assert info.status == "failed"
    assert "exploded" in info.error and "space" not in info.error


def test_the_runner_failing_a_run_writes_no_final(tmp_path):
    """A step the runner cannot record fails the run; the trainer's finally must see a failure, not a cancel."""
    runner = JobRunner(tmp_path / "runs")
    seen = {}

    def make_iter(out_dir):
        import sys

        def gen():
            try:
                yield {"step": 1, "total_steps": 2}
                yield "not a dict"
            finally:
                seen["leaving"] = type(sys.exc_info()[1]).__name__

        return gen()

    info = runner.wait(runner.submit("grpo", {}, make_iter), timeout=30)
    assert info.status == "failed" and "TypeError" in info.error
    assert seen["leaving"] == "TypeError"  # not GeneratorExit: a trainer's finish() writes no final/


def test_failed_interrupted_and_live_runs_are_never_offered_as_policies(studio_home):
    from rlhf_core.compare import policy_choices
    from rlhf_core.models.registry import load_policy

    bundle = load_policy("tiny-init")
    for run_id, status in (("grpo-ok", "succeeded"), ("grpo-cancel", "cancelled"), ("grpo-failed", "failed"),
                           ("grpo-live", "running"), ("grpo-manual", None)):
        final = paths.runs_dir() / run_id / "final"
        bundle.model.save_pretrained(final)
        if status:
            paths.atomic_write_json(final.parent / "status.json", {"status": status, "host": "elsewhere",
                                                                   "heartbeat": time.time()})
    offered = {label for label in policy_choices() if label.startswith("run: ")}
    assert offered == {"run: grpo-ok", "run: grpo-cancel", "run: grpo-manual"}


# --- bounds and checkpoints ---------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: GRPOConfig(steps=10**9), lambda: GRPOConfig(group_size=100_000), lambda: GRPOConfig(prompts_per_step=0),
    lambda: SFTConfig(batch_size=10**6), lambda: SFTConfig(max_length=10**6), lambda: SFTConfig(keep_checkpoints=0),
    lambda: GenerationConfig(max_new_tokens=10**5), lambda: GRPOConfig(seed=-1),
])
def test_policy_configs_bound_every_size(make):
    with pytest.raises(ConfigError, match="between"):
        make()


def test_reward_config_bounds_and_the_pages_widgets_read_the_same_numbers():
    from streamlit.testing.v1 import AppTest

    from rlhf_core.bounds import bounds
    from rlhf_core.reward.config import RewardConfig

    for field, value in (("epochs", 10**6), ("batch_size", 10**6), ("max_steps", 10**9), ("quick_head_steps", 10**8)):
        with pytest.raises(ConfigError, match="between"):
            RewardConfig(**{field: value})
    at = AppTest.from_file(str(ROOT / "pages/reward.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    widget = at.number_input(key="reward_param_epochs")
    assert (widget.min, widget.max) == tuple(float(b) for b in bounds(RewardConfig, "epochs"))
    assert at.number_input(key="reward_param_batch_size").max == bounds(RewardConfig, "batch_size")[1]
    policy = AppTest.from_file(str(ROOT / "pages/policy.py"), default_timeout=60).run()
    assert not policy.exception, policy.exception
    assert policy.number_input(key="policy_param_grpo_tiny_steps").max == bounds(GRPOConfig, "steps")[1]
    assert policy.number_input(key="policy_param_grpo_tiny_group_size").min == 2


def test_checkpoints_keep_only_the_last_k(tmp_path):
    demos = pd.DataFrame({"article": [f"The council met on day {i}." for i in range(8)],
                          "headline": [f"Council meets, day {i}" for i in range(8)]})
    cfg = SFTConfig(steps=5, lr=1e-3, batch_size=4, save_every=1, keep_checkpoints=2, sample_every=0, probe_articles=0)
    list(train_policy("sft", cfg, "tiny-init", None, demos, tmp_path / "run"))
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if not p.name.startswith(".")) == [
        "checkpoint-3", "checkpoint-4", "final"]


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_says_why(articles, tmp_path, monkeypatch):
    """ENOSPC in the middle of writing checkpoint-2's weights: checkpoint-1 is intact and loads,
    no half checkpoint is left, and the run's status says the disk is full."""
    import transformers.modeling_utils as modeling_utils
    from transformers import AutoModelForCausalLM

    real_save = modeling_utils.PreTrainedModel.save_pretrained
    calls = {"n": 0}

    def save_pretrained(self, folder, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # checkpoint-2: half the bytes land, then the disk is full
            Path(folder, "model.safetensors").write_bytes(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, folder, *args, **kwargs)

    monkeypatch.setattr(modeling_utils.PreTrainedModel, "save_pretrained", save_pretrained)
    runner = JobRunner(tmp_path / "runs")
    cfg = GRPOConfig(steps=3, lr=1e-3, group_size=2, save_every=1, sample_every=0, probe_articles=0, generation=GEN)
    run_id = runner.submit("grpo", {}, lambda out: train_policy("grpo", cfg, "tiny-init", _reward(), articles, out))
    info = runner.wait(run_id, timeout=120)
    assert info.status == "failed"
    assert "disk is full" in info.error and "checkpoint-2" in info.error
    run_dir = tmp_path / "runs" / run_id
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith((".", "checkpoint", "final"))) == ["checkpoint-1"]
    model = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoint-1")  # intact, loadable
    assert model.config.model_type == "gpt2"


# --- one at a time; Cancel reaches loading and threads ---------------------------------------------
def test_a_second_prepare_or_quick_retrain_is_refused_while_one_is_live(tmp_path):
    runner, other = JobRunner(tmp_path / "runs"), JobRunner(tmp_path / "runs")
    gate = threading.Event()

    def slow(out_dir):
        yield {"step": 1, "total_steps": 2}
        gate.wait(30)
        yield {"step": 2, "total_steps": 2}

    first = runner.submit("prepare", {}, slow, name="prepare models", exclusive="prepare")
    with pytest.raises(jobs.JobRefused, match="prepare models is already running"):
        runner.submit("prepare", {}, slow, exclusive="prepare")
    with pytest.raises(StudioError, match=first):
        other.submit("prepare", {}, slow, exclusive="prepare")  # another runner (page session) too
    retrain = runner.submit("reward", {}, slow, exclusive="quick-retrain")  # another tag: queued, not refused
    gate.set()
    assert runner.wait(first, 30).status == "succeeded" and runner.wait(retrain, 30).status == "succeeded"
    assert len(runner.list_runs("prepare")) == 1
    again = runner.submit("prepare", {}, slow, exclusive="prepare")  # once it finished: allowed again
    assert runner.wait(again, 30).status == "succeeded"


def test_quick_retrain_clicked_while_one_runs_shows_a_message_and_queues_nothing(studio_home):
    from streamlit.testing.v1 import AppTest

    from rlhf_core.store import RatingsStore
    from ui import rater as keys
    from ui.services import job_runner

    RatingsStore().add_rating("The council voted 7 to 2.", "Council approves plan", 4, "ann")
    gate = threading.Event()

    def slow(out_dir):
        yield {"step": 1, "total_steps": 2}
        gate.wait(60)

    at = AppTest.from_file(str(ROOT / "pages/rate.py"), default_timeout=60).run()
    live = job_runner().submit("reward", {}, slow, name="quick retrain with collected ratings", exclusive="quick-retrain")
    try:
        at.button(key=keys.RATE_RETRAIN_GO).click().run()
        assert not at.exception, at.exception
        assert any("already running" in e.value for e in at.error)
        assert [r.id for r in job_runner().list_runs("reward")] == [live]
    finally:
        gate.set()
        job_runner().wait(live, 30)


def _fresh_models_dir(tmp_path, monkeypatch) -> Path:
    """An empty model cache and no shipped preset (so `tiny` must be pre-trained), with the tokenizer copied in."""
    from rlhf_core.models import tiny
    from rlhf_core.models.tiny import tiny_tokenizer

    tokenizer = tiny_tokenizer()  # the shipped one
    tokenizer.save_pretrained(str(paths.models_dir() / tiny.TOKENIZER_DIR))  # as a checkout without the preset caches it
    monkeypatch.setattr(tiny, "SHIPPED_DIR", tmp_path / "not-shipped")
    shared = paths.models_dir()
    fresh = tmp_path / "models"
    fresh.mkdir()
    for entry in shared.iterdir():
        if "tokenizer" in entry.name and entry.is_dir() and not entry.name.startswith("."):
            shutil.copytree(entry, fresh / entry.name)
    monkeypatch.setenv("RLHF_STUDIO_MODELS", str(fresh))
    from rlhf_core.models import registry

    registry.clear_cache()
    return fresh


def test_cancel_stops_a_run_still_loading_its_policy(articles, tmp_path, monkeypatch):
    """GRPO on `tiny` before the preset exists: the run is pre-training it in its own thread when
    Cancel is pressed; the run ends cancelled within seconds, nothing half-built is left."""
    models = _fresh_models_dir(tmp_path, monkeypatch)
    runner = JobRunner(tmp_path / "runs")
    cfg = GRPOConfig(steps=2, group_size=2, sample_every=0, probe_articles=0, generation=GEN)
    run_id = runner.submit("grpo", {}, lambda out: train_policy("grpo", cfg, "tiny", _reward(), articles, out))
    _until(lambda: (models / ".tiny-sft.lock").exists() and runner.status(run_id).status == "running", timeout=60)
    time.sleep(1.0)  # well into the pre-training (corpus, first steps)
    assert runner.cancel(run_id)
    started = time.monotonic()
    info = runner.wait(run_id, timeout=60)
    assert info.status == "cancelled" and info.error is None
    assert time.monotonic() - started < 30
    assert not (models / "tiny-sft").exists() and not list(models.glob(".tiny-sft.*.tmp"))
    assert not (info.run_dir / "final").exists()


def test_cancel_stops_the_prepare_jobs_pretraining_thread(tmp_path, monkeypatch):
    from rlhf_core.models.prepare import prepare_models

    models = _fresh_models_dir(tmp_path, monkeypatch)
    runner = JobRunner(tmp_path / "runs")
    run_id = runner.submit("prepare", {}, lambda out: prepare_models(("tiny",)), exclusive="prepare")
    _until(lambda: runner.read_metrics(run_id), timeout=120)  # the pre-training thread is stepping
    assert runner.cancel(run_id)
    info = runner.wait(run_id, timeout=60)
    assert info.status == "cancelled"
    _until(lambda: not [t for t in threading.enumerate() if t.name == "prepare-tiny"], timeout=30)
    steps_at_cancel = len(runner.read_metrics(run_id))
    time.sleep(1.0)
    assert len(runner.read_metrics(run_id)) == steps_at_cancel
    assert not (models / "tiny-sft").exists() and not list(models.glob(".tiny-sft.*.tmp"))
