"""Background training jobs: one thread per run, everything a page needs written to disk.

A trainer is a generator `make_iter(run_dir) -> Iterator[dict]` that yields one flat metrics dict
per step (with `step` and `total_steps`). The runner iterates it in a daemon thread, so a Streamlit
page never blocks, and keeps the run's whole story in `runs/<run_id>/`:

    config.json     the configuration the run was started with
    status.json     queued | running | succeeded | failed | cancelled, progress, ETA, error + traceback,
                    a heartbeat (rewritten every few seconds while the run lives) and the owner process
    metrics.jsonl   one JSON line per step, flushed as it happens (charts poll it)
    samples.jsonl   probe headlines (a step's `samples` list), each tagged with its step
    ...             checkpoints the trainer writes itself (atomically)

Because everything is on disk, a browser refresh re-attaches to a live job (the app keeps one
JobRunner in `st.cache_resource`) and an app restart still lists past runs. A run whose
status.json says running/queued, that no live thread of this process owns, and whose heartbeat
is older than STALE_AFTER_S seconds belongs to a process that died: it is reported `interrupted`.

Several runs can also train in lockstep (`submit_group`): one worker thread takes one step of
each in turn, so two runs shown side by side (beta = 0 next to a sensible beta) advance together
and share the CPU without two thread pools fighting over the same cores.

Cancellation is cooperative: `cancel()` sets an Event that the runner checks before asking the
generator for its next step; it then calls `generator.close()`, which raises GeneratorExit at the
trainer's `yield`, so a trainer's `try/finally` can save a checkpoint before the run is marked
cancelled. Work that runs long before the first step (loading a model, pre-training the `tiny`
preset, a thread the job started) calls `raise_if_cancelled()` now and then: it raises
JobCancelled in the job's thread once the run is cancelled, so Cancel also stops a run that is
still loading. When the runner itself fails a run (a step yielded something it cannot record), it
throws the failure into the generator instead of closing it, so the trainer's `finally` sees a
failure, not a cancel, and writes no `final/`.

`submit(..., exclusive="prepare")` refuses a second live job with the same tag (in this process
or another on the same folder) with a JobRefused message, instead of queueing copies.
A run whose status says running but whose process is gone (same machine, process id not alive)
is reported `interrupted` at once; other machines' runs after STALE_AFTER_S without a heartbeat.
Nothing here imports Streamlit and nothing prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from rlhf_core import paths
from rlhf_core.errors import StudioError

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted",
)
LIVE_STATES = (QUEUED, RUNNING)
STATUS_EVERY_S = 1.0  # status.json is rewritten at most this often between state changes
HEARTBEAT_EVERY_S = 5.0  # ... and at least this often while a run lives, even inside a slow step
STALE_AFTER_S = 30.0  # a live-looking run with an older heartbeat belongs to a dead process

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PROCESS_TOKEN = uuid.uuid4().hex  # tells this process's runs from those of another process
_LIVE: dict[str, "_Job"] = {}  # run_dir -> job, for every live job of this process (all runners)
_LIVE_LOCK = threading.Lock()
_HOST = socket.gethostname()
_CURRENT = threading.local()  # .event: the cancel Event of the job this thread works for


class JobCancelled(BaseException):
    """Raised by `raise_if_cancelled()` inside a job's own work once its run was cancelled.

    A BaseException (like GeneratorExit), so an `except Exception` in loading code cannot swallow it.
    """


class JobRefused(StudioError):
    """`submit(..., exclusive=...)` while a live job with the same tag exists."""


def cancel_event() -> threading.Event | None:
    """The cancel Event of the job the calling thread works for (None outside a job)."""
    return getattr(_CURRENT, "event", None)


def adopt_cancel_event(event: threading.Event | None) -> None:
    """Make a thread a job started answer to that job's Cancel (pass `cancel_event()` from the job's thread)."""
    _CURRENT.event = event


def raise_if_cancelled() -> None:
    """In long work before or between steps: raise JobCancelled if this thread's job was cancelled."""
    event = cancel_event()
    if event is not None and event.is_set():
        raise JobCancelled("cancelled")


@dataclass
class RunInfo:
    """What a page shows about one run. Times are Unix seconds (time.time()); eta_s in seconds."""

    id: str
    kind: str
    name: str
    status: str
    step: int
    total_steps: int | None
    progress: float  # 0..1
    eta_s: float | None
    created: float | None
    started: float | None
    finished: float | None
    error: str | None
    traceback: str | None
    summary: dict | None
    config: dict
    run_dir: Path
    cancel_requested: bool = False
    heartbeat: float | None = None
    exclusive: str | None = None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATES


class _Job:
    """In-memory state of one live run. `info` is what status.json holds (minus the heartbeat)."""

    def __init__(self, runner: "JobRunner", run_id: str, kind: str, name: str, config: dict,
                 make_iter: Callable[[Path], Iterator[dict]], run_dir: Path):
        self.runner, self.id, self.config, self.make_iter, self.run_dir = runner, run_id, config, make_iter, run_dir
        self.lock = threading.Lock()  # guards `info` and status.json writes
        self.cancel_event = threading.Event()
        self.done = threading.Event()
        self.info: dict[str, Any] = {
            "id": run_id, "kind": kind, "name": name, "status": QUEUED, "step": 0, "total_steps": None,
            "progress": 0.0, "eta_s": None, "created": time.time(), "started": None, "finished": None,
            "error": None, "traceback": None, "summary": None, "cancel_requested": False,
        }
        self._last_write = 0.0
        self._rate_origin: tuple[float, int] | None = None  # (time, step) of the first step seen

    def write_status(self, force: bool = False) -> None:
        """Rewrite status.json atomically: always when forced (state change), else at most 1/s."""
        with self.lock:
            now = time.time()
            if not force and now - self._last_write < STATUS_EVERY_S:
                return
            self._last_write = now
            record = dict(self.info, heartbeat=now, owner=_PROCESS_TOKEN, pid=os.getpid(), host=_HOST)
            paths.atomic_write_json(self.run_dir / "status.json", record)

    def run_info(self) -> RunInfo:
        with self.lock:
            info = dict(self.info)
        return RunInfo(**info, config=self.config, run_dir=self.run_dir, heartbeat=time.time())


class JobRunner:
    """Runs trainer generators in background threads, `max_concurrent` at a time, in order.

    Args:
        runs_root: folder holding one sub-folder per run (default `paths.runs_dir()`).
        max_concurrent: how many runs train at once; later ones wait with status `queued`.
    """

    def __init__(self, runs_root: Path | None = None, max_concurrent: int = 1):
        if int(max_concurrent) < 1:
            raise StudioError("max_concurrent must be at least 1.")
        # resolved, so every runner on one folder names a run's folder (the _LIVE key) the same way
        self.runs_root = (Path(runs_root) if runs_root is not None else paths.runs_dir()).resolve()
        self.runs_root.mkdir(parents=True, exist_ok=True)
        self.max_concurrent = int(max_concurrent)
        self._lock = threading.RLock()
        self._pending: deque[list[_Job]] = deque()  # groups of runs waiting for a worker thread
        self._running: dict[str, _Job] = {}
        self._workers = 0  # worker threads alive (a group of runs shares one)
        self._heartbeat: threading.Thread | None = None

    # ----------------------------------------------------------------------------- submit / cancel
    def submit(self, kind: str, config: dict, make_iter: Callable[[Path], Iterator[dict]], name: str = "",
               exclusive: str | None = None) -> str:
        """Create `runs/<run_id>/`, queue the run and start it as soon as a slot is free.

        Args:
            kind: run family used in the id and for filtering ("reward", "ppo", ...).
            config: JSON-able configuration, saved as config.json.
            make_iter: called in the worker thread with the run folder; returns the step generator.
            name: a human label for the run list.
            exclusive: a tag such as "prepare": refuse (JobRefused) while a live run with this tag
                exists, here or in another process on the same runs folder.
        Returns:
            The new run id.
        """
        return self.submit_group([(kind, config, make_iter, name)], exclusive=exclusive)[0]

    def submit_group(self, runs: list[tuple[str, dict, Callable[[Path], Iterator[dict]], str]],
                     exclusive: str | None = None) -> list[str]:
        """Queue several runs that train in lockstep in one worker thread: a step of each in turn.

        Each run is an ordinary run (its own folder, status, metrics, cancel); they only share the
        thread, so side-by-side runs advance together. `runs` holds (kind, config, make_iter, name).
        Returns the run ids in the same order.
        """
        if not runs:
            raise StudioError("submit_group needs at least one run.")
        # the exclusive tag (if any) goes on the first run: the group's other runs must not refuse it
        group = [self._create(*run, exclusive=exclusive if i == 0 else None) for i, run in enumerate(runs)]
        with self._lock:
            self._pending.append(group)
            self._start_heartbeat()
        self._schedule()
        return [job.id for job in group]

    def _create(self, kind: str, config: dict, make_iter: Callable[[Path], Iterator[dict]], name: str = "",
                exclusive: str | None = None) -> _Job:
        """A queued run: its folder, config.json and status.json exist before any step runs."""
        if not isinstance(kind, str) or not _SAFE_NAME.match(kind):
            raise StudioError(f"Job kind {kind!r} must be letters, digits, '.', '_' or '-'.")
        if not isinstance(config, dict):
            raise StudioError("A job's config must be a dict.")
        if not callable(make_iter):
            raise StudioError("make_iter must be a callable taking the run folder.")
        with _LIVE_LOCK:  # one check-and-register at a time: two clicks cannot both pass the check
            if exclusive:
                self._refuse_if_live(str(exclusive))
            run_id = paths.new_run_id(kind)
            while (self.runs_root / run_id).exists():  # two submits in the same second with the same 4 hex
                run_id = paths.new_run_id(kind)
            run_dir = self.runs_root / run_id
            run_dir.mkdir(parents=True)
            paths.atomic_write_json(run_dir / "config.json", config)
            job = _Job(self, run_id, kind, str(name or ""), json.loads(json.dumps(config, default=str)), make_iter, run_dir)
            job.info["exclusive"] = str(exclusive) if exclusive else None
            _LIVE[str(run_dir)] = job  # registered before status.json exists, so no reader ever sees it orphaned
        job.write_status(force=True)
        return job

    def _refuse_if_live(self, tag: str) -> None:
        """JobRefused if a live run tagged `tag` exists (call holding _LIVE_LOCK)."""
        live = [job.run_info() for job in _LIVE.values() if job.info.get("exclusive") == tag]
        if not live:  # another process (the other server on this folder) may run one
            live = [info for info in self.list_runs() if info.is_live and info.exclusive == tag]
        if live:
            raise JobRefused(f"{live[0].name or live[0].kind} is already running (run {live[0].id}): "
                             "wait for it to finish or cancel it first.")

    def cancel(self, run_id: str) -> bool:
        """Ask a run to stop. A queued run is removed at once; a running one stops before its next
        step (its generator is closed so its `finally` can save). Returns False if it was not live."""
        job = self._live_job(run_id)
        if job is None:
            self._run_dir(run_id, must_exist=True)
            return False
        return job.runner._cancel(job)

    def _cancel(self, job: _Job) -> bool:
        with self._lock:
            group = next((g for g in self._pending if job in g), None)
            if group is not None:
                group.remove(job)
                if not group:
                    self._pending.remove(group)
                with job.lock:
                    job.info.update(status=CANCELLED, finished=time.time(), cancel_requested=True)
                job.write_status(force=True)
                self._retire(job)
                return True
        with job.lock:
            if job.info["status"] not in LIVE_STATES:
                return False
            job.info["cancel_requested"] = True
        job.cancel_event.set()
        job.write_status(force=True)
        return True

    # ----------------------------------------------------------------------------- the worker
    def _schedule(self) -> None:
        """Start queued groups, oldest first, while fewer than max_concurrent worker threads run."""
        with self._lock:
            while self._pending and self._workers < self.max_concurrent:
                group = self._pending.popleft()
                for job in group:
                    self._running[job.id] = job
                self._workers += 1
                name = f"job-{group[0].id}" + (f"+{len(group) - 1}" if len(group) > 1 else "")
                threading.Thread(target=self._work, args=(group,), name=name, daemon=True).start()

    def _work(self, group: list[_Job]) -> None:
        """Iterate the group's trainer generators, one step of each in turn, until all have ended;
        each run gets its final status.json as soon as it ends (one failing leaves the others running)."""
        steppers = [_Stepper(self, job) for job in group]
        try:
            live = [s for s in steppers if s.start()]
            while live:
                # one step of each live run in turn (a single run: just its next step)
                live = [s for s in live if s.step()]
        except BaseException as exc:  # noqa: BLE001 - a worker thread must never die silently
            for stepper in steppers:
                stepper.fail(exc)
        finally:
            adopt_cancel_event(None)
            for stepper in steppers:
                try:
                    stepper.finish()
                except OSError:  # status.json unwritable (full disk): the other runs still end
                    pass
            with self._lock:
                self._workers -= 1
            self._schedule()

    def _record(self, job: _Job, row: Any, metrics_file) -> None:
        if not isinstance(row, dict):
            raise TypeError(f"a training step must yield a dict of metrics, got {type(row).__name__}")
        row = dict(row)  # never mutate the trainer's dict
        samples = row.pop("samples", None)
        summary = row.pop("summary", None)
        now = time.time()
        with job.lock:
            info = job.info
            if isinstance(row.get("step"), (int, float)):
                info["step"] = int(row["step"])
            if isinstance(row.get("total_steps"), (int, float)) and row["total_steps"] > 0:
                info["total_steps"] = int(row["total_steps"])
            step, total = info["step"], info["total_steps"]
            if total:
                info["progress"] = min(1.0, max(0.0, step / total))
                info["eta_s"] = self._eta(job, now, step, total)
            if summary is not None:
                info["summary"] = json.loads(json.dumps(summary, default=_json_default))
            elapsed = now - (info["started"] or now)
        if row:
            row["time/elapsed_s"] = round(elapsed, 3)
            metrics_file.write(json.dumps(row, default=_json_default) + "\n")
            metrics_file.flush()  # a chart polling the file sees the step now, not at the end
        if samples:
            with open(job.run_dir / "samples.jsonl", "a", encoding="utf-8") as samples_file:
                for sample in samples:
                    tagged = dict(sample, step=step) if isinstance(sample, dict) else {"value": sample, "step": step}
                    samples_file.write(json.dumps(tagged, default=_json_default) + "\n")
        job.write_status()

    @staticmethod
    def _eta(job: _Job, now: float, step: int, total: int) -> float | None:
        """Seconds left = steps left x seconds per step, measured from the first step seen (so
        model loading before step 1 does not inflate it); before a second step, from the start."""
        if job._rate_origin is None:
            job._rate_origin = (now, step)
        t0, s0 = job._rate_origin
        if step > s0:
            per_step = (now - t0) / (step - s0)
        elif step > 0 and job.info["started"]:
            per_step = (now - job.info["started"]) / step
        else:
            return None
        return max(0.0, (total - step) * per_step)

    def _retire(self, job: _Job) -> None:
        """The job's final status is on disk: forget it in memory and wake anyone waiting."""
        with _LIVE_LOCK:
            if _LIVE.get(str(job.run_dir)) is job:
                del _LIVE[str(job.run_dir)]
        job.done.set()

    def _start_heartbeat(self) -> None:
        """One daemon thread per runner refreshes status.json of its live runs every few seconds,
        so another process can tell a slow step from a dead process. It exits when idle."""
        if self._heartbeat is not None and self._heartbeat.is_alive():
            return

        def beat() -> None:
            while True:
                time.sleep(HEARTBEAT_EVERY_S)
                with self._lock:
                    jobs = [job for group in self._pending for job in group] + list(self._running.values())
                    if not jobs:
                        self._heartbeat = None
                        return
                for job in jobs:
                    with job.lock:
                        live = job.info["status"] in LIVE_STATES
                    if live:
                        try:
                            job.write_status(force=True)
                        except OSError:
                            pass  # a full disk must not kill the heartbeat; the worker reports it

        self._heartbeat = threading.Thread(target=beat, name="job-heartbeat", daemon=True)
        self._heartbeat.start()

    # ----------------------------------------------------------------------------- reading
    def status(self, run_id: str) -> RunInfo:
        """The run's state: from memory while this process runs it, else from its status.json."""
        job = self._live_job(run_id)
        if job is not None:
            return job.run_info()
        info = self._info_from_disk(self._run_dir(run_id, must_exist=True))
        if info is None:
            raise StudioError(f"Run {run_id} has no readable status.json.")
        return info

    def list_runs(self, kind: str | None = None) -> list[RunInfo]:
        """Every run under runs_root (also those of earlier app sessions), newest first."""
        runs = []
        for run_dir in self.runs_root.iterdir() if self.runs_root.exists() else []:
            if not run_dir.is_dir() or not _SAFE_NAME.match(run_dir.name):
                continue
            job = _LIVE.get(str(run_dir))
            info = job.run_info() if job is not None else self._info_from_disk(run_dir)
            if info is not None and (kind is None or info.kind == kind):
                runs.append(info)
        runs.sort(key=lambda r: (r.created or 0.0, r.id), reverse=True)
        return runs

    def active_run(self, kind: str | None = None) -> RunInfo | None:
        """The newest running run (else the oldest queued one) of `kind`, or None."""
        with self._lock:
            running = [j.run_info() for j in self._running.values()]
            queued = [j.run_info() for group in self._pending for j in group]
        running = [r for r in running if kind is None or r.kind == kind]
        if running:
            return max(running, key=lambda r: r.created or 0.0)
        queued = [r for r in queued if kind is None or r.kind == kind]
        if queued:
            return queued[0]
        # a run of another runner (or process) on the same folder
        for info in self.list_runs(kind):
            if info.status == RUNNING:
                return info
        return None

    def read_metrics(self, run_id: str, since_line: int = 0) -> list[dict]:
        """Metrics rows from line `since_line` (0-based, counting complete lines) to the end.
        A half-written last line (the trainer is writing it right now) is left for the next poll."""
        return _read_jsonl(self._run_dir(run_id, must_exist=True) / "metrics.jsonl", since_line)

    def read_samples(self, run_id: str) -> list[dict]:
        """Probe headlines the trainer yielded under `samples`, each with the step it came from."""
        return _read_jsonl(self._run_dir(run_id, must_exist=True) / "samples.jsonl", 0)

    def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Block until the run is no longer live (for tests and the CLI). Raises TimeoutError."""
        job = self._live_job(run_id)
        if job is not None and not job.done.wait(timeout):
            raise TimeoutError(f"run {run_id} still {job.info['status']} after {timeout} s")
        return self.status(run_id)

    def delete_run(self, run_id: str) -> None:
        """Remove a finished run's folder. Refuses while the run is queued or running."""
        info = self.status(run_id)
        if info.status in LIVE_STATES:
            raise StudioError(f"Run {run_id} is still {info.status}; cancel it before deleting it.")
        shutil.rmtree(info.run_dir)

    # ----------------------------------------------------------------------------- helpers
    def _run_dir(self, run_id: str, must_exist: bool = False) -> Path:
        if not isinstance(run_id, str) or not _SAFE_NAME.match(run_id):  # no "../" out of runs_root
            raise StudioError(f"{run_id!r} is not a run id.")
        run_dir = self.runs_root / run_id
        if must_exist and not run_dir.is_dir():
            raise StudioError(f"There is no run {run_id} in {self.runs_root}.")
        return run_dir

    def _live_job(self, run_id: str) -> _Job | None:
        return _LIVE.get(str(self._run_dir(run_id)))

    @staticmethod
    def _info_from_disk(run_dir: Path) -> RunInfo | None:
        record = paths.read_json(run_dir / "status.json")
        if not isinstance(record, dict) or "status" not in record:
            return None
        status = record["status"]
        heartbeat = record.get("heartbeat")
        if status in LIVE_STATES and str(run_dir) not in _LIVE:
            ours = record.get("owner") == _PROCESS_TOKEN  # ours but no thread: it died with a runner
            stale = not isinstance(heartbeat, (int, float)) or time.time() - heartbeat > STALE_AFTER_S
            dead = record.get("host") == _HOST and isinstance(record.get("pid"), int) and not paths.pid_alive(record["pid"])
            if ours or stale or dead:
                status = INTERRUPTED
        config = paths.read_json(run_dir / "config.json", default={})
        return RunInfo(
            id=record.get("id", run_dir.name), kind=record.get("kind", ""), name=record.get("name", ""),
            status=status, step=int(record.get("step") or 0), total_steps=record.get("total_steps"),
            progress=float(record.get("progress") or 0.0),
            eta_s=None if status == INTERRUPTED else record.get("eta_s"),
            created=record.get("created"), started=record.get("started"), finished=record.get("finished"),
            error=record.get("error"), traceback=record.get("traceback"), summary=record.get("summary"),
            config=config if isinstance(config, dict) else {}, run_dir=run_dir,
            cancel_requested=bool(record.get("cancel_requested")), heartbeat=heartbeat,
            exclusive=record.get("exclusive"),
        )


def final_is_usable(run_dir: Path) -> bool:
    """May the run's final/ checkpoint be offered as a policy? Yes when the run succeeded or was
    cancelled, or when the folder has no status.json (a checkpoint the job runner did not write);
    no for failed, interrupted, queued or running runs."""
    record = paths.read_json(Path(run_dir) / "status.json")
    if record is None and not (Path(run_dir) / "status.json").exists():
        return True
    return isinstance(record, dict) and record.get("status") in (SUCCEEDED, CANCELLED)


class _Stepper:
    """One run inside a worker thread: start it, take its steps one at a time, end it with a status."""

    def __init__(self, runner: JobRunner, job: _Job):
        self.runner, self.job = runner, job
        self.iterator: Any = None
        self.metrics_file: Any = None
        self.outcome: tuple[str, str | None, str | None] | None = None  # (status, error, traceback)
        self.finished = False

    def start(self) -> bool:
        """Mark the run running and build its generator (loading models). False if it ended already."""
        job = self.job
        adopt_cancel_event(job.cancel_event)  # raise_if_cancelled() in this thread answers this job's Cancel
        try:
            with job.lock:
                job.info.update(status=RUNNING, started=time.time())
            job.write_status(force=True)
            if job.cancel_event.is_set():  # cancelled between leaving the queue and starting
                return self.end(CANCELLED)
            self.iterator = job.make_iter(job.run_dir)
            self.metrics_file = open(job.run_dir / "metrics.jsonl", "a", encoding="utf-8")
            return True
        except JobCancelled:  # Cancel reached work the job was doing before its first step
            return self.end(CANCELLED)
        except BaseException as exc:  # noqa: BLE001 - reported in the run's status
            self.fail(exc)
            return self.end(FAILED)

    def step(self) -> bool:
        """One training step (or the end of the run). True while the run goes on."""
        job = self.job
        adopt_cancel_event(job.cancel_event)
        try:
            # 1. cancellation is checked before every step, never in the middle of one
            if job.cancel_event.is_set():
                _close(self.iterator)  # runs the trainer's finally (save on exit)
                return self.end(CANCELLED)
            # 2. one training step
            try:
                row = next(self.iterator)
            except StopIteration:
                return self.end(SUCCEEDED)
            # 3. record it: metrics line, probe samples, progress and ETA
            self.runner._record(job, row, self.metrics_file)
            return True
        except JobCancelled:  # Cancel reached work the job was doing between steps
            return self.end(CANCELLED)
        except BaseException as exc:  # noqa: BLE001 - reported in the run's status
            self.fail(exc)
            return self.end(FAILED)

    def end(self, status: str) -> bool:
        """The run is over: keep the first outcome (an error wins), write the final status now."""
        if self.outcome is None:
            self.outcome = (status, None, None)
        self.finish()
        return False

    def fail(self, exc: BaseException) -> None:
        """Record the first error and end the trainer as failed (its finally writes no final/)."""
        if self.outcome is not None:
            return
        self.outcome = (FAILED, _one_line(exc), traceback.format_exc())
        if self.iterator is not None:
            _fail(self.iterator, exc)

    def finish(self) -> None:
        """Write the final status.json and release the run (once)."""
        if self.finished:
            return
        self.finished = True
        job, runner = self.job, self.runner
        final, error, trace = self.outcome or (FAILED, "the worker stopped before the run ended", None)
        if self.metrics_file is not None:
            self.metrics_file.close()
        with job.lock:
            job.info.update(status=final, finished=time.time(), error=error, traceback=trace)
            if final == SUCCEEDED:
                job.info.update(progress=1.0, eta_s=0.0)
            else:
                job.info["eta_s"] = None
        try:
            job.write_status(force=True)
        finally:
            with runner._lock:
                runner._running.pop(job.id, None)
            runner._retire(job)


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if callable(close):
        close()


def _fail(iterator: Any, exc: BaseException) -> None:
    """End a generator as failed: throw `exc` in at its yield, so its `finally` sees a failure (no
    final/ checkpoint) rather than the GeneratorExit of a cancel. Whatever it raises is dropped:
    the first error is the one to report."""
    throw = getattr(iterator, "throw", None)
    try:
        if callable(throw):
            throw(exc)
        else:
            _close(iterator)
    except BaseException:  # noqa: BLE001
        pass


def _one_line(exc: BaseException) -> str:
    """`ValueError: boom` (first line only); a StudioError is already written for the user."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, StudioError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json_default(value: Any):
    """numpy / torch scalars and arrays become numbers and lists; anything else its str()."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _read_jsonl(path: Path, since_line: int) -> list[dict]:
    """Parse complete lines from `since_line` on; an unfinished last line is not returned."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is empty or still being written
    rows = []
    for raw in complete[max(0, int(since_line)):]:
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a line damaged by a crash: skip it rather than lose the whole chart
        if isinstance(row, dict):
            rows.append(row)
    return rows
