"""A TRL bundle run comes back as a studio run: its log history under the studio's metric names, its
model as a policy or reward model, through the library, the CLI and the Policy / Reward pages.

The output folders here are built by hand in the layout a bundle's train.py leaves (tiny models,
log entries with the keys TRL 1.16 logged in tests/test_trl_bundle_run.py); that test imports real runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rlhf_core import cli
from rlhf_core.errors import StudioError
from rlhf_core.metrics import glossary
from rlhf_core.trl_import import TRL_METRICS, import_trl_run, kl_per_completion, studio_metrics

A1 = "The city council approved a $42 million budget on Monday after a long debate about schools and roads."
A2 = "Flu cases in Perilric reached 1,940 this week, the highest level in three years, the hospital said."

# Log entries as TRL 1.16 writes them (copied from a 2-process CPU run, trimmed), plus its closing summary.
DPO_LOG = [
    {"entropy": 7.57, "epoch": 0.0025, "grad_norm": 5.52, "learning_rate": 1e-06, "logps/chosen": -68.7,
     "loss": 0.6931, "rewards/accuracies": 0.0, "rewards/chosen": 0.0, "rewards/margins": 0.0, "rewards/rejected": 0.0,
     "step": 1},
    {"entropy": 7.57, "epoch": 0.005, "grad_norm": 6.03, "learning_rate": 5e-07, "logps/chosen": -135.5,
     "loss": 0.6932, "rewards/accuracies": 0.25, "rewards/chosen": -0.0003, "rewards/margins": -0.0001,
     "rewards/rejected": -0.0002, "step": 2},
    {"epoch": 0.005, "step": 2, "total_flos": 0.0, "train_loss": 0.69315, "train_runtime": 6.3},
]
GRPO_ROW = {"completions/mean_length": 12.0, "kl": 0.05, "reward": 0.49, "reward_std": 0.01, "loss": 1e-4,
            "learning_rate": 1e-05, "entropy": 7.5, "clip_ratio/region_mean": 0.125, "grad_norm": 0.5,
            "frac_reward_zero_std": 0.0, "step": 3, "epoch": 0.01}
REWARD_LOG = [{"accuracy": 0.5, "epoch": 0.0025, "grad_norm": 0.008, "learning_rate": 0.0, "loss": 0.8467,
               "margin": 6e-07, "mean_reward": -0.053, "step": 1},
              {"accuracy": 0.75, "epoch": 0.005, "grad_norm": 0.011, "learning_rate": 2e-4, "loss": 0.7816,
               "margin": 6e-05, "mean_reward": -0.052, "step": 2}]


# ----------------------------------------------------------------------------- the metric mapping
def test_every_mapped_name_is_in_the_glossary():
    for algo, mapping in TRL_METRICS.items():
        assert set(mapping) <= set(glossary()), (algo, set(mapping) - set(glossary()))


def test_dpo_log_becomes_studio_rows():
    rows = studio_metrics(DPO_LOG, "dpo", total_steps=2)
    assert [r["step"] for r in rows] == [1, 2]  # TRL's closing summary is no training step
    assert rows[1] == {"step": 2, "total_steps": 2, "epoch": 0.005, "loss/policy": 0.6932, "optim/lr": 5e-07,
                       "reward/chosen": -0.0003, "reward/rejected": -0.0002, "dpo/accuracy": 0.25,
                       "dpo/margin": -0.0001, "policy/entropy": 7.57, "trl/grad_norm": 6.03}


def test_grpo_kl_becomes_per_completion_and_names_match_the_studio_trainer():
    row = studio_metrics([GRPO_ROW], "grpo")[0]
    assert row["policy/kl_k3"] == pytest.approx(0.05 * 12.0)  # TRL: per token; the studio: per completion
    assert (row["reward/mean"], row["reward/std"], row["completion/length"], row["policy/clipfrac"]) == (0.49, 0.01, 12.0, 0.125)
    assert kl_per_completion({"kl": 0.1}) is None  # no length logged: no made-up value
    assert "policy/kl_k3" not in studio_metrics([dict(GRPO_ROW, kl=None)], "grpo")[0]


def test_a_diverged_loss_is_kept():
    row = studio_metrics([{"loss": float("nan"), "step": 1}], "sft")[0]
    assert math.isnan(row["loss/policy"]) and math.isnan(row["loss/train"])


# ----------------------------------------------------------------------------- output folders
def _policy_output(bundle: Path, algo: str, log: list[dict], world: int = 2) -> Path:
    """A bundle folder with output/ as train.py leaves it: final/, trainer_state.json, processes/."""
    from rlhf_core.models.registry import load_policy

    output = bundle / "output"
    policy = load_policy("tiny-init", cache=False)
    policy.model.save_pretrained(output / "final")
    policy.tokenizer.save_pretrained(output / "final")
    _records(output, algo, log, world, model_id="org/tiny")
    (bundle / "studio_config.json").write_text(json.dumps({"algo": algo, "prompt_style": "plain",
                                                           "config": {"beta": 0.1, "steps": 2}}))
    return output


def _reward_output(bundle: Path) -> Path:
    from rlhf_core.models.registry import load_reward_backbone

    output = bundle / "output"
    model, tokenizer = load_reward_backbone("tiny")
    model.save_pretrained(output / "final")
    tokenizer.save_pretrained(output / "final")
    _records(output, "reward", REWARD_LOG, 2, model_id="org/tiny-bert")
    (bundle / "studio_config.json").write_text(json.dumps({"algo": "reward", "config": {"max_length": 48}}))
    return output


def _records(output: Path, algo: str, log: list[dict], world: int, model_id: str) -> None:
    steps = max(e["step"] for e in log)
    (output / "trainer_state.json").write_text(json.dumps({"log_history": log, "global_step": steps, "max_steps": steps}))
    (output / "processes").mkdir(parents=True)
    for rank in range(world):
        (output / "processes" / f"rank-{rank}.json").write_text(json.dumps({
            "algo": algo, "model_id": model_id, "rank": rank, "world_size": world, "device": "cpu",
            "distributed_type": "DistributedType.MULTI_CPU", "global_step": steps}))


def test_policy_run_is_imported_like_a_studio_run(tmp_path):
    from rlhf_core.compare import policy_choices
    from rlhf_core.jobs import JobRunner
    from rlhf_core.models.generation import generate_headlines
    from rlhf_core.models.registry import load_policy
    from rlhf_core.paths import runs_dir

    output = _policy_output(tmp_path / "bundle", "dpo", DPO_LOG)
    result = import_trl_run(tmp_path / "bundle")  # the bundle folder around output/ works too
    runner = JobRunner(runs_dir())
    info = runner.status(result["run_id"])
    assert (info.kind, info.status, info.step, info.total_steps) == ("dpo", "succeeded", 2, 2)
    assert info.config["policy"] == "org/tiny" and info.config["beta"] == 0.1 and info.config["processes"] == 2
    assert info.name == "DPO via TRL (2 processes, cpu)" and result["source"] == str(output)
    metrics = [row for row in runner.read_metrics(result["run_id"]) if "loss/policy" in row]
    assert [row["loss/policy"] for row in metrics] == [0.6931, 0.6932] and metrics[1]["dpo/accuracy"] == 0.25
    assert json.loads((info.run_dir / "trl_log_history.json").read_text()) == DPO_LOG  # TRL's own log, kept whole
    assert info.summary["trl/train_loss"] == 0.69315 and info.summary["model_dir"] == str(info.run_dir / "final")
    # the model: where Compare, Evaluate and the Rate queue look, and it writes headlines
    assert policy_choices()[f"run: {result['run_id']}"] == str(info.run_dir / "final")
    bundle = load_policy(str(info.run_dir / "final"), cache=False)
    assert len(generate_headlines(bundle, [A1], temperature=1.0, n=2, max_new_tokens=4, seed=0)[0]) == 2
    meta = json.loads((info.run_dir / "final" / "studio_policy.json").read_text())
    assert (meta["algo"], meta["source"], meta["policy_spec"], meta["step"]) == ("dpo", "trl", "org/tiny", 2)


def test_reward_run_is_scored_without_segment_ids(tmp_path):
    """TRL's RewardTrainer feeds no token_type_ids: the imported model is scored the same way."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_core.reward.scorer import clear_scorer_cache, load_scorer

    output = _reward_output(tmp_path / "bundle")
    result = import_trl_run(output)
    assert result["kind"] == "reward" and result["metrics"] == ["loss/train", "optim/lr", "trl/grad_norm",
                                                                "trl/pairwise_accuracy"]
    model_dir = Path(result["model_dir"])
    assert model_dir.name == "model" and json.loads((model_dir / "studio_reward.json").read_text())["token_type_ids"] is False
    headlines = ["Council approves $42M budget", "Flu cases hit 1,940"]
    got = load_scorer(model_dir.parent).score([A1, A2], headlines)  # the run folder, as the pages pass it
    tokenizer = AutoTokenizer.from_pretrained(output / "final")
    model = AutoModelForSequenceClassification.from_pretrained(output / "final").eval()
    batch = tokenizer([A1, A2], headlines, truncation="only_first", max_length=48, padding=True, return_tensors="pt")
    with torch.no_grad():
        with_segments = torch.sigmoid(model(**batch).logits.squeeze(-1)).numpy()
        batch.pop("token_type_ids")
        without = torch.sigmoid(model(**batch).logits.squeeze(-1)).numpy()
    assert got == pytest.approx(without, abs=1e-5) and not got == pytest.approx(with_segments, abs=1e-5)
    clear_scorer_cache()


def test_a_folder_without_records_is_recognised(tmp_path):
    output = _reward_output(tmp_path / "bundle")
    for path in (output / "processes").iterdir():
        path.unlink()
    (tmp_path / "bundle" / "studio_config.json").unlink()
    assert import_trl_run(output)["kind"] == "reward"  # a sequence classifier: a reward model
    grpo = _policy_output(tmp_path / "g", "grpo", [GRPO_ROW], world=1)
    (grpo / "processes" / "rank-0.json").unlink()
    (tmp_path / "g" / "studio_config.json").unlink()
    result = import_trl_run(grpo)
    assert result["kind"] == "grpo" and "policy/kl_k3" in result["metrics"]  # TRL logged 'reward': GRPO
    assert import_trl_run(grpo, algo="sft")["kind"] == "sft"  # the caller's word wins


def _cli(monkeypatch, argv):
    if "rlhf_core.export_cli" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("rlhf_core.export_cli",))
    return cli.main(argv)


def test_cli_imports_and_bad_folders_get_plain_errors(tmp_path, monkeypatch, capsys):
    output = _policy_output(tmp_path / "bundle", "sft", [{"loss": 2.5, "learning_rate": 1e-3, "step": 1}], world=1)
    assert _cli(monkeypatch, ["import", "trl", str(output), "--name", "cluster SFT"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["kind"], printed["steps"], printed["processes"]) == ("sft", 1, 1)
    assert printed["metrics"] == ["loss/policy", "loss/train", "optim/lr"]

    def error(argv) -> str:
        assert _cli(monkeypatch, argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    assert "There is no folder" in error(["import", "trl", str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    assert "holds no trained model" in error(["import", "trl", str(tmp_path / "empty")])
    for weights in (output / "final").glob("*.safetensors"):  # pickled weights only: refused, never loaded
        weights.rename(weights.with_name("pytorch_model.bin"))
    assert "no safetensors weights" in error(["import", "trl", str(output)])
    (output / "final" / "pytorch_model.bin").rename(output / "final" / "model.safetensors")
    (output / "trainer_state.json").write_text("{not json")
    assert "no readable trainer_state.json" in error(["import", "trl", str(output)])
    (output / "trainer_state.json").write_text(json.dumps({"log_history": [{"train_runtime": 1.0, "step": 1}]}))
    assert "logs no training step" in error(["import", "trl", str(output)])
    with pytest.raises(StudioError, match="imports sft, reward, grpo, rloo, dpo, kto"):
        import_trl_run(output, algo="ppo")


# ----------------------------------------------------------------------------- the pages
@pytest.mark.parametrize("page, make, run_key", [("pages/policy.py", "policy", "policy_run"),
                                                 ("pages/reward.py", "reward", "reward_run")])
def test_page_imports_a_trl_run_and_shows_it(tmp_path, page, make, run_key):
    from streamlit.testing.v1 import AppTest

    from ui import state

    output = _policy_output(tmp_path / "b", "dpo", DPO_LOG) if make == "policy" else _reward_output(tmp_path / "b")
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(page).run()
    key = f"{state.TRL_IMPORT_DIR}_{make}"
    assert at.button(key=f"trl_import_{make}").disabled  # nothing to import yet
    at.text_input(key=key).set_value(str(tmp_path / "nowhere")).run()
    at.button(key=f"trl_import_{make}").click().run()
    assert not at.exception and "There is no folder" in "\n".join(e.value for e in at.error)
    at.text_input(key=key).set_value(str(output)).run()
    at.button(key=f"trl_import_{make}").click().run()
    assert not at.exception, at.exception
    success = "\n".join(str(e.value) for e in at.success)
    assert "Imported" in success and "2 processes on cpu" in success
    run_id = at.session_state[run_key]
    assert run_id.startswith("dpo-" if make == "policy" else "reward-")
    past = at.dataframe[-1].value  # the "Past runs" table lists it
    assert run_id in list(past["run"])


def test_a_lora_run_saved_as_an_adapter_is_folded_into_its_base(tmp_path):
    """train.py without SAVE_MERGED leaves peft's adapter in output/final: the import folds it into the base
    (MODEL_ID, here a local folder) and the imported policy computes what base + adapter compute."""
    import peft
    import torch

    from rlhf_core.jobs import JobRunner
    from rlhf_core.models.registry import load_policy
    from rlhf_core.paths import runs_dir

    base_dir = tmp_path / "base"
    base = load_policy("tiny-init", cache=False)
    base.model.save_pretrained(base_dir)
    base.tokenizer.save_pretrained(base_dir)
    torch.manual_seed(0)
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False)
    adapted = peft.get_peft_model(load_policy(str(base_dir), cache=False).model, lora)
    output = tmp_path / "bundle" / "output"
    adapted.save_pretrained(output / "final")  # adapter_config.json (base_model_name_or_path = base_dir) + adapter weights
    base.tokenizer.save_pretrained(output / "final")
    assert not (output / "final" / "config.json").exists()
    _records(output, "dpo", DPO_LOG, 1, model_id=str(base_dir))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        expected = adapted(input_ids=ids).logits
        plain = base.model(input_ids=ids).logits
    assert not torch.allclose(expected, plain, atol=1e-4)  # the adapter changes the outputs

    result = import_trl_run(output, algo="dpo")
    info = JobRunner(runs_dir()).status(result["run_id"])
    assert info.status == "succeeded" and (info.run_dir / "final" / "config.json").is_file()
    imported = load_policy(str(info.run_dir / "final"), cache=False)
    with torch.no_grad():
        assert torch.allclose(imported.model(input_ids=ids).logits, expected, atol=1e-4)


def test_an_adapter_on_a_model_this_machine_lacks_is_a_plain_error(tmp_path):
    import peft

    from rlhf_core.models.registry import load_policy

    base = load_policy("tiny-init", cache=False)
    adapted = peft.get_peft_model(base.model, peft.LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"))
    output = tmp_path / "bundle" / "output"
    adapted.save_pretrained(output / "final")
    config = output / "final" / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "base_model_name_or_path": "/nowhere/model"}))
    base.tokenizer.save_pretrained(output / "final")
    _records(output, "sft", [{"loss": 1.0, "step": 1}], 1, model_id="/nowhere/model")
    with pytest.raises(StudioError, match="LoRA adapter on '/nowhere/model'"):
        import_trl_run(output, algo="sft")
