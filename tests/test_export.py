"""The TRL + accelerate export bundle: data in TRL's columns, a train.py whose TRL config is our config
mapped field by field, an accelerate config and a README with the launch command."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import py_compile
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from rlhf_core import cli
from rlhf_core.data.schema import LoadedData
from rlhf_core.errors import ConfigError, DataError, StudioError
from rlhf_core.export import (ACCELERATE_CONFIGS, ALGOS, CPU_LAUNCH, LAUNCH, TRL_CLASSES, TRL_FIELDS, TRL_FIXED,
                              default_config, export_trl_bundle, trl_kwargs)
from rlhf_core.models.prompts import INSTRUCTION
from rlhf_core.policy.config import DPOConfig, GenerationConfig, GRPOConfig
from rlhf_core.reward.config import RewardConfig

# TRL 1.16's field names, written out by hand from its docs (trl/trainer/*_config.py), so the mapping is
# checked even where trl is not installed.
EXPECTED_TRL_FIELDS = {
    "sft": {"learning_rate", "per_device_train_batch_size", "max_steps", "max_length", "warmup_steps",
            "weight_decay", "max_grad_norm", "seed", "completion_only_loss", "logging_steps"},
    "reward": {"learning_rate", "per_device_train_batch_size", "num_train_epochs", "max_steps", "max_length",
               "warmup_steps", "weight_decay", "center_rewards_coefficient", "seed", "logging_steps"},
    "dpo": {"learning_rate", "per_device_train_batch_size", "max_steps", "beta", "max_length", "weight_decay",
            "max_grad_norm", "seed", "loss_type", "loss_weights", "logging_steps"},
    "grpo": {"learning_rate", "per_device_train_batch_size", "num_generations", "max_steps", "beta", "epsilon",
             "loss_type", "scale_rewards", "num_iterations", "max_completion_length", "temperature", "top_p",
             "weight_decay", "max_grad_norm", "seed", "logging_steps"},
    "rloo": {"learning_rate", "per_device_train_batch_size", "num_generations", "max_steps", "beta", "epsilon",
             "num_iterations", "normalize_advantages", "max_completion_length", "temperature", "top_p",
             "weight_decay", "max_grad_norm", "seed", "logging_steps"},
    "kto": {"learning_rate", "per_device_train_batch_size", "max_steps", "beta", "desirable_weight", "undesirable_weight",
            "max_length", "weight_decay", "max_grad_norm", "seed", "loss_type", "logging_steps"},
}
A1 = "The city council approved a $42 million budget on Monday after a long debate about schools and roads."
A2 = "Flu cases in Perilric reached 1,940 this week, the highest level in three years, the hospital said."

PREFS = pd.DataFrame({"prompt": [A1, A2], "chosen": ["Council approves $42M budget", "Flu cases hit 1,940"],
                      "rejected": ["You won't believe this budget", "Hospital says things"],
                      "margin": [0.5, 0.25], "weight": [1.0, 1.0], "source": ["f", "f"]})


def _read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def _config_call(train_py: Path) -> dict:
    """The studio settings train.py hands to TRL's config class (the literal STUDIO_SETTINGS = dict(...))."""
    tree = ast.parse(train_py.read_text(encoding="utf-8"))
    calls = [n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "STUDIO_SETTINGS"]
    assert len(calls) == 1 and calls[0].func.id == "dict"
    return {k.arg: ast.literal_eval(k.value) for k in calls[0].keywords}


def _bundle(tmp_path, algo, data, **kw):
    model = kw.pop("model_id", "HuggingFaceTB/SmolLM2-135M" if algo != "reward" else "bert-base-uncased")
    return export_trl_bundle(tmp_path / algo, algo, data, kw.pop("config", None), model, **kw)


# ----------------------------------------------------------------------------- data rows
def test_sft_rows_are_prompt_completion_with_expert_copies_and_min_score(tmp_path):
    demos = LoadedData("demonstrations", pd.DataFrame({
        "article": [A1, A2], "headline": ["Council approves $42M budget", "Flu cases hit 1,940"],
        "weight": [1.0, 2.0], "source": ["d", "expert"]}))
    ratings = LoadedData("ratings", pd.DataFrame({
        "article": [A1, A1], "headline": ["Good headline", "Bad headline"], "score": [0.9, 0.2],
        "score_raw": [5, 2], "weight": [1.0, 1.0], "source": ["r", "r"]}))
    manifest = _bundle(tmp_path, "sft", [demos, ratings], config=replace(default_config("sft"), expert_weight=3.0))
    rows = _read_jsonl(manifest["files"]["train.jsonl"])
    assert manifest["prompt_style"] == "plain" and manifest["rows"] == len(rows) == 1 + 3 + 1
    assert all(set(r) == {"prompt", "completion"} for r in rows)
    assert rows[0] == {"prompt": f"Article: {A1}\nHeadline:", "completion": " Council approves $42M budget"}
    assert [r["completion"] for r in rows].count(" Flu cases hit 1,940") == 3  # expert row: expert_weight copies
    assert " Bad headline" not in [r["completion"] for r in rows]  # below min_score 0.7


def test_chat_models_get_conversational_rows(tmp_path):
    manifest = _bundle(tmp_path, "dpo", [LoadedData("preferences", PREFS)], model_id="org/Some-Instruct")
    row = _read_jsonl(manifest["files"]["train.jsonl"])[0]
    assert manifest["prompt_style"] == "chat"
    assert row["prompt"] == [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": A1}]
    assert row["chosen"] == [{"role": "assistant", "content": "Council approves $42M budget"}]
    assert row["rejected"] == [{"role": "assistant", "content": "You won't believe this budget"}]


def test_dpo_rows_match_preferences(tmp_path):
    rows = _read_jsonl(_bundle(tmp_path, "dpo", [LoadedData("preferences", PREFS)])["files"]["train.jsonl"])
    assert [set(r) for r in rows] == [{"prompt", "chosen", "rejected"}] * 2
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        (f"Article: {p}\nHeadline:", " " + c, " " + r) for p, c, r in zip(PREFS.prompt, PREFS.chosen, PREFS.rejected)]


def test_reward_rows_keep_margin_and_pair_ratings(tmp_path):
    ratings = pd.DataFrame({"article": [A2, A2], "headline": ["Flu at 3-year high", "Flu!!!"], "score": [1.0, 0.25],
                            "score_raw": [5, 2], "weight": [1.0, 1.0], "source": ["r", "r"]})
    manifest = _bundle(tmp_path, "reward", {"preferences": PREFS, "ratings": ratings})
    rows = _read_jsonl(manifest["files"]["train.jsonl"])
    assert rows[:2] == [{"prompt": p, "chosen": c, "rejected": r, "margin": m}
                        for p, c, r, m in zip(PREFS.prompt, PREFS.chosen, PREFS.rejected, PREFS.margin)]
    assert rows[2] == {"prompt": A2, "chosen": "Flu at 3-year high", "rejected": "Flu!!!", "margin": 0.75}
    no_margin = _bundle(tmp_path / "b", "reward", {"preferences": PREFS}, config=RewardConfig(use_margin=False))
    assert {r["margin"] for r in _read_jsonl(no_margin["files"]["train.jsonl"])} == {0.0}


def test_grpo_rows_are_distinct_articles(tmp_path):
    articles = pd.DataFrame({"article": [A1, A2], "reference": ["", ""], "article_id": ["a", "b"]})
    manifest = _bundle(tmp_path, "grpo", [LoadedData("articles", articles), LoadedData("preferences", PREFS)])
    rows = _read_jsonl(manifest["files"]["train.jsonl"])
    assert rows == [{"prompt": f"Article: {a}\nHeadline:", "article": a} for a in (A1, A2)]


def test_rloo_rows_are_distinct_articles(tmp_path):
    articles = pd.DataFrame({"article": [A1, A2], "reference": ["", ""], "article_id": ["a", "b"]})
    manifest = _bundle(tmp_path, "rloo", [LoadedData("articles", articles)])
    assert _read_jsonl(manifest["files"]["train.jsonl"]) == [{"prompt": f"Article: {a}\nHeadline:", "article": a} for a in (A1, A2)]
    assert "RLOOTrainer(model=MODEL_ID, reward_funcs=reward_function" in Path(manifest["files"]["train.py"]).read_text()


def test_kto_rows_are_labelled_ratings(tmp_path):
    ratings = pd.DataFrame({"article": [A1, A1], "headline": ["Council approves $42M budget", "Budget news"],
                            "score": [1.0, 0.5], "score_raw": [5, 3], "weight": [1.0, 1.0], "source": ["r", "r"]})
    manifest = _bundle(tmp_path, "kto", [LoadedData("ratings", ratings)])
    rows = _read_jsonl(manifest["files"]["train.jsonl"])
    assert [(r["completion"], r["label"]) for r in rows] == [(" Council approves $42M budget", True), (" Budget news", False)]
    assert "KTOTrainer(model=MODEL_ID" in Path(manifest["files"]["train.py"]).read_text()
    assert "TRL warns when desirable_weight" in Path(manifest["files"]["README.md"]).read_text()  # the smollm2 preset's ratio


def test_nothing_to_export_is_a_plain_error(tmp_path):
    low = pd.DataFrame({"article": [A1], "headline": ["h"], "score": [0.1], "score_raw": [1], "weight": [1.0],
                        "source": ["r"]})
    with pytest.raises(DataError, match="Nothing to export for sft"):
        _bundle(tmp_path, "sft", {"ratings": low})
    with pytest.raises(ConfigError, match="ppo"):
        export_trl_bundle(tmp_path, "ppo", [], None, "gpt2")
    with pytest.raises(ConfigError, match="needs a DPOConfig"):
        trl_kwargs("dpo", RewardConfig())


# ----------------------------------------------------------------------------- config mapping
@pytest.mark.parametrize("algo", ALGOS)
def test_train_py_compiles_and_passes_exactly_the_mapped_kwargs(tmp_path, algo):
    data = [LoadedData("preferences", PREFS)]
    manifest = _bundle(tmp_path, algo, data)
    train_py = Path(manifest["files"]["train.py"])
    py_compile.compile(str(train_py), doraise=True)
    trainer, config_class = TRL_CLASSES[algo]
    kwargs = _config_call(train_py)
    assert set(kwargs) == set(TRL_FIELDS[algo]) | set(TRL_FIXED[algo])
    assert kwargs == trl_kwargs(algo, default_config(algo)) == manifest["trl_config"]
    text = train_py.read_text()
    assert f"{trainer}(" in text and f"training_args({config_class})" in text and f"ALGO = {algo!r}" in text


def _training_args_source(train_py: Path) -> str:
    """train.py's STUDIO_SETTINGS and training_args(), to run without TRL."""
    tree = ast.parse(train_py.read_text(encoding="utf-8"))
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "training_args"
            or isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "STUDIO_SETTINGS"]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


@pytest.mark.parametrize("argv, cuda, bf16_gpu, env, want", [
    ([], False, False, {}, {"use_cpu": True, "bf16": False}),                      # no GPU: CPU, fp32
    (["--cpu"], True, True, {}, {"use_cpu": True, "bf16": False}),                 # --cpu on a bf16 GPU
    ([], True, True, {}, {"use_cpu": False, "bf16": True}),                        # Ampere or newer: bf16
    ([], True, False, {}, {"use_cpu": False, "bf16": False}),                      # older GPU: fp32
    ([], True, True, {"ACCELERATE_USE_CPU": "True"}, {"use_cpu": True, "bf16": False}),  # accelerate launch --cpu
    (["--max_steps", "2", "--cpu"], False, False, {}, {"use_cpu": True, "max_steps": 2}),  # TRL fields on the line
])
def test_train_py_picks_bf16_only_where_the_gpu_has_it(tmp_path, monkeypatch, argv, cuda, bf16_gpu, env, want):
    """The issue's first failure: TRL's configs default to bf16, so the SFT bundle stopped on a machine
    without a bf16 GPU. training_args() runs here with a stand-in for HfArgumentParser (TRL not needed)."""
    import sys
    import types

    train_py = Path(_bundle(tmp_path, "sft", [LoadedData("preferences", PREFS)])["files"]["train.py"])
    seen = {}

    class Parser:  # records what train.py asks for: the defaults, then the command line it passes on
        def __init__(self, config_class):
            seen["class"] = config_class

        def set_defaults(self, **defaults):
            seen.update(defaults)

        def parse_args_into_dataclasses(self, args):
            seen["argv"] = list(args)
            for name, value in zip(args[::2], args[1::2]):
                seen[name.removeprefix("--")] = int(value)
            return (seen,)

    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: cuda, is_bf16_supported=lambda: bf16_gpu))
    monkeypatch.setattr(sys, "argv", ["train.py", *argv])
    monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = {"torch": torch, "HfArgumentParser": Parser, "os": __import__("os"), "sys": sys, "HERE": tmp_path}
    exec(compile(_training_args_source(train_py), "train.py", "exec"), namespace)
    args = namespace["training_args"]("SFTConfig")
    assert "--cpu" not in seen["argv"] and seen["output_dir"] == str(tmp_path / "output")
    assert {k: args[k] for k in want} == want
    assert args["learning_rate"] == trl_kwargs("sft", default_config("sft"))["learning_rate"]


def test_mapped_names_are_trl_config_fields():
    for algo in TRL_FIELDS:
        names = set(TRL_FIELDS[algo]) | set(TRL_FIXED[algo])
        assert names <= EXPECTED_TRL_FIELDS[algo], names - EXPECTED_TRL_FIELDS[algo]
    if importlib.util.find_spec("trl") is not None:  # where TRL is installed (benches), check the real classes
        import trl

        for algo, (_, config_class) in TRL_CLASSES.items():
            fields = {f.name for f in dataclasses.fields(getattr(trl, config_class))}
            missing = (set(TRL_FIELDS[algo]) | set(TRL_FIXED[algo])) - fields
            assert not missing, f"{config_class} of trl {trl.__version__} has no {missing}"


def test_values_are_translated_to_trl_spellings():
    cfg = GRPOConfig(prompts_per_step=3, group_size=4, scale_rewards="none", clip_eps=0.3, loss_type="dr_grpo",
                     generation=GenerationConfig(max_new_tokens=20, temperature=0.7, top_p=0.9))
    kw = trl_kwargs("grpo", cfg)
    assert (kw["per_device_train_batch_size"], kw["num_generations"]) == (12, 4)
    assert (kw["scale_rewards"], kw["epsilon"], kw["loss_type"]) == ("none", 0.3, "dr_grpo")
    assert (kw["max_completion_length"], kw["temperature"], kw["top_p"]) == (20, 0.7, 0.9)
    assert trl_kwargs("grpo", GRPOConfig())["scale_rewards"] == "group"
    reward = trl_kwargs("reward", RewardConfig(max_steps=0, center_rewards_coef=0.01, warmup_ratio=0.2))
    assert (reward["max_steps"], reward["center_rewards_coefficient"], reward["warmup_steps"]) == (-1, 0.01, 0.2)
    assert trl_kwargs("reward", RewardConfig())["center_rewards_coefficient"] is None
    assert (trl_kwargs("dpo", DPOConfig())["loss_type"], trl_kwargs("dpo", DPOConfig())["loss_weights"]) == ("sigmoid", None)
    rpo = trl_kwargs("dpo", DPOConfig(rpo_alpha=0.5))  # RPO = TRL's DPO with its 'sft' loss beside the sigmoid one
    assert (rpo["loss_type"], rpo["loss_weights"]) == (["sigmoid", "sft"], [1.0, 0.5])


def test_accelerate_configs_requirements_and_readme(tmp_path):
    import yaml

    manifest = _bundle(tmp_path, "dpo", [LoadedData("preferences", PREFS)])
    files = manifest["files"]
    configs = {name: yaml.safe_load(Path(files[name]).read_text()) for name in ACCELERATE_CONFIGS}
    assert set(configs) == {"accelerate_config.yaml", "accelerate_zero2.yaml", "accelerate_zero3.yaml"}
    ddp, zero2, zero3 = configs["accelerate_config.yaml"], configs["accelerate_zero2.yaml"], configs["accelerate_zero3.yaml"]
    assert ddp["distributed_type"] == "MULTI_GPU" and isinstance(ddp["num_processes"], int)
    assert (zero2["distributed_type"], zero2["deepspeed_config"]["zero_stage"]) == ("DEEPSPEED", 2)
    assert (zero3["distributed_type"], zero3["deepspeed_config"]["zero_stage"]) == ("DEEPSPEED", 3)
    assert zero3["deepspeed_config"]["zero3_save_16bit_model"] is True  # output/final is one whole checkpoint
    # no config forces bf16 (the issue: accelerate asked for it on a CPU): train.py decides per machine
    assert {c["mixed_precision"] for c in configs.values()} == {"no"} and not any(c["use_cpu"] for c in configs.values())
    reqs = Path(files["requirements.txt"]).read_text()
    assert all(name in reqs for name in ("trl", "accelerate", "transformers", "datasets", "deepspeed"))
    readme = Path(files["README.md"]).read_text()
    assert LAUNCH in readme and CPU_LAUNCH in readme and CPU_LAUNCH.endswith("train.py --cpu")
    assert "accelerate_zero2.yaml" in readme and "accelerate_zero3.yaml" in readme
    assert "## Several machines" in readme and all(flag in readme for flag in ("--machine_rank 1", "--main_process_ip",
                                                                              "--main_process_port", "--num_machines 2"))
    assert "python -m rlhf_core import trl" in readme
    assert json.loads(Path(files["studio_config.json"]).read_text())["config"]["beta"] == 0.1


# ----------------------------------------------------------------------------- GRPO reward model
def _tiny_reward_folder(path: Path, fmt: str = "full", fact_checks: bool = False, **meta) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rlhf_core.models.offline import minilm_dir

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    model = BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=1))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "studio_reward.json").write_text(json.dumps({"format": fmt, "max_length": 48, "fact_checks": fact_checks, **meta}))
    return path


@pytest.mark.parametrize("fact_checks, meta", [(False, {}), (True, {}), (True, {"fact_checks_version": 2}),
                                               (False, {"token_type_ids": False})])  # a TRL reward model imported back
def test_grpo_reward_function_matches_the_studio_scorer(tmp_path, fact_checks, meta):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_core.reward.scorer import clear_scorer_cache, load_scorer

    folder = _tiny_reward_folder(tmp_path / "rm", fact_checks=fact_checks, **meta)
    articles = pd.DataFrame({"article": [A1, A2], "reference": ["", ""], "article_id": ["a", "b"]})
    manifest = _bundle(tmp_path, "grpo", {"articles": articles}, reward_model=str(folder), model_id="x/Chat-Model")
    bundled = Path(manifest["files"]["reward_model"])
    assert (bundled / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    # run train.py's reward helpers (without importing trl): they must give the studio's sigmoid(logit)
    tree = ast.parse(Path(manifest["files"]["train.py"]).read_text())
    helpers = ("headline_of", "make_reward_function")
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in helpers
            or isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "REWARD_MAX_LENGTH"]
    from rlhf_core.reward.checks import fact_checks_version, headline_with_checks  # train.py imports the bundled copy

    namespace = {"torch": torch, "Path": Path, "AutoTokenizer": AutoTokenizer, "json": json,
                 "AutoModelForSequenceClassification": AutoModelForSequenceClassification,
                 "fact_checks_version": fact_checks_version, "headline_with_checks": headline_with_checks}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "train.py", "exec"), namespace)
    assert namespace["REWARD_MAX_LENGTH"] == 48
    reward = namespace["make_reward_function"](str(bundled), "cpu")
    completions = [[{"role": "assistant", "content": "Council approves $42M budget\nmore text"}],
                   [{"role": "assistant", "content": "Flu cases hit 1,940"}]]
    got = reward(prompts=None, completions=completions, article=[A1, A2], trainer_state=None)
    want = load_scorer(folder).score([A1, A2], ["Council approves $42M budget", "Flu cases hit 1,940"])
    assert got == pytest.approx(want.tolist(), abs=1e-5) and all(0 < g < 1 for g in got)
    if meta.get("token_type_ids") is False:  # both score it as TRL trained it: without segment ids
        tokenizer = AutoTokenizer.from_pretrained(folder)
        batch = tokenizer([A1, A2], ["Council approves $42M budget", "Flu cases hit 1,940"], padding=True,
                          return_tensors="pt")
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        with torch.no_grad():
            segments = torch.sigmoid(model(**batch).logits.squeeze(-1)).tolist()
            batch.pop("token_type_ids")
            plain = torch.sigmoid(model(**batch).logits.squeeze(-1)).tolist()
        assert got == pytest.approx(plain, abs=1e-5) and got != pytest.approx(segments, abs=1e-5)
    clear_scorer_cache()


def test_grpo_bundle_carries_the_fact_checks_and_they_run_without_the_studio(tmp_path):
    """The bundled rlhf_core/ files alone (no studio on the path) give the studio's fact checks, every version."""
    import subprocess
    import sys

    from rlhf_core.reward.checks import checks_text

    folder = _tiny_reward_folder(tmp_path / "rm", fact_checks=True, fact_checks_version=2)
    articles = pd.DataFrame({"article": [A1, A2], "reference": ["", ""], "article_id": ["a", "b"]})
    manifest = _bundle(tmp_path, "grpo", {"articles": articles}, reward_model=str(folder), model_id="x/Chat-Model")
    bundle = Path(manifest["out_dir"])
    assert "from rlhf_core.reward.checks import fact_checks_version, headline_with_checks" in \
        Path(manifest["files"]["train.py"]).read_text()
    pairs = [(A1, "Council rejects $24 million budget"), (A2, "Flu cases halve to 1,940"), (A1, "Council approves budget")]
    script = ("import json, sys; from rlhf_core.reward.checks import checks_text; import rlhf_core; "
              "print(json.dumps({'file': rlhf_core.__file__, 'texts': [checks_text(a, h, v) for a, h in "
              "json.loads(sys.argv[1]) for v in (1, 2)]}))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no PYTHONPATH: only the bundle's rlhf_core/
    done = subprocess.run([sys.executable, "-c", script, json.dumps(pairs)], cwd=bundle, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert Path(result["file"]).resolve().is_relative_to(bundle.resolve())
    assert result["texts"] == [checks_text(a, h, v) for a, h in pairs for v in (1, 2)]
    assert "directions reversed" in result["texts"][1] and "directions" not in result["texts"][0]


def test_grpo_refuses_a_quick_reward_model(tmp_path):
    folder = _tiny_reward_folder(tmp_path / "quick", fmt="quick")
    with pytest.raises(StudioError, match="quick reward model"):
        _bundle(tmp_path, "grpo", {"preferences": PREFS}, reward_model=str(folder))


# ----------------------------------------------------------------------------- store and CLI
def test_store_votes_are_exported_as_preferences(tmp_path):
    from rlhf_core.store import RatingsStore

    store = RatingsStore()
    store.add_vote(A1, "Budget passes", "Council in shock budget drama", "a", rater="ana")
    store.add_vote(A2, "Hospital busy", "Flu cases reach 1,940", "b", rater="ben")
    store.add_vote(A2, "Flu up", "Flu rises", "tie", rater="ana")
    store.close()
    manifest = export_trl_bundle(tmp_path / "b", "dpo", [], None, "gpt2", include_store=True)
    rows = _read_jsonl(manifest["files"]["train.jsonl"])
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        (f"Article: {A1}\nHeadline:", " Budget passes", " Council in shock budget drama"),
        (f"Article: {A2}\nHeadline:", " Flu cases reach 1,940", " Hospital busy")]  # the tie carries no preference


def _cli(monkeypatch, argv):
    if "rlhf_core.export_cli" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("rlhf_core.export_cli",))
    return cli.main(argv)


def test_cli_writes_a_bundle_and_prints_its_files(tmp_path, monkeypatch, capsys):
    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in PREFS[["prompt", "chosen", "rejected"]].to_dict("records")))
    out = tmp_path / "bundle"
    code = _cli(monkeypatch, ["export", "trl", "--algo", "dpo", "--data", str(data), "--model", "gpt2", "--out", str(out)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["rows"] == 2 and printed["algo"] == "dpo"
    assert set(printed["files"]) == {"train.jsonl", "train.py", "accelerate_config.yaml", "accelerate_zero2.yaml",
                                     "accelerate_zero3.yaml", "requirements.txt", "README.md", "studio_config.json"}
    assert all(Path(p).is_file() for p in printed["files"].values())
    assert _cli(monkeypatch, ["export", "trl", "--algo", "dpo", "--model", "gpt2", "--out", str(out)]) == 2
    assert "nothing to export" in capsys.readouterr().err
