"""The exported TRL bundles really run: every bundle kind, as two CPU processes, for 2 steps, and back.

For each kind in rlhf_core.export.ALGOS, a bundle is exported from the sample data with tiny models
(`tiny-init` saved with save_pretrained; a tiny BERT for the reward model), launched with the CPU line
of its README (`accelerate launch ... --num_processes 2 train.py --cpu`) plus `--max_steps 2`, and
checked: both ranks took part, the loss is finite, output/final loads with plain transformers, and
`import_trl_run` turns the output into a studio run whose model the studio loads.

TRL is installed from bench/requirements-bench.txt into a venv of the test's own (--system-site-packages:
torch and transformers are the ones installed here), cached in ~/.cache/rlhf-studio/ (or
$RLHF_STUDIO_TRL_VENV) per version of that file. Marked `slow` (about 3 minutes on 2 cores, the first
time 20 s more for the venv); `python -m pytest`, and so `.ci/run`, runs it; `-m "not slow"` skips it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rlhf_core.export import ALGOS, CPU_LAUNCH, export_trl_bundle

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "bench" / "requirements-bench.txt"
# What each bundle kind is exported from (a new kind needs its line here: the test fails without one).
SAMPLE_DATA = {"sft": ["expert_demonstrations.csv"], "reward": ["train_preferences.jsonl"],
               "dpo": ["train_preferences.jsonl"], "grpo": ["articles.csv"], "rloo": ["articles.csv"],
               "kto": ["train_ratings.csv"]}
EXTRA_ARGS = {"grpo": ["--num_generations", "2", "--max_completion_length", "8"],  # 2 x 2 completions per step
              "rloo": ["--num_generations", "2", "--max_completion_length", "8"]}


@pytest.fixture(scope="module")
def trl_venv() -> Path:
    """A venv with TRL from the bench requirements, built once per version of that file."""
    from rlhf_core.models.offline import FileLock

    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    default = Path.home() / ".cache" / "rlhf-studio" / f"trl-venv-{digest}"
    venv = Path(os.environ.get("RLHF_STUDIO_TRL_VENV") or default)
    with FileLock(venv.parent / f".{venv.name}.lock"):  # another test run may be building it right now
        if not (venv / "ready").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
            pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                                 capture_output=True, text=True, timeout=900)
            assert pip.returncode == 0, f"pip install -r {REQUIREMENTS} failed:\n{pip.stdout[-3000:]}\n{pip.stderr[-3000:]}"
            (venv / "ready").write_text(REQUIREMENTS.read_text())
    return venv


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Folders a cluster could start from: the tiny GPT-2 policy, a tiny BERT backbone, a tiny reward model."""
    from rlhf_core.models.registry import load_policy, load_reward_backbone

    root = tmp_path_factory.mktemp("tiny_models")
    policy = load_policy("tiny-init", cache=False)
    policy.model.save_pretrained(root / "policy")
    policy.tokenizer.save_pretrained(root / "policy")
    for name, meta in (("backbone", None), ("reward_model", {"format": "full", "max_length": 64, "fact_checks": False})):
        model, tokenizer = load_reward_backbone("tiny")
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        if meta:
            (root / name / "studio_reward.json").write_text(json.dumps(meta))
    return {"policy": root / "policy", "backbone": root / "backbone", "reward_model": root / "reward_model"}


def _free_port() -> int:
    with socket.socket() as sock:  # two test runs on one machine must not share torch's rendezvous port
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_accelerate_reads_every_bundle_config(trl_venv, tmp_path):
    from rlhf_core.export import ACCELERATE_CONFIGS

    for name, text in ACCELERATE_CONFIGS.items():
        (tmp_path / name).write_text(text)
    script = ("import sys\nfrom accelerate.commands.config.config_args import load_config_from_file\n"
              "for path in sys.argv[1:]:\n    c = load_config_from_file(path)\n"
              "    print(path.rsplit('/', 1)[-1], c.distributed_type.value, c.mixed_precision, c.num_processes)\n")
    out = subprocess.run([str(trl_venv / "bin" / "python"), "-c", script, *map(str, sorted(tmp_path.glob("*.yaml")))],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:3] == ["accelerate_config.yaml MULTI_GPU no 2", "accelerate_zero2.yaml DEEPSPEED no 2",
                                          "accelerate_zero3.yaml DEEPSPEED no 2"]


@pytest.mark.parametrize("algo", ALGOS)
def test_bundle_trains_on_two_cpu_processes_and_comes_back(algo, trl_venv, tiny_models, tmp_path):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from rlhf_core.data.loaders import load_file
    from rlhf_core.paths import sample_data_dir
    from rlhf_core.trl_import import import_trl_run

    assert algo in SAMPLE_DATA, f"bundle kind '{algo}' has no sample data in this test: add it to SAMPLE_DATA"
    # 1. export from the sample data, starting from a tiny model
    model = tiny_models["backbone" if algo == "reward" else "policy"]
    bundle = tmp_path / "bundle"
    export_trl_bundle(bundle, algo, [load_file(sample_data_dir() / name) for name in SAMPLE_DATA[algo]], None,
                      str(model), reward_model=str(tiny_models["reward_model"]) if algo in ("grpo", "rloo") else "")
    # 2. the README's CPU line, two processes, 2 steps
    command = CPU_LAUNCH.split() + ["--max_steps", "2", "--per_device_train_batch_size", "2", *EXTRA_ARGS.get(algo, [])]
    # `accelerate` through the venv's python: with --system-site-packages the venv may hold no script of its own
    # (peft, in requirements.txt, already installs accelerate system-wide)
    command[0:1] = [str(trl_venv / "bin" / "python"), "-m", "accelerate.commands.accelerate_cli"]
    command[command.index("--num_processes"):command.index("--num_processes")] = ["--main_process_port", str(_free_port())]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets"), "WANDB_DISABLED": "true"}
    log = tmp_path / "train.log"
    with open(log, "w") as handle:
        done = subprocess.run(command, cwd=bundle, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=420)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{log.read_text()[-4000:]}"
    output = bundle / "output"
    # 3. both ranks took part: each wrote its record after the last step, two processes joined by gloo
    records = [json.loads(p.read_text()) for p in sorted((output / "processes").glob("rank-*.json"))]
    assert [r["rank"] for r in records] == [0, 1], log.read_text()[-2000:]
    assert all(r["world_size"] == 2 and r["global_step"] == 2 and r["algo"] == algo for r in records)
    assert {r["distributed_type"] for r in records} == {"DistributedType.MULTI_CPU"}
    assert {r["mixed_precision"] for r in records} == {"no"}  # no bf16 without a GPU that has it
    # 4. the loss is finite at both steps
    history = json.loads((output / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), history
    # 5. output/final loads with plain transformers
    auto = AutoModelForSequenceClassification if algo == "reward" else AutoModelForCausalLM
    trained = auto.from_pretrained(output / "final", use_safetensors=True)
    AutoTokenizer.from_pretrained(output / "final")
    assert trained.num_parameters() > 0
    # 6. and it comes back as a studio run with the studio's metric names and a model the studio loads
    result = import_trl_run(output)
    assert (result["kind"], result["steps"], result["processes"], result["device"]) == (algo, 2, 2, "cpu")
    assert "optim/lr" in result["metrics"] and ("loss/train" if algo == "reward" else "loss/policy") in result["metrics"]
    if algo == "reward":
        from rlhf_core.reward.scorer import clear_scorer_cache, load_scorer

        scores = load_scorer(result["model_dir"]).score(["The council approved a budget."], ["Council approves budget"])
        assert 0 < scores[0] < 1
        clear_scorer_cache()
    else:
        from rlhf_core.models.generation import generate_headlines
        from rlhf_core.models.registry import load_policy

        policy = load_policy(result["model_dir"], cache=False)
        assert len(generate_headlines(policy, ["The council approved a budget."], 1.0, n=1, max_new_tokens=4)[0]) == 1
