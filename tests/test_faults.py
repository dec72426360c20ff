"""Faults with real processes: kill -9 in the middle of a burst of ratings and in the middle of a
checkpoint write; after a restart nothing committed is lost, nothing is doubled, the files are
intact and training resumes. (A full disk during a checkpoint: tests/test_run_integrity.py.)"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

from rlhf_core import paths
from rlhf_core.jobs import JobRunner
from rlhf_core.store import RatingsStore

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent("""
    import sys
    from rlhf_core.store import RatingsStore

    store = RatingsStore()
    me, items = sys.argv[1], int(sys.argv[2])
    for i in range(items):
        # its own rating, and one on an item both processes rate as the same rater (a shared login,
        # or a double click landing on two servers): both must end as one row
        for rater in (me, "shared"):
            store.add_rating(f"article {i // 3}", f"headline {i}", 1 + i % 5, rater, source=me, session=me)
            print(rater, i, flush=True)  # printed only after the commit returned
""")


def _env(home: Path) -> dict:
    return {**os.environ, "RLHF_STUDIO_HOME": str(home), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _committed(lines: list[str]) -> set[tuple[str, int]]:
    return {(rater, int(i)) for rater, i in (line.split() for line in lines if line.strip())}


def test_kill_9_the_owner_in_a_burst_of_ratings_from_two_processes(studio_home):
    RatingsStore().close()  # the schema exists before both writers start
    items = 3000
    owner = subprocess.Popen([sys.executable, "-c", WRITER, "owner", str(items)], cwd=ROOT, env=_env(studio_home),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rater = subprocess.Popen([sys.executable, "-c", WRITER, "rater", "400"], cwd=ROOT, env=_env(studio_home),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    owner_lines = []
    while len(owner_lines) < 300:  # mid-burst: the owner has committed a few hundred ratings
        line = owner.stdout.readline()
        assert line, owner.stderr.read()
        owner_lines.append(line)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    owner_lines += owner.stdout.read().splitlines()  # whatever it printed before dying: committed too
    rater_out, rater_err = rater.communicate(timeout=120)
    assert rater.returncode == 0, rater_err
    assert owner.returncode == -signal.SIGKILL

    # restart: a new process opens the database (SQLite recovers the WAL), and the owner writes again
    again = subprocess.run([sys.executable, "-c", WRITER, "owner-restarted", "50"], cwd=ROOT, env=_env(studio_home),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    store = RatingsStore()
    frame = store.ratings_frame()
    stored = {(r, int(h.split()[1])) for r, h in zip(frame["rater"], frame["headline"])}
    committed = _committed(owner_lines) | _committed(rater_out.splitlines()) | _committed(again.stdout.splitlines())
    assert committed <= stored  # every committed rating survived the kill
    assert len(stored - committed) <= 1  # at most the one in flight, committed but not yet printed
    assert not frame.duplicated(["rater", "item_key"]).any()  # none twice
    assert len(_committed(owner_lines)) < 2 * items  # the kill came mid-burst
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


TRAINER = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    import pandas as pd
    import transformers.modeling_utils as modeling_utils

    from rlhf_core.jobs import JobRunner
    from rlhf_core.policy.config import SFTConfig
    from rlhf_core.policy.train import train_policy

    marker = Path(sys.argv[2])
    real_save = modeling_utils.PreTrainedModel.save_pretrained

    def save_pretrained(self, folder, *args, **kwargs):
        if ".checkpoint-3." in str(folder):  # the third checkpoint: half its weights, then the kill
            Path(folder, "model.safetensors").write_bytes(b"\\0" * 4096)
            marker.write_text(str(folder))
            time.sleep(600)
        return real_save(self, folder, *args, **kwargs)

    modeling_utils.PreTrainedModel.save_pretrained = save_pretrained
    demos = pd.DataFrame({"article": [f"The council met on day {i}." for i in range(8)],
                          "headline": [f"Council meets, day {i}" for i in range(8)]})
    cfg = SFTConfig(steps=6, lr=1e-3, batch_size=4, save_every=1, sample_every=0, probe_articles=0)
    runner = JobRunner(Path(sys.argv[1]))
    run_id = runner.submit("sft", {"algo": "sft"}, lambda out: train_policy("sft", cfg, "tiny-init", None, demos, out))
    print(run_id, flush=True)
    runner.wait(run_id, timeout=600)
""")


def test_kill_9_a_training_run_while_it_writes_a_checkpoint(studio_home, tmp_path):
    from transformers import AutoModelForCausalLM

    from rlhf_core.policy.config import SFTConfig
    from rlhf_core.policy.train import train_policy

    runs, marker = paths.runs_dir(), tmp_path / "writing-checkpoint-3"
    child = subprocess.Popen([sys.executable, "-c", TRAINER, str(runs), str(marker)], cwd=ROOT,
                             env=_env(studio_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = child.stdout.readline().strip()
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
            time.sleep(0.1)
        child.send_signal(signal.SIGKILL)  # in the middle of writing checkpoint-3
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    run_dir = runs / run_id
    half_written = Path(marker.read_text())
    assert half_written.is_dir() and half_written.parent == run_dir

    # restart: the run shows as interrupted at once (its process is gone), the leftover is swept
    runner = JobRunner(runs)
    assert runner.status(run_id).status == "interrupted"
    assert [row["step"] for row in runner.read_metrics(run_id)] == [1, 2]  # killed in step 3's checkpoint
    assert half_written in paths.sweep_leftovers() and not half_written.exists()
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(("checkpoint", "final", "."))) == [
        "checkpoint-1", "checkpoint-2"]
    model = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoint-2")  # plain transformers, no studio
    assert model.config.model_type == "gpt2"

    # resuming from the last complete checkpoint continues at step 3 and finishes
    demos = pd.DataFrame({"article": [f"The council met on day {i}." for i in range(8)],
                          "headline": [f"Council meets, day {i}" for i in range(8)]})
    cfg = SFTConfig(steps=4, lr=1e-3, batch_size=4, sample_every=0, probe_articles=0,
                    resume_from=str(run_dir / "checkpoint-2"))
    steps = [m["step"] for m in train_policy("sft", cfg, "tiny-init", None, demos, tmp_path / "resumed")]
    assert steps == [3, 4]
    assert paths.read_json(tmp_path / "resumed" / "final" / "studio_policy.json")["step"] == 4
