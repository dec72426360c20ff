"""Atomic writes never touch the umask; leftovers of killed writes are swept at start-up, and only
those (a write still in progress, in this process or another, is left alone)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rlhf_core import paths

ROOT = Path(__file__).resolve().parent.parent


def test_atomic_writes_never_change_the_process_umask(tmp_path, monkeypatch):
    """os.umask() sets the mask to read it: a thread creating a file at that moment gets 0666.
    The write must not call it, and still give the permissions a plain open() gives."""
    def forbidden(*_):
        raise AssertionError("os.umask changes the mask for every thread")

    mask = os.umask(0o027)
    os.umask(mask)
    try:
        os.umask(0o027)
        monkeypatch.setattr(os, "umask", forbidden)
        target = paths.atomic_write_text(tmp_path / "a.json", "{}")
        folder = paths.make_temp_dir(tmp_path / "ckpt")
    finally:
        monkeypatch.undo()
        os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert target.read_text() == "{}" and not [p for p in tmp_path.iterdir() if p.name.startswith(".a.json")]


def test_threads_writing_at_once_never_create_world_writable_files(tmp_path):
    """The race itself: 4 threads of atomic writes while another creates plain files."""
    mask = os.umask(0o022)
    try:
        stop, modes = threading.Event(), []

        def plain_files():
            for i in range(400):
                path = tmp_path / f"plain-{i}"
                path.write_text("x")
                modes.append(stat.S_IMODE(path.stat().st_mode))
            stop.set()

        def atomic(k):
            while not stop.is_set():
                paths.atomic_write_text(tmp_path / f"atomic-{k}.json", "{}")

        threads = [threading.Thread(target=atomic, args=(k,)) for k in range(4)] + [threading.Thread(target=plain_files)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        os.umask(mask)
    assert set(modes) == {0o644}


def _name(target: str, pid: int) -> str:
    return paths.temp_sibling(Path(target)).name.replace(f"-{os.getpid()}-", f"-{pid}-")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sweep_removes_leftovers_of_dead_writers_and_keeps_live_ones(studio_home):
    dead, run = _dead_pid(), paths.runs_dir() / "grpo-1"
    (run / "checkpoint-2").mkdir(parents=True)
    half = run / _name("checkpoint-3", dead)  # a checkpoint being written when its process was killed
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\0" * 10)
    old_final = run / f".final.old-{paths._host_tag()}-{dead}-abcd"  # killed between a swap's two renames
    old_final.mkdir()
    (old_final / "config.json").write_text("{}")
    status_tmp = run / _name("status.json", dead)
    status_tmp.write_text("{")
    dataset_tmp = paths.datasets_dir() / _name("reviews", dead)  # a half-saved dataset
    dataset_tmp.mkdir()
    (dataset_tmp / "data.jsonl").write_text("{}\n")
    mine = run / paths.temp_sibling(run / "checkpoint-4").name  # this process is writing it right now
    mine.mkdir()
    legacy = run / ".final.ab12cd34.tmp"  # an older version's name: no process id, swept only when old
    legacy.mkdir()
    (paths.models_dir() / _name("tiny-sft", dead)).mkdir()

    swept = paths.sweep_leftovers()
    assert not half.exists() and not status_tmp.exists() and not dataset_tmp.exists()
    assert not old_final.exists() and (run / "final" / "config.json").is_file()  # put back: it was whole
    assert mine.exists() and legacy.exists() and (run / "checkpoint-2").exists()
    assert len(swept) == 5
    old = time.time() - paths.LEGACY_GRACE_S - 10
    os.utime(legacy, (old, old))
    assert paths.sweep_leftovers() == [legacy] and not legacy.exists()
    # an older version's half-saved dataset (its data file written, its meta.json not yet)
    half_saved = paths.datasets_dir() / "reviews"
    half_saved.mkdir()
    (half_saved / "data.jsonl").write_text("{}\n")
    saved = paths.datasets_dir() / "kept"
    saved.mkdir()
    (saved / "meta.json").write_text("{}")
    assert paths.sweep_leftovers() == []  # recent: it may be a save in progress of an older version
    os.utime(half_saved, (old, old))
    os.utime(saved, (old, old))
    assert paths.sweep_leftovers() == [half_saved] and saved.is_dir()


def test_a_leftover_of_another_live_process_is_kept(studio_home, tmp_path):
    """The rater server and the owner's app share the folder: one's start-up sweep must not delete
    the other's checkpoint in progress."""
    script = textwrap.dedent("""
        import sys, time
        from rlhf_core import paths
        tmp = paths.make_temp_dir(paths.runs_dir() / "grpo-2" / "checkpoint-9")
        print(tmp, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        in_progress = Path(proc.stdout.readline().strip())
        assert in_progress.is_dir()
        assert paths.sweep_leftovers() == [] and in_progress.is_dir()
    finally:
        proc.kill()
        proc.wait()
    assert paths.sweep_leftovers() == [in_progress] and not in_progress.exists()


def test_the_app_sweeps_at_start_up(studio_home):
    from streamlit.testing.v1 import AppTest

    half = paths.runs_dir() / "sft-1" / _name("checkpoint-5", _dead_pid())
    half.mkdir(parents=True)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert not half.exists()


@pytest.mark.parametrize("name", ["model", "final", "checkpoint-10"])
def test_replace_dir_and_temp_names_are_recognised(tmp_path, name):
    target = tmp_path / name
    built = paths.make_temp_dir(target)
    (built / "x").write_text("1")
    paths.replace_dir(built, target)
    assert (target / "x").read_text() == "1" and [p.name for p in tmp_path.iterdir()] == [name]
    assert paths._LEFTOVER.match(paths.temp_sibling(target).name)["name"] == name
