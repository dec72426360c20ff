"""JobRunner: runs in background threads, streamed to disk, cancellable, listed after a restart."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from rlhf_core import jobs, paths
from rlhf_core.errors import StudioError
from rlhf_core.jobs import JobRunner

TIMEOUT = 20


def _until(condition, timeout=TIMEOUT):
    """Poll `condition()` until true (a condition, never a fixed sleep, decides)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def _gated(steps, gate: threading.Event, events: dict | None = None):
    """A trainer that yields one step, then waits for `gate` before each further step."""

    def make_iter(run_dir):
        def gen():
            try:
                for step in range(1, steps + 1):
                    if step > 1:
                        assert gate.wait(TIMEOUT), "test never opened the gate"
                    yield {"step": step, "total_steps": steps, "loss/train": 1.0 / step}
            finally:
                (run_dir / "saved.txt").write_text("saved on exit")
                if events is not None:
                    events["finally"] = True

        return gen()

    return make_iter


def test_success_streams_metrics_while_running(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    gate = threading.Event()
    run_id = runner.submit("reward", {"lr": 1e-3}, _gated(3, gate), name="first")

    # a reader sees step 1 on disk while the job is still blocked before step 2
    rows = _until(lambda: runner.read_metrics(run_id))
    assert rows[0]["step"] == 1 and rows[0]["loss/train"] == 1.0 and "time/elapsed_s" in rows[0]
    live = runner.status(run_id)
    assert live.status == "running" and live.step == 1 and live.total_steps == 3
    assert live.progress == pytest.approx(1 / 3) and live.finished is None
    assert json.loads((live.run_dir / "status.json").read_text())["status"] == "running"
    assert runner.active_run("reward").id == run_id and runner.active_run("ppo") is None

    gate.set()
    info = runner.wait(run_id, TIMEOUT)
    assert info.status == "succeeded" and info.progress == 1.0 and info.error is None
    assert [r["step"] for r in runner.read_metrics(run_id)] == [1, 2, 3]
    assert runner.read_metrics(run_id, since_line=2)[0]["step"] == 3
    assert info.config == {"lr": 1e-3} and info.name == "first"
    on_disk = paths.read_json(info.run_dir / "status.json")
    assert on_disk["status"] == "succeeded" and on_disk["finished"] >= on_disk["started"]
    assert paths.read_json(info.run_dir / "config.json") == {"lr": 1e-3}
    assert runner.active_run() is None


def test_samples_summary_eta_and_numpy_values(tmp_path):
    runner = JobRunner(tmp_path / "runs")

    def make_iter(run_dir):
        for step in range(1, 5):
            time.sleep(0.02)
            row = {"step": step, "total_steps": 4, "reward/mean": np.float32(0.5 * step)}
            if step == 2:
                row["samples"] = [{"article": "a", "headline": "h", "reward": np.float64(0.9), "gold": 0.8}]
            if step == 4:
                row["summary"] = {"best_reward": np.float32(2.0), "checkpoint": run_dir / "final"}
            yield row

    run_id = runner.submit("ppo", {}, make_iter)
    info = runner.wait(run_id, TIMEOUT)
    assert info.status == "succeeded"
    assert info.summary == {"best_reward": 2.0, "checkpoint": str(info.run_dir / "final")}
    rows = runner.read_metrics(run_id)
    assert [r["reward/mean"] for r in rows] == [0.5, 1.0, 1.5, 2.0]
    assert all("samples" not in r and "summary" not in r for r in rows)
    assert runner.read_samples(run_id) == [{"article": "a", "headline": "h", "reward": 0.9, "gold": 0.8, "step": 2}]


def test_eta_from_step_rate(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    gate = threading.Event()

    def make_iter(run_dir):
        for step in range(1, 11):
            if step == 4:
                assert gate.wait(TIMEOUT)
            else:
                time.sleep(0.05)
            yield {"step": step, "total_steps": 10}

    run_id = runner.submit("sft", {}, make_iter)
    _until(lambda: runner.status(run_id).step == 3)
    info = runner.status(run_id)
    # two steps of ~0.05 s measured since step 1 -> ~7 steps x 0.05 s left
    assert info.progress == pytest.approx(0.3)
    assert 0.2 < info.eta_s < 10.0
    gate.set()
    assert runner.wait(run_id, TIMEOUT).eta_s == 0.0


def test_failure_captures_traceback(tmp_path):
    runner = JobRunner(tmp_path / "runs")

    def exploding_trainer(run_dir):
        yield {"step": 1, "total_steps": 5}
        raise ValueError("loss is NaN at step 2\nsecond line")

    run_id = runner.submit("dpo", {}, exploding_trainer)
    info = runner.wait(run_id, TIMEOUT)
    assert info.status == "failed"
    assert info.error == "ValueError: loss is NaN at step 2"
    assert "exploding_trainer" in info.traceback and "Traceback" in info.traceback
    assert paths.read_json(info.run_dir / "status.json")["traceback"] == info.traceback
    assert len(runner.read_metrics(run_id)) == 1

    # a make_iter that fails before yielding, and a trainer yielding a non-dict, also end as failed
    def bad_setup(run_dir):
        raise StudioError("Model folder not found.")

    assert runner.wait(runner.submit("dpo", {}, bad_setup), TIMEOUT).error == "Model folder not found."
    events = {}

    def not_a_dict(run_dir):
        try:
            yield 1.5
        finally:
            events["closed"] = True

    failed = runner.wait(runner.submit("dpo", {}, not_a_dict), TIMEOUT)
    assert failed.status == "failed" and "dict of metrics" in failed.error and events["closed"]


def test_cancel_runs_the_trainers_finally(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    gate = threading.Event()
    events: dict = {}
    run_id = runner.submit("ppo", {}, _gated(100, gate, events))
    _until(lambda: runner.read_metrics(run_id))
    assert runner.cancel(run_id) is True
    assert runner.status(run_id).cancel_requested
    gate.set()  # the current step finishes; the runner stops before the next one
    info = runner.wait(run_id, TIMEOUT)
    assert info.status == "cancelled" and info.error is None
    assert events["finally"] and (info.run_dir / "saved.txt").read_text() == "saved on exit"
    assert info.step < 100
    assert runner.cancel(run_id) is False  # nothing left to cancel


def test_queue_runs_in_order_and_cancel_removes_queued(tmp_path):
    runner = JobRunner(tmp_path / "runs", max_concurrent=1)
    gate = threading.Event()
    started = []

    def tracked(tag, make):
        def make_iter(run_dir):
            started.append(tag)
            return make(run_dir)

        return make_iter

    first = runner.submit("reward", {}, tracked("first", _gated(2, gate)))
    second = runner.submit("reward", {}, tracked("second", _gated(2, gate)))
    third = runner.submit("reward", {}, tracked("third", _gated(2, gate)))
    _until(lambda: runner.read_metrics(first))
    assert runner.status(second).status == "queued" and runner.status(third).status == "queued"
    assert paths.read_json(runner.status(second).run_dir / "status.json")["status"] == "queued"
    assert started == ["first"]

    assert runner.cancel(third) is True  # a queued job is removed and never starts
    assert runner.status(third).status == "cancelled"
    gate.set()
    a, b = runner.wait(first, TIMEOUT), runner.wait(second, TIMEOUT)
    assert a.status == b.status == "succeeded"
    assert b.started >= a.finished
    assert started == ["first", "second"]
    assert runner.status(third).started is None


def test_restart_lists_runs_and_marks_orphans_interrupted(tmp_path):
    root = tmp_path / "runs"
    runner = JobRunner(root)
    done = runner.submit("reward", {"n": 1}, _gated(1, threading.Event()))
    runner.wait(done, TIMEOUT)
    failed = runner.submit("ppo", {}, lambda run_dir: iter([{"step": 1}, "oops"]))
    runner.wait(failed, TIMEOUT)

    def fake_run(run_id, created, heartbeat, owner):
        run_dir = root / run_id
        run_dir.mkdir()
        paths.atomic_write_json(run_dir / "config.json", {})
        paths.atomic_write_json(run_dir / "status.json", {
            "id": run_id, "kind": "ppo", "name": "", "status": "running", "step": 7, "total_steps": 10,
            "progress": 0.7, "eta_s": 3.0, "created": created, "started": created, "finished": None,
            "heartbeat": heartbeat, "owner": owner,
        })

    now = time.time()
    fake_run("ppo-dead", now + 1, now - 2 * jobs.STALE_AFTER_S, "another-process")
    fake_run("ppo-alive", now + 2, now, "another-process")  # another server still training
    fake_run("ppo-ours", now + 3, now, jobs._PROCESS_TOKEN)  # ours, but no thread owns it

    restarted = JobRunner(root)  # e.g. the app after a restart
    runs = restarted.list_runs()
    assert [r.id for r in runs] == ["ppo-ours", "ppo-alive", "ppo-dead", failed, done]
    by_id = {r.id: r for r in runs}
    assert by_id["ppo-dead"].status == "interrupted" and by_id["ppo-dead"].eta_s is None
    assert by_id["ppo-alive"].status == "running"
    assert by_id["ppo-ours"].status == "interrupted"
    assert by_id[done].status == "succeeded" and by_id[done].config == {"n": 1}
    assert by_id[failed].status == "failed" and "dict of metrics" in by_id[failed].error
    assert [r.id for r in restarted.list_runs("reward")] == [done]
    assert restarted.active_run("ppo").id == "ppo-alive"

    with pytest.raises(StudioError, match="cancel it"):
        restarted.delete_run("ppo-alive")
    restarted.delete_run("ppo-dead")
    restarted.delete_run(done)
    assert not (root / done).exists() and {r.id for r in restarted.list_runs()} == {"ppo-ours", "ppo-alive", failed}
    with pytest.raises(StudioError):
        restarted.status("../outside")
    with pytest.raises(StudioError, match="no run"):
        restarted.status("reward-missing")


def test_delete_refuses_live_run_and_new_runner_reattaches(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    gate = threading.Event()
    run_id = runner.submit("reward", {}, _gated(2, gate))
    _until(lambda: runner.read_metrics(run_id))
    with pytest.raises(StudioError, match="still running"):
        runner.delete_run(run_id)
    # a second runner on the same folder (e.g. the cache was cleared) sees the live job from memory
    other = JobRunner(tmp_path / "x" / ".." / "runs")  # the same folder, spelled differently
    assert other.status(run_id).status == "running"
    assert [r.status for r in other.list_runs()] == ["running"]
    assert other.cancel(run_id) is True
    gate.set()
    assert other.wait(run_id, TIMEOUT).status == "cancelled"


def test_read_metrics_tolerates_half_written_line(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    run_id = runner.submit("reward", {}, lambda run_dir: iter(()))
    runner.wait(run_id, TIMEOUT)
    path = runner.status(run_id).run_dir / "metrics.jsonl"
    path.write_bytes(b'{"step": 1, "loss/train": 0.5}\n{"step": 2, "loss/train": 0.4}\n{"step": 3, "lo')
    assert [r["step"] for r in runner.read_metrics(run_id)] == [1, 2]
    assert [r["step"] for r in runner.read_metrics(run_id, since_line=1)] == [2]
    assert runner.read_metrics(run_id, since_line=2) == []
    with path.open("ab") as handle:  # the writer finishes the line
        handle.write(b'ss/train": 0.3}\n')
    assert [r["step"] for r in runner.read_metrics(run_id, since_line=2)] == [3]
    assert runner.read_samples(run_id) == []


def test_submit_validates(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    with pytest.raises(StudioError):
        runner.submit("bad kind/..", {}, lambda d: iter(()))
    with pytest.raises(StudioError):
        runner.submit("reward", "not a dict", lambda d: iter(()))
    with pytest.raises(StudioError):
        JobRunner(tmp_path / "runs", max_concurrent=0)
    with pytest.raises(TimeoutError):
        gate = threading.Event()
        run_id = runner.submit("reward", {}, _gated(2, gate))
        try:
            runner.wait(run_id, timeout=0.05)
        finally:
            gate.set()
            runner.wait(run_id, TIMEOUT)


def test_default_root_is_studio_home(studio_home):
    runner = JobRunner()
    run_id = runner.submit("reward", {}, lambda d: iter([{"step": 1, "total_steps": 1}]))
    assert runner.wait(run_id, TIMEOUT).run_dir.parent == (studio_home / "runs").resolve()


def test_heartbeat_advances_during_a_slow_step(tmp_path, monkeypatch):
    """Another process must not mistake a long step for a dead server: the heartbeat keeps beating."""
    monkeypatch.setattr(jobs, "HEARTBEAT_EVERY_S", 0.05)
    runner = JobRunner(tmp_path / "runs")
    gate = threading.Event()
    run_id = runner.submit("ppo", {}, _gated(2, gate))
    _until(lambda: runner.read_metrics(run_id))  # now blocked inside step 2
    status_file = runner.status(run_id).run_dir / "status.json"
    first = paths.read_json(status_file)["heartbeat"]
    _until(lambda: paths.read_json(status_file, {}).get("heartbeat", 0) > first + 0.1)
    gate.set()
    assert runner.wait(run_id, TIMEOUT).status == "succeeded"


def test_group_runs_in_lockstep_and_ends_each_run_on_its_own(tmp_path):
    """submit_group: one thread takes a step of each run in turn; a failing run leaves the other going."""
    order: list[tuple[str, int]] = []

    def trainer(label: str, steps: int, fail_at: int | None = None):
        def make_iter(run_dir):
            for step in range(1, steps + 1):
                if step == fail_at:
                    raise RuntimeError(f"{label} broke")
                order.append((label, step))
                yield {"step": step, "total_steps": steps, "loss": float(step)}
        return make_iter

    runner = JobRunner(tmp_path / "runs")
    a, b, c = runner.submit_group([("grpo", {"beta": 0}, trainer("a", 4), "beta 0"),
                                   ("grpo", {"beta": 0.3}, trainer("b", 4), "beta 0.3"),
                                   ("grpo", {"beta": 1}, trainer("c", 4, fail_at=2), "broken")])
    infos = [runner.wait(run_id, timeout=30) for run_id in (a, b, c)]
    assert [i.status for i in infos] == ["succeeded", "succeeded", "failed"]
    assert "c broke" in infos[2].error
    # interleaved: a1 b1 c1 a2 b2 a3 b3 ... (c fails at its second step), not a1 a2 a3 a4 b1 ...
    assert order[:5] == [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2)]
    assert [r["step"] for r in runner.read_metrics(b)] == [1, 2, 3, 4]


def test_group_member_can_be_cancelled_alone(tmp_path):
    gate = threading.Event()

    def slow(run_dir):
        for step in range(1, 1000):
            gate.wait(0.01)
            yield {"step": step, "total_steps": 999}

    runner = JobRunner(tmp_path / "runs")
    a, b = runner.submit_group([("grpo", {}, slow, "a"), ("grpo", {}, slow, "b")])
    deadline = time.time() + 20
    while runner.status(a).step < 3 and time.time() < deadline:
        time.sleep(0.02)
    assert runner.cancel(a)
    assert runner.wait(a, timeout=20).status == "cancelled"
    assert runner.status(b).status == "running"
    runner.cancel(b)
    assert runner.wait(b, timeout=20).status == "cancelled"
