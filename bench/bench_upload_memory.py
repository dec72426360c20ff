"""Peak memory of validating a 25 MB upload of short rows, in the CLI and in the app's process.

    python bench/bench_upload_memory.py [--mb 25] [--skip-app]

Writes 25 MB ratings files of short rows (the worst case for memory: the most rows per byte),
then for each one
  1. runs `python -m rlhf_core data validate FILE` in a child process, and
  2. runs the Data page in a child process (Streamlit's AppTest: upload the file, the page
     validates it, reads its columns for the mapping form and previews it),
and prints each child's peak resident memory (ru_maxrss, from wait4). The target (issue 12): under
600 MB for a 25 MB upload. Baselines (the same child with a 1 KB file) show what the interpreter,
pandas and Streamlit cost before any row is read.
"""

from __future__ import annotations

import argparse
import os
import string
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 600

APP_SCRIPT = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    from streamlit.testing.v1 import AppTest

    path = Path(sys.argv[1])
    at = AppTest.from_file(sys.argv[2], default_timeout=600).run()
    at.file_uploader(key="upload").set_value((path.name, path.read_bytes(), "text/csv")).run()
    assert not at.exception, at.exception
    ok = [s.value for s in at.success if "Valid" in s.value]
    assert ok, [e.value for e in at.error]
    at.run()  # a rerun (any widget click) must not parse or copy the file again
    print(ok[0], flush=True)
""")


def _b36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def write_short_rows(path: Path, mb: float, shape: str) -> int:
    """A ratings CSV of `mb` MB; shape 'short' = `a12,h34567,3` (~15 bytes a row), 'few' = `2bx4,3` (~7)."""
    header = "article,headline,score\n" if shape == "short" else "headline,score\n"
    target, size, n = int(mb * 1024 * 1024), len(header), 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(header)
        while size < target - 40:
            line = f"a{n % 997},h{n},{1 + n % 5}\n" if shape == "short" else f"{_b36(n)},{1 + n % 5}\n"
            handle.write(line)
            size += len(line)
            n += 1
    return n


def run_child(command: list[str], env: dict) -> tuple[float, float, str]:
    """Run one child in its own `python -c` wrapper so RUSAGE_CHILDREN is that child's alone."""
    wrapper = textwrap.dedent("""
        import os, resource, subprocess, sys, time
        start = time.monotonic()
        done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
        print(f"{peak:.1f}\\t{time.monotonic() - start:.1f}\\t{done.returncode}\\t{last}")
    """)
    done = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=ROOT, env=env, capture_output=True, text=True)
    peak, seconds, code, last = done.stdout.strip().split("\t", 3)
    if code not in ("0", "2"):
        raise RuntimeError(f"{command} exited {code}: {last}\n{done.stderr[-2000:]}")
    return float(peak), float(seconds), last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=25.0, help="size of each generated file (MB)")
    parser.add_argument("--skip-app", action="store_true", help="only the CLI (the app run takes longer)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_upload_") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RLHF_STUDIO_HOME": str(tmp / "home"), "OMP_NUM_THREADS": "1"}
        tiny = tmp / "baseline.csv"
        tiny.write_text("article,headline,score\nThe council met.,Council meets,4\n")
        cli = [sys.executable, "-m", "rlhf_core", "data", "validate"]
        app = [sys.executable, "-c", APP_SCRIPT]
        rows = []
        base_cli = run_child([*cli, str(tiny)], env)[0]
        base_app = None if args.skip_app else run_child([*app, str(tiny), str(ROOT / "pages/data.py")], env)[0]
        for shape in ("short", "few"):
            path = tmp / f"{shape}_rows.csv"
            n = write_short_rows(path, args.mb, shape)
            size = path.stat().st_size / 1024 / 1024
            runs = [("CLI data validate", base_cli, run_child([*cli, str(path)], env))]
            if not args.skip_app:
                runs.append(("app (Data page)", base_app, run_child([*app, str(path), str(ROOT / "pages/data.py")], env)))
            for where, base, (peak, seconds, last) in runs:
                rows.append((shape, size, n, where, base, peak, seconds, last[:60]))
    print(f"{'rows':6} {'file MB':>8} {'rows':>10}  {'where':18} {'baseline MB':>11} {'peak MB':>8} {'x file':>7} "
          f"{'(peak-base)/file':>16} {'s':>6}  result")
    for shape, size, n, where, base, peak, seconds, last in rows:
        print(f"{shape:6} {size:8.1f} {n:10,}  {where:18} {base:11.0f} {peak:8.0f} {peak / size:7.1f} "
              f"{(peak - base) / size:16.1f} {seconds:6.1f}  {last}")
    worst = max(row[5] for row in rows)
    print(f"worst peak {worst:.0f} MB: {'under' if worst < TARGET_MB else 'OVER'} the {TARGET_MB} MB target")
    return 0 if worst < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
