"""`python -m rlhf_core policy train`: one JSON line per step, then a summary; plain errors."""

from __future__ import annotations

import json

import pandas as pd

from rlhf_core import paths
from rlhf_core.cli import main




def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.strip().splitlines()]


def test_policy_train_grpo_prints_a_json_line_per_step(tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    from rlhf_core.models.registry import load_reward_backbone

    model, tok = load_reward_backbone("tiny")
    model.save_pretrained(tmp_path / "reward")
    tok.save_pretrained(tmp_path / "reward")
    frame = pd.read_csv(paths.sample_data_dir() / "articles.csv").head(10)
    frame.to_csv(tmp_path / "articles.csv", index=False)
    code = main(["policy", "train", "--algo", "grpo", "--policy", "tiny-init", "--reward", str(tmp_path / "reward"),
                 "--data", str(tmp_path / "articles.csv"), "--out", str(tmp_path / "run"), "--steps", "2",
                 "--beta", "0.1", "--lr", "1e-3", "--seed", "3", "--max-new-tokens", "6", "--sample-every", "2"])
    assert code == 0
    lines = _lines(capsys.readouterr().out)
    assert [l["step"] for l in lines[:-1]] == [1, 2]
    assert lines[0]["policy/beta"] == 0.1 and "reward/mean" in lines[0] and "policy/kl_k3" in lines[0]
    assert "samples" in lines[1]
    summary = lines[-1]["summary"]
    assert summary["algo"] == "grpo" and summary["step"] == 2
    AutoModelForCausalLM.from_pretrained(summary["final"])


def test_policy_train_dpo(tmp_path, capsys):
    rows = pd.read_json(paths.sample_data_dir() / "train_preferences.jsonl", lines=True).head(8)
    rows.to_json(tmp_path / "prefs.jsonl", orient="records", lines=True)
    code = main(["policy", "train", "--algo", "dpo", "--policy", "tiny-init", "--data", str(tmp_path / "prefs.jsonl"),
                 "--out", str(tmp_path / "run"), "--steps", "1", "--sample-every", "0"])
    assert code == 0
    lines = _lines(capsys.readouterr().out)
    assert lines[0]["step"] == 1 and "dpo/accuracy" in lines[0] and lines[-1]["summary"]["algo"] == "dpo"


def test_policy_train_errors_are_plain(tmp_path, capsys):
    assert main(["policy", "train", "--algo", "grpo", "--policy", "tiny-init", "--data", "x.csv",
                 "--out", str(tmp_path), "--steps", "2"]) == 2
    assert "needs a reward model" in capsys.readouterr().err
    assert main(["policy", "train", "--algo", "sft", "--policy", "tiny-init", "--data", "x.csv",
                 "--out", str(tmp_path), "--steps", "2", "--beta", "0.1"]) == 2
    assert "--beta does not apply" in capsys.readouterr().err
    assert main(["policy", "train", "--algo", "grpo", "--policy", "tiny-init", "--reward", "r", "--data", "x.csv",
                 "--out", str(tmp_path), "--steps", "0"]) == 2
    assert "steps must be between 1 and 100,000" in capsys.readouterr().err


def test_sampling_flags_reach_the_generation_settings_and_keep_the_preset_rest():
    from rlhf_core.cli import build_parser
    from rlhf_core.policy.cli import build_config

    base = ["policy", "train", "--algo", "rloo", "--policy", "smollm2", "--reward", "r", "--data", "x.csv", "--out", "o"]
    preset = build_config(build_parser().parse_args(base)).generation
    assert (preset.temperature, preset.max_new_tokens) == (1.0, 24)  # the smollm2 preset: T 1.0 learns from SFT
    cooler = build_config(build_parser().parse_args(base + ["--temperature", "0.7"])).generation
    assert (cooler.temperature, cooler.max_new_tokens) == (0.7, 24)
    both = build_config(build_parser().parse_args(base + ["--temperature", "0.5", "--max-new-tokens", "8"])).generation
    assert (both.temperature, both.max_new_tokens) == (0.5, 8)


def test_sampling_flags_on_an_algorithm_that_samples_nothing_are_a_plain_error(tmp_path, capsys):
    assert main(["policy", "train", "--algo", "dpo", "--policy", "tiny-init", "--data", "x.jsonl",
                 "--out", str(tmp_path), "--temperature", "0.7"]) == 2
    assert "--temperature does not apply to dpo" in capsys.readouterr().err
