"""`python -m rlhf_core data validate / synth`: one JSON object and exit 0, or `error: ...` and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from rlhf_core import paths
from rlhf_core.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_prints_one_json_object(tmp_path, capsys):
    path = tmp_path / "news.csv"
    path.write_text("text,title,score\nA,H,3\nB,G,5\nA,H,3\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "data", "validate", str(path))
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["kind"] == "ratings" and summary["rows"] == 2 and summary["score_scale"] == [1.0, 5.0]
    assert any("duplicate" in w for w in summary["warnings"])


def test_validate_kind_scale_and_map(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("Body,Head,Stars\nA,H,30\nB,G,90\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "data", "validate", str(path), "--kind", "ratings", "--scale", "0,100",
                           "--map", "article=Body", "--map", "headline=Head", "--map", "score=Stars")
    assert code == 0 and json.loads(out)["score_scale"] == [0.0, 100.0]
    code, out, _ = run_cli(capsys, "data", "validate", str(path), "--kind", "demonstrations",
                           "--map", "article=Body", "--map", "headline=Head")
    assert code == 0 and json.loads(out)["kind"] == "demonstrations"


def test_validate_rejections_exit_2_with_location(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("text,title,score\nA,H,3\nB,G,lots\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "data", "validate", str(path))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "line 3" in err and "column 'score'" in err and str(path) in err
    assert "Traceback" not in err


def test_validate_bad_arguments_exit_2(tmp_path, capsys):
    path = tmp_path / "ok.csv"
    path.write_text("headline,score\nA,1\nB,5\n", encoding="utf-8")
    for argv in (["--scale", "five"], ["--scale", "5,1"], ["--map", "headline"], ["--kind", "votes"], ["--map", "stars=x"]):
        code, out, err = run_cli(capsys, "data", "validate", str(path), *argv)
        assert code == 2 and out == "" and err.startswith("error: "), argv
    code, _, err = run_cli(capsys, "data", "validate", str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err


def test_synth_writes_files_and_is_deterministic(tmp_path, capsys):
    args = ["data", "synth", "--persona", "wire_editor", "--articles", "6", "--seed", "7", "--test-fraction", "0.5"]
    code, out, err = run_cli(capsys, *args, "--out", str(tmp_path / "a"))
    assert code == 0, err
    written = json.loads(out)
    assert written and all(os.path.isfile(p) for p in written.values())
    code, out_b, _ = run_cli(capsys, *args, "--out", str(tmp_path / "b"))
    for name in written:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name, file in written.items():  # everything synth writes passes validation
        code, out, err = run_cli(capsys, "data", "validate", file)
        assert code == 0, (name, err)


def test_synth_rejects_bad_arguments(tmp_path, capsys):
    for extra in (["--articles", "0"], ["--test-fraction", "1.5"], ["--persona", "nobody"], ["--seed", "x"]):
        code, out, err = run_cli(capsys, "data", "synth", "--out", str(tmp_path / "o"), "--articles", "3", *extra)
        assert code == 2 and out == "" and err.startswith("error: "), extra


def test_subprocess_exit_codes(tmp_path):
    good = tmp_path / "p.jsonl"
    good.write_text('{"prompt": "A", "chosen": "Good", "rejected": "Bad"}\n', encoding="utf-8")
    bad = tmp_path / "b.bin"
    bad.write_bytes(b"\x00\x01\x02binary")
    env = {**os.environ, "RLHF_STUDIO_HOME": str(tmp_path / "home")}
    env.pop("RLHF_STUDIO_DEBUG", None)
    ok = subprocess.run([sys.executable, "-m", "rlhf_core", "data", "validate", str(good)], capture_output=True,
                        text=True, cwd=paths.repo_root(), env=env, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["kind"] == "preferences"
    no = subprocess.run([sys.executable, "-m", "rlhf_core", "data", "validate", str(bad)], capture_output=True,
                        text=True, cwd=paths.repo_root(), env=env, timeout=120)
    assert no.returncode == 2 and no.stdout == "" and no.stderr.startswith("error: ") and "binary" in no.stderr
    assert "Traceback" not in no.stderr
