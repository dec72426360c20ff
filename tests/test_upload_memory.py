"""Uploads keep memory bounded: validating a file of short rows costs a small multiple of its size
(the 25 MB figure is bench/bench_upload_memory.py's), and a page that needs only the header reads
only the head of the file."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from rlhf_core.data.loaders import HEADER_BYTES, load_bytes, read_columns

ROOT = Path(__file__).resolve().parent.parent
MAX_RATIO = 25  # (peak - baseline) / file size; today's code measured ~16 on these rows, the old one over 100


def _bench():
    spec = importlib.util.spec_from_file_location("bench_upload_memory", ROOT / "bench" / "bench_upload_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validating_short_rows_costs_a_bounded_multiple_of_the_file(tmp_path):
    """`data validate` on 4 MB of rows a few bytes long, in a child process: its peak resident
    memory above the same command on a 1 KB file stays under MAX_RATIO times the file's size."""
    bench = _bench()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RLHF_STUDIO_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    tiny, big = tmp_path / "tiny.csv", tmp_path / "short.csv"
    tiny.write_text("headline,score\nCouncil meets,4\n")
    rows = bench.write_short_rows(big, 4.0, "few")
    command = [sys.executable, "-m", "rlhf_core", "data", "validate"]
    base, _, _ = bench.run_child([*command, str(tiny)], env)
    peak, _, out = bench.run_child([*command, str(big)], env)
    size_mb = big.stat().st_size / 1024 / 1024
    assert f'"rows": {rows}' in out
    assert (peak - base) / size_mb < MAX_RATIO, f"peak {peak:.0f} MB, baseline {base:.0f} MB, file {size_mb:.1f} MB"


def test_the_column_reader_reads_only_the_head_of_the_file():
    """A broken row far down the file does not stop the column-mapping form (the old reader parsed
    the whole file on every rerun, and failed with it); the full validation still finds it."""
    good = "".join(f"Article {i},Headline {i},{1 + i % 5}\n" for i in range(40_000))
    data = ("article,headline,score\n" + good + 'Article x,"never closed,3\n').encode()
    assert len(data) > 2 * HEADER_BYTES
    assert read_columns("big.csv", data) == ["article", "headline", "score"]
    jsonl = "".join(f'{{"prompt": "p{i}", "chosen": "c", "rejected": "r", "note{i // 30000}": 1}}\n' for i in range(40_000))
    assert read_columns("pairs.jsonl", jsonl.encode())[:4] == ["prompt", "chosen", "rejected", "note0"]
    import pytest

    from rlhf_core.errors import DataError

    with pytest.raises(DataError, match="line 40002"):
        load_bytes("big.csv", data)
