"""`python -m rlhf_core reward train|eval` through the real dispatcher, on the tiny backbone."""

from __future__ import annotations

import json

from rlhf_core.cli import main
from rlhf_core.paths import sample_data_dir


def _lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_reward_train_then_eval(tmp_path, capsys):
    data = str(sample_data_dir() / "realstyle_headlines.csv")
    out = tmp_path / "rm"
    code = main(["reward", "train", "--data", data, "--backbone", "tiny", "--objective", "pairwise", "--out", str(out),
                 "--max-steps", "2", "--batch-size", "16", "--max-length", "64", "--seed", "3", "--no-fact-checks"])
    assert code == 0
    assert json.loads((out / "model" / "studio_reward.json").read_text())["fact_checks"] is False
    lines = _lines(capsys)
    steps = [line for line in lines if "loss/train" in line]
    assert [s["step"] for s in steps] == [1, 2] and all(s["total_steps"] == 2 for s in steps)
    summary = lines[-1]["summary"]
    assert summary["objective"] == "pairwise" and summary["steps"] == 2 and (out / "model" / "config.json").exists()

    assert main(["reward", "eval", "--model", str(out), "--data", data]) == 0
    result = _lines(capsys)[-1]
    assert result["n_ratings"] == 59 and result["n_pairs"] > 0
    for key in ("spearman", "pearson", "accuracy", "pairwise_accuracy"):
        assert -1.0 <= result[key] <= 1.0, key


def test_reward_cli_errors_are_plain(tmp_path, capsys):
    code = main(["reward", "train", "--data", str(tmp_path / "missing.csv"), "--backbone", "tiny", "--out", str(tmp_path)])
    assert code == 2 and "error:" in capsys.readouterr().err
    code = main(["reward", "train", "--data", "x.csv", "--objective", "listwise", "--out", str(tmp_path)])
    assert code == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["reward", "eval", "--model", str(tmp_path), "--data", "x.csv"]) == 2
    assert "no reward model" in capsys.readouterr().err
