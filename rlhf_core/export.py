"""Export collected data and a studio config as a bundle that TRL + accelerate run on a GPU cluster.

`export_trl_bundle(out_dir, algo, datasets, config, model_id)` writes one folder:

    train.jsonl              the data in TRL's column names (see `*_rows` below)
    train.py                 a short script: TRL's <Algo>Config from our values (any field can be changed on
                             its command line), bf16 only where the GPU has it, CPU otherwise or with --cpu
    accelerate_config.yaml   data-parallel (DDP) processes: GPUs, or CPU processes with train.py --cpu
    accelerate_zero2.yaml    DeepSpeed ZeRO-2 (optimizer states and gradients sharded)
    accelerate_zero3.yaml    DeepSpeed ZeRO-3 (weights sharded too)
    requirements.txt         trl, accelerate, transformers, datasets for the cluster
    README.md                the launch lines (one GPU, many, CPU, DeepSpeed, several machines), the way back
    studio_config.json       our config as it was (to reproduce the run in the studio)
    reward_model/            algorithms that sample (GRPO, ...), when a local reward model folder is given: a copy

A run writes output/final/ (the model), output/trainer_state.json (TRL's log history) and
output/processes/rank-<i>.json (one per process); `rlhf_core.trl_import` turns that into a studio run.
Our config field names become TRL's through each algorithm's TRLExport (fields, fixed values; declared in
its entry of rlhf_core.policy.algorithms, the reward model's here) and TRL_VALUES, checked against TRL 1.16.
train.py comes in three shapes: "model" (TRL loads MODEL_ID and its reference: SFT, DPO, ...), "reward_model"
(an encoder with a one-logit head) and "reward_function" (a reward model scores sampled headlines: GRPO, ...).
TRL has no per-example weights: a row of weight w (expert data: x2) is written round(w) times.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterable

from rlhf_core import export_rows, paths
from rlhf_core.errors import ConfigError, DataError, StudioError
from rlhf_core.models.adapters import lora_settings
from rlhf_core.policy.algorithms import ALGORITHMS, TRLExport

DATA_FILE = "train.jsonl"
REWARD_DIR = "reward_model"
# The studio files a reward function needs for a full reward model's fact checks (pure Python and numpy): copied
# into the bundle as they are, so train.py reads the checks exactly as the studio trained and scores with them.
CHECKS_FILES = ("rlhf_core/__init__.py", "rlhf_core/errors.py", "rlhf_core/data/__init__.py", "rlhf_core/data/personas.py",
                "rlhf_core/reward/__init__.py", "rlhf_core/reward/checks.py")


def reward_rows(tables: dict[str, list], cfg, style=None) -> list[dict]:
    """{prompt, chosen, rejected, margin} rows of plain text: train.py tokenises them as the studio does."""
    return export_rows.preference_rows(tables, cfg, None, with_margin=True)


# The reward model's bundle; every policy algorithm's is declared in its registry entry (ALGORITHMS[...].trl).
# logging_steps=1 everywhere: the studio logs every step, so a run imported back charts every point.
REWARD_EXPORT = TRLExport(
    trainer="RewardTrainer", config="RewardConfig", rows=reward_rows, shape="reward_model",
    fields={"learning_rate": "lr", "per_device_train_batch_size": "batch_size", "num_train_epochs": "epochs",
            "max_steps": "max_steps", "max_length": "max_length",
            "warmup_steps": "warmup_ratio",  # transformers 5: a float in [0, 1) is a ratio of all steps
            "weight_decay": "weight_decay", "center_rewards_coefficient": "center_rewards_coef", "seed": "seed"},
    fixed={"logging_steps": 1}, note="Bradley-Terry loss -log sigmoid(r_chosen - r_rejected - margin)",
    needs="give preference pairs, or ratings with two different scores for the same article.")
EXPORTS: dict[str, TRLExport] = {
    **{name: a.trl for name, a in ALGORITHMS.items() if a.trl is not None and name == "sft"}, "reward": REWARD_EXPORT,
    **{name: a.trl for name, a in ALGORITHMS.items() if a.trl is not None and name != "sft"}}
ALGOS = tuple(EXPORTS)  # sft, reward, then every policy algorithm TRL has a trainer for
TRL_CLASSES = {algo: (spec.trainer, spec.config) for algo, spec in EXPORTS.items()}  # algo -> (TRL trainer, TRL config)
TRL_FIELDS = {algo: spec.fields for algo, spec in EXPORTS.items()}  # TRL config field <- our field (or a function)
TRL_FIXED = {algo: spec.fixed for algo, spec in EXPORTS.items()}  # TRL settings our trainers hard-wire
TITLES = {"reward": "Reward-model training", **{name: a.title for name, a in ALGORITHMS.items()}}
# Values whose spelling differs: {TRL field: {our value: TRL value}}.
TRL_VALUES: dict[str, dict[Any, Any]] = {
    "scale_rewards": {"std": "group", "none": "none"},  # TRL: 'group' | 'batch' | 'none'
    "max_steps": {0: -1},  # ours: 0 = no limit; TRL: -1
    "center_rewards_coefficient": {0.0: None},  # TRL: None = no centring term
}


# --------------------------------------------------------------------------- config mapping
def default_config(algo: str):
    """Our default config dataclass for `algo`."""
    _check_algo(algo)
    if algo == "reward":
        from rlhf_core.reward.config import RewardConfig

        return RewardConfig()
    return ALGORITHMS[algo].config()


def config_from_dict(algo: str, data: dict):
    """Our config for `algo` from a saved dict (a run's config.json); unknown keys are ignored."""
    if algo != "reward":
        from rlhf_core.policy.algorithms import config_from_dict as policy_config

        return policy_config(algo, data)
    cls = type(default_config(algo))
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def trl_kwargs(algo: str, config) -> dict[str, Any]:
    """The keyword arguments of TRL's <Algo>Config that reproduce `config` (our dataclass).

    Returns:
        {TRL field: value}, in TRL_FIELDS order, then TRL_FIXED.
    """
    _check_algo(algo)
    expected = type(default_config(algo)).__name__
    if type(config).__name__ != expected:
        raise ConfigError(f"Exporting '{algo}' needs a {expected}, not a {type(config).__name__}.")
    kwargs = {}
    for trl_name, ours in TRL_FIELDS[algo].items():
        value = ours(config) if callable(ours) else _get(config, ours)
        mapping = TRL_VALUES.get(trl_name)  # only scalar fields are mapped (loss_weights is a list)
        kwargs[trl_name] = mapping.get(value, value) if mapping else value
    kwargs.update(TRL_FIXED[algo])
    return kwargs


def _get(config, dotted: str):
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def _check_algo(algo: str) -> None:
    if algo not in ALGOS:
        raise ConfigError(f"The algorithm must be one of {', '.join(ALGOS)}; got '{algo}'. "
                          "(PPO lives in trl.experimental in TRL 1.x and is not exported.)")


def _store_tables(store=None) -> dict[str, list]:
    """The ratings store's star ratings and A/B votes (winners only) as canonical tables."""
    from rlhf_core.store import RatingsStore

    own = store is None
    store = store or RatingsStore()
    try:
        tables = {"ratings": [store.as_ratings_table()], "preferences": [store.as_preferences_table()]}
    finally:
        if own:
            store.close()
    return tables


# --------------------------------------------------------------------------- the bundle
def export_trl_bundle(out_dir, algo: str, datasets=None, config=None, model_id: str = "",
                      include_store: bool = False, *, reward_model: str = "", prompt_style: str | None = None,
                      store=None) -> dict:
    """Write a TRL + accelerate bundle for `algo` to `out_dir` (each file atomically).

    Args:
        out_dir: the bundle folder (created; our files in it are replaced).
        algo: one of ALGOS ('sft', 'reward', then every policy algorithm with a TRL trainer).
        datasets: LoadedData objects, {kind: DataFrame}, or canonical DataFrames (kind from columns).
        config: our config dataclass (RewardConfig, or SFTConfig / DPOConfig / GRPOConfig); None = defaults.
        model_id: the model TRL starts from on the cluster (hub id or path there), e.g.
            'HuggingFaceTB/SmolLM2-135M-Instruct' (policy) or 'sentence-transformers/all-MiniLM-L6-v2' (reward).
        include_store: add the ratings store's star ratings and A/B votes (winners) to the data.
        reward_model: algorithms that sample (shape 'reward_function'): a reward model folder (copied into
            the bundle) or a hub id.
        prompt_style: 'chat' | 'plain'; None = 'chat' when model_id names an instruct/chat model.
        store: a RatingsStore to read instead of the default database (tests).
    Returns:
        {"out_dir", "algo", "model_id", "rows", "files": {name: path}, "trl_config": {...}, "command"}.
    """
    _check_algo(algo)
    if not str(model_id).strip():
        raise ConfigError("Give the model TRL should start from on the cluster (a hub id such as "
                          "HuggingFaceTB/SmolLM2-135M-Instruct, or a path there).")
    config = default_config(algo) if config is None else config
    kwargs = trl_kwargs(algo, config)
    style = prompt_style or _guess_style(model_id)
    if style not in ("chat", "plain"):
        raise ConfigError(f"The prompt style must be 'chat' or 'plain'; got '{style}'.")

    tables = export_rows.as_tables(datasets)
    if include_store:
        for kind, frames in _store_tables(store).items():
            tables.setdefault(kind, []).extend(frames)
    spec = EXPORTS[algo]
    rows = spec.rows(tables, config, style)
    if not rows:
        raise DataError(f"Nothing to export for {algo}: {spec.needs or _NEEDS[spec.rows.__name__]}")

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    files = {DATA_FILE: _write_jsonl(out / DATA_FILE, rows)}
    reward_path, reward_max_length = "", 256
    if spec.shape == "reward_function":
        reward_path, reward_max_length = _bundle_reward_model(out, reward_model)
        if reward_path == REWARD_DIR:
            files[REWARD_DIR] = out / REWARD_DIR
        files["rlhf_core"] = _bundle_checks(out)
    files["train.py"] = paths.atomic_write_text(out / "train.py", render_train_py(
        algo, model_id, kwargs, reward_model=reward_path or REWARD_DIR, reward_max_length=reward_max_length,
        lora=lora_settings(config), save_merged=bool(getattr(config, "save_merged", False))))
    for name, text in ACCELERATE_CONFIGS.items():
        files[name] = paths.atomic_write_text(out / name, text)
    files["requirements.txt"] = paths.atomic_write_text(out / "requirements.txt", REQUIREMENTS)
    files["README.md"] = paths.atomic_write_text(out / "README.md", render_readme(
        algo, model_id, kwargs, len(rows), style, reward_path, lora_settings(config), bool(getattr(config, "save_merged", False))))
    files["studio_config.json"] = paths.atomic_write_json(out / "studio_config.json", {
        "algo": algo, "config_class": type(config).__name__,
        "config": asdict(config), "prompt_style": style})
    return {"out_dir": str(out), "algo": algo, "model_id": model_id, "rows": len(rows), "prompt_style": style,
            "files": {name: str(path) for name, path in files.items()}, "trl_config": kwargs, "command": LAUNCH}


_NEEDS = {  # what to give when a row builder finds nothing (an entry's TRLExport.needs says it for its own builder)
    "sft_rows": "give demonstrations, ratings at or above min_score, preferences or articles with references.",
    "pair_rows": "give preference pairs, or ratings with two different scores for the same article.",
    "prompt_rows": "give articles (any table with an article or prompt column).",
}

def _guess_style(model_id: str) -> str:
    name = str(model_id).lower()
    return "chat" if any(tag in name for tag in ("instruct", "chat", "-it")) else "plain"


def _write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    return paths.atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _bundle_reward_model(out: Path, reward_model: str) -> tuple[str, int]:
    """(path train.py loads, max_length): a local folder is copied to out/reward_model; a hub id is kept."""
    if not reward_model:
        return "", 256
    source = Path(reward_model).expanduser()
    if not source.exists():
        return str(reward_model), 256  # a hub id (or a path on the cluster)
    from rlhf_core.reward.scorer import META_FILE, resolve_checkpoint

    folder = resolve_checkpoint(source)
    meta = paths.read_json(folder / META_FILE, default={}) or {}
    if meta.get("format") == "quick":
        raise StudioError(f"{folder} is a quick reward model (a linear head on a frozen encoder), which plain "
                          "transformers cannot load: train a full reward model to use it in TRL's GRPO.")
    if not (folder / "config.json").exists():
        raise StudioError(f"{folder} has no config.json: not a transformers reward model.")
    target = out / REWARD_DIR
    if target.exists():
        shutil.rmtree(target)
    for item in sorted(folder.iterdir()):
        if item.is_file() and not item.name.startswith("."):
            paths.atomic_write_bytes(target / item.name, item.read_bytes())
    return REWARD_DIR, int(meta.get("max_length", 256))


def _bundle_checks(out: Path) -> Path:
    """Copy CHECKS_FILES into out/rlhf_core/ (train.py imports the fact checks from there); returns that folder."""
    root = Path(__file__).resolve().parent.parent
    for name in CHECKS_FILES:
        paths.atomic_write_bytes(out / name, (root / name).read_bytes())
    return out / "rlhf_core"


# --------------------------------------------------------------------------- generated files
def _studio_name(algo: str, trl_name: str) -> str:
    """Which of our fields a TRL field comes from, in words (for comments and the README)."""
    source = TRL_FIELDS[algo].get(trl_name)
    if source is None:
        return "(fixed: the studio's trainer does this)"
    return source if isinstance(source, str) else source.__doc__.split("\n")[0].rstrip(".")  # a function says in its docstring


def _config_lines(kwargs: dict, algo: str) -> str:
    return "\n".join(f"    {name}={value!r},  # {_studio_name(algo, name)}" for name, value in kwargs.items())


def render_train_py(algo: str, model_id: str, kwargs: dict, reward_model: str = REWARD_DIR,
                    reward_max_length: int = 256, lora: dict | None = None, save_merged: bool = False) -> str:
    """The bundle's train.py: readable; the cluster needs no studio install (a reward function imports the fact
    checks from the few rlhf_core files bundled next to it, CHECKS_FILES).

    `lora` (peft.LoraConfig arguments, see lora_settings) trains an adapter as the studio's run would;
    `save_merged` folds it into the weights of output/final.
    """
    spec = EXPORTS[algo]
    trainer, config, shape = spec.trainer, spec.config, spec.shape
    stdlib = ("json", "os", "sys")
    header = _HEADER.format(
        title=TITLES[algo], trainer=trainer, config=config, stdlib="".join(f"import {m}\n" for m in stdlib),
        imports=_IMPORTS[shape].format(trainer=trainer, config=config), algo=algo, model_id=model_id,
        studio_config=type(default_config(algo)).__name__,
        reward_consts=_REWARD_CONSTS.format(reward_model=_reward_expr(reward_model),
                                            max_length=reward_max_length) if shape == "reward_function" else "",
        helpers=_HELPERS[shape], lora=lora, save_merged=save_merged)
    body = _BODIES[shape].format(trainer=trainer, note=spec.note)
    return header.replace("{CONFIG}", _config_lines(kwargs, algo)) + body + _FOOTER


def _reward_expr(reward_model: str) -> str:
    """Python source for the default reward model: the bundled folder, or a hub id / path as given."""
    return f"str(HERE / {REWARD_DIR!r})" if reward_model == REWARD_DIR else repr(reward_model)


_HEADER = '''"""{title} with TRL's {trainer}: data and settings exported from RLHF Studio.

Run from this folder (README.md has every launch line: one GPU, many GPUs, CPU, DeepSpeed, several machines):
    pip install -r requirements.txt
    accelerate launch --config_file accelerate_config.yaml --num_processes <GPUs> train.py
    accelerate launch --config_file accelerate_config.yaml --num_processes 2 train.py --cpu   # CPU processes
After train.py, any field of TRL's {config} replaces the studio's value (e.g. --max_steps 2); bf16 is on only
where the GPU has it. The model is MODEL_ID below (or the MODEL_ID environment variable). Results land in
output/: final/ (the model: transformers' from_pretrained loads it), trainer_state.json (the log history
that `python -m rlhf_core import trl output` brings back into the studio) and processes/rank-<i>.json
(one per process that took part).
"""

{stdlib}from pathlib import Path

{imports}
HERE = Path(__file__).resolve().parent
ALGO = {algo!r}
MODEL_ID = os.environ.get("MODEL_ID", {model_id!r})
{reward_consts}# the studio's {studio_config} under TRL's names (comments: the studio's field)
STUDIO_SETTINGS = dict(
{{CONFIG}}
)
# the studio's LoRA settings (peft.LoraConfig; Hu et al. 2021); None = full fine-tuning, every weight trains
LORA = {lora!r}
SAVE_MERGED = {save_merged!r}  # LoRA: save output/final with the adapter folded into the weights
{helpers}

def peft_config():
    """LORA as peft's LoraConfig for the trainer (None: full fine-tuning)."""
    if not LORA:
        return None
    from peft import LoraConfig

    return LoraConfig(**LORA)

def training_args(config_class):
    """TRL's config: the studio's settings, then what the command line changes, on the hardware found.

    bf16 only where the GPU has it (Ampere or newer). Without a GPU, or with --cpu, every process runs
    on the CPU and accelerate joins them with gloo instead of NCCL.
    """
    argv = [arg for arg in sys.argv[1:] if arg != "--cpu"]  # the rest: TRL fields (--max_steps 2, ...)
    accelerate_cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")  # `accelerate launch --cpu`
    cpu = "--cpu" in sys.argv[1:] or accelerate_cpu or not torch.cuda.is_available()
    parser = HfArgumentParser(config_class)
    parser.set_defaults(output_dir=str(HERE / "output"), **STUDIO_SETTINGS,
                        use_cpu=cpu, bf16=not cpu and torch.cuda.is_bf16_supported())
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    return args


def record_process(trainer, output):
    """Each process writes output/processes/rank-<i>.json: proof that it took part, and where it ran."""
    accelerator = trainer.accelerator
    record = {{"algo": ALGO, "model_id": MODEL_ID, "rank": accelerator.process_index,
              "world_size": accelerator.num_processes, "distributed_type": str(accelerator.distributed_type),
              "device": str(accelerator.device), "mixed_precision": str(accelerator.mixed_precision),
              "global_step": trainer.state.global_step}}
    folder = output / "processes"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"rank-{{accelerator.process_index}}.json").write_text(json.dumps(record, indent=2) + "\\n")


def main():
    # 1. TRL's config: the studio's settings, command-line changes, the hardware found
    args = training_args({config})
    # 2. the exported data, in TRL's column names (the main process prepares it, the others reuse its cache)
    with args.main_process_first():
        dataset = load_dataset("json", data_files=str(HERE / "{data_file}"), split="train")
'''.replace("{data_file}", DATA_FILE)

_IMPORTS = {  # third-party imports of each train.py shape, in isort order
    "model": "import torch\nfrom datasets import load_dataset\nfrom transformers import HfArgumentParser\n"
             "from trl import {config}, {trainer}\n",
    "reward_model": "import torch\nfrom datasets import load_dataset\n"
                    "from transformers import AutoModelForSequenceClassification, AutoTokenizer, HfArgumentParser\n"
                    "from trl import {config}, {trainer}\n",
}
_IMPORTS["reward_function"] = (_IMPORTS["reward_model"] + "\n# the studio's fact checks, bundled next to this file "
                               "(rlhf_core/: pure Python and numpy)\n"
                               "from rlhf_core.reward.checks import fact_checks_version, headline_with_checks\n")

_REWARD_CONSTS = '''# the reward model: a folder or hub id (override with the REWARD_MODEL environment variable)
REWARD_MODEL = os.environ.get("REWARD_MODEL", {reward_model})
REWARD_MAX_LENGTH = {max_length}
'''

_HELPERS = {
    "model": "",
    "reward_model": '''

def encode_pairs(tokenizer, max_length):
    """Tokenise as RLHF Studio does: [CLS] article [SEP] headline [SEP], cutting the article (the longer
    text) rather than dropping the pair, which TRL does to pairs longer than max_length."""
    def encode(example):
        chosen = tokenizer(example["prompt"], example["chosen"], truncation="longest_first", max_length=max_length)
        rejected = tokenizer(example["prompt"], example["rejected"], truncation="longest_first", max_length=max_length)
        return {"chosen_ids": chosen["input_ids"], "rejected_ids": rejected["input_ids"]}
    return encode
''',
    "reward_function": '''

def headline_of(completion):
    """The headline in a completion: its first non-empty line (chat completions are message lists)."""
    text = completion[-1]["content"] if isinstance(completion, list) else completion
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].strip('"') if lines else ""


def make_reward_function(path, device):
    """sigmoid(r(article, headline)) in (0, 1) from a sequence-classification model with one logit,
    the reward RLHF Studio's RewardScorer gives."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).to(device).eval()
    # the studio trains with token_type_ids (headline = segment 1); TRL's RewardTrainer without them
    # (a TRL reward model brought into the studio says so in its metadata: "token_type_ids": false)
    meta_file = Path(path) / "studio_reward.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {"token_type_ids": False}
    segments, checks = meta.get("token_type_ids", True), fact_checks_version(meta)

    @torch.no_grad()
    def reward_model_score(prompts, completions, article, **kwargs):
        headlines = [headline_of(c) for c in completions]
        if checks:  # the studio model reads the headline's fact checks after it, as it was trained to
            headlines = [headline_with_checks(a, h, tokenizer.sep_token, checks) for a, h in zip(article, headlines)]
        batch = tokenizer(list(article), headlines, truncation="longest_first", max_length=REWARD_MAX_LENGTH,
                          padding=True, return_tensors="pt").to(device)
        if not segments:
            batch.pop("token_type_ids", None)
        logits = model(**batch).logits.squeeze(-1)  # (N,)
        return torch.sigmoid(logits.float()).cpu().tolist()

    return reward_model_score
''',
}

_BODIES = {  # train.py's step 3 (and 4), per shape; {note} is the algorithm's own comment (TRLExport.note)
    "model": '''    # 3. {note}
    trainer = {trainer}(model=MODEL_ID, args=args, train_dataset=dataset, peft_config=peft_config())
''',
    "reward_model": '''        # 3. an encoder with a one-logit head; pairs tokenised the studio's way (margin column kept)
        tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
        if tokenizer.pad_token is None:  # decoder backbones have no padding token
            tokenizer.pad_token = tokenizer.eos_token
        dataset = dataset.map(encode_pairs(tokenizer, args.max_length), remove_columns=["prompt", "chosen", "rejected"])
    model = AutoModelForSequenceClassification.from_pretrained(MODEL_ID, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    # 4. {note}
    trainer = {trainer}(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
''',
    "reward_function": '''    # 3. each process scores its completions with its own copy of the reward model
    reward_function = make_reward_function(REWARD_MODEL, args.device)
    # 4. {note}
    trainer = {trainer}(model=MODEL_ID, reward_funcs=reward_function, args=args, train_dataset=dataset,
                        peft_config=peft_config())
''',
}

_FOOTER = '''    trainer.train()
    # last: the model and TRL's log history (written by the main process), and one record per process
    output = Path(args.output_dir)
    if LORA and SAVE_MERGED:  # one plain transformers model (else: the adapter, which peft loads on MODEL_ID)
        if trainer.accelerator.is_main_process:
            trainer.model.merge_and_unload().save_pretrained(str(output / "final"))
            trainer.processing_class.save_pretrained(str(output / "final"))
    else:
        trainer.save_model(str(output / "final"))
    trainer.save_state()  # output/trainer_state.json
    record_process(trainer, output)


if __name__ == "__main__":
    main()
'''

_ACCELERATE_HEAD = """\
# {launch}
# {what}
# num_processes is a placeholder: give the number of GPUs at launch (--num_processes N, or here).
# Mixed precision is left to train.py: bf16 where the GPU supports it, fp32 elsewhere (its --bf16 / --fp16 override).
# Several machines: see README.md (--num_machines, --machine_rank, --main_process_ip, --main_process_port).
"""
_ACCELERATE_TAIL = """\
machine_rank: 0
main_training_function: main
mixed_precision: 'no'
num_machines: 1
num_processes: 2
rdzv_backend: static
same_network: true
use_cpu: false
"""
ACCELERATE_CONFIGS = {  # file name -> contents: plain DDP, then DeepSpeed ZeRO-2 and ZeRO-3
    "accelerate_config.yaml": _ACCELERATE_HEAD.format(
        launch="accelerate launch --config_file accelerate_config.yaml --num_processes <GPUs> train.py",
        what="Data-parallel (DDP) training: one process per GPU, each with a full copy of the model. Also runs "
             "on CPU:\n# add --cpu after train.py (README.md).") + """\
compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
downcast_bf16: 'no'
gpu_ids: all
""" + _ACCELERATE_TAIL,
    "accelerate_zero2.yaml": _ACCELERATE_HEAD.format(
        launch="accelerate launch --config_file accelerate_zero2.yaml --num_processes <GPUs> train.py   "
               "(pip install deepspeed)",
        what="DeepSpeed ZeRO stage 2: optimizer states and gradients sharded over the GPUs, each keeps the full "
             "weights\n# (Rajbhandari et al. 2020). For models whose AdamW state does not fit next to them on "
             "one GPU.") + """\
compute_environment: LOCAL_MACHINE
deepspeed_config:
  deepspeed_multinode_launcher: standard
  offload_optimizer_device: none
  offload_param_device: none
  zero3_init_flag: false
  zero_stage: 2
distributed_type: DEEPSPEED
downcast_bf16: 'no'
""" + _ACCELERATE_TAIL,
    "accelerate_zero3.yaml": _ACCELERATE_HEAD.format(
        launch="accelerate launch --config_file accelerate_zero3.yaml --num_processes <GPUs> train.py   "
               "(pip install deepspeed)",
        what="DeepSpeed ZeRO stage 3: weights sharded too (each GPU holds 1/N of them); for models that do not fit "
             "on one GPU.\n# output/final is gathered into one 16-bit checkpoint (zero3_save_16bit_model).") + """\
compute_environment: LOCAL_MACHINE
deepspeed_config:
  deepspeed_multinode_launcher: standard
  offload_optimizer_device: none
  offload_param_device: none
  zero3_init_flag: true
  zero3_save_16bit_model: true
  zero_stage: 3
distributed_type: DEEPSPEED
downcast_bf16: 'no'
""" + _ACCELERATE_TAIL,
}

REQUIREMENTS = """\
# The cluster side of an RLHF Studio export (checked against trl 1.16, accelerate 1.15, transformers 5.x).
trl>=1.16,<2
accelerate>=1.0
transformers>=5.0
datasets>=3.0
torch
peft>=0.17   # LoRA runs (train.py's LORA setting)
# deepspeed   # only for accelerate_zero2.yaml / accelerate_zero3.yaml (needs CUDA GPUs)
"""

LAUNCH_LINES = (  # (where, command): the README's table of launch commands; CI runs the CPU line
    ("one GPU", "accelerate launch --config_file accelerate_config.yaml --num_processes 1 train.py"),
    ("all GPUs of this machine",
     "accelerate launch --config_file accelerate_config.yaml --num_processes $(nvidia-smi -L | wc -l) train.py"),
    ("CPU, several processes (no GPU needed)",
     "accelerate launch --config_file accelerate_config.yaml --num_processes 2 train.py --cpu"),
    ("DeepSpeed ZeRO-2 (pip install deepspeed)",
     "accelerate launch --config_file accelerate_zero2.yaml --num_processes $(nvidia-smi -L | wc -l) train.py"),
    ("DeepSpeed ZeRO-3 (pip install deepspeed)",
     "accelerate launch --config_file accelerate_zero3.yaml --num_processes $(nvidia-smi -L | wc -l) train.py"),
)
LAUNCH, CPU_LAUNCH = LAUNCH_LINES[1][1], LAUNCH_LINES[2][1]  # many GPUs; CPU


def render_readme(algo: str, model_id: str, kwargs: dict, rows: int, style: str, reward_path: str,
                  lora: dict | None = None, save_merged: bool = False) -> str:
    trainer, config = TRL_CLASSES[algo]
    export = EXPORTS[algo]
    reward_function = export.shape == "reward_function"
    # the algorithm's own difference, if any, wrapped as the template's other bullets
    extra = "\n" + textwrap.fill(export.readme, 112, initial_indent="- ", subsequent_indent="  ") if export.readme else ""
    tuning = "full fine-tuning (every weight trains)"
    if lora:
        tuning = (f"LoRA as in the studio (`LORA` in train.py: r {lora['r']}, alpha {lora['lora_alpha']}, dropout "
                  f"{lora['lora_dropout']}, targets {lora['target_modules']!r}; needs `peft`), `output/final/` "
                  + ("merged into the weights" if save_merged else f"an adapter that peft loads on top of `{model_id}`"))
    table = "\n".join(f"| `{k}` | `{v!r}` | {_studio_name(algo, k)} |" for k, v in kwargs.items())
    launches = "\n".join(f"# {where}\n{command}" for where, command in LAUNCH_LINES)
    grpo = ""
    if reward_function:
        where = (f"`{reward_path}`" if reward_path else
                 f"not included: put a reward model folder at `{REWARD_DIR}/` or set `REWARD_MODEL`")
        grpo = (f"\nThe reward is sigmoid(logit) of a one-logit sequence-classification model on (article, "
                f"headline) pairs; reward model: {where}. A studio *quick* reward model cannot be used "
                "(plain transformers cannot load its linear head). A studio model's fact checks are read with the "
                "studio's own code, bundled in `rlhf_core/` (pure Python and numpy).\n")
    return f"""# RLHF Studio export: {TITLES[algo]} with TRL's {trainer}

{rows} training rows in `{DATA_FILE}` (prompt style: {style}), starting model `{model_id}`, {tuning}.

## Run it

```bash
pip install -r requirements.txt
{launches}
```

- `--num_processes` is the number of processes in all: one per GPU (a placeholder of 2 sits in the yaml files).
- `--cpu` after `train.py` is train.py's own flag: every process runs on the CPU, joined by gloo; train.py
  also runs on the CPU by itself where there is no GPU. (accelerate's own `--cpu`, before `train.py`,
  starts a single process: accelerate's multi-process CPU mode needs MPI and a host file.)
- bf16 is switched on only where the GPU supports it (Ampere or newer: A100, H100, RTX 30xx and later);
  elsewhere training runs in fp32. After `train.py`, `--bf16 false` turns it off (`--bf16 false --fp16 true`: fp16).
- Any field of TRL's `{config}` can be changed after `train.py`, e.g. `--max_steps 2
  --per_device_train_batch_size 4 --output_dir /scratch/run1`; `python train.py --help` lists them.
- Other model: `MODEL_ID=... accelerate launch ...`.{' Other reward model: `REWARD_MODEL=...`.' if reward_function else ''}
- DeepSpeed: ZeRO-2 shards optimizer states and gradients (each GPU keeps the full weights); ZeRO-3 shards the
  weights too, for models that do not fit on one GPU. Both need CUDA GPUs and `pip install deepspeed`.
{grpo}
## Several machines

Copy this folder to every machine (same path), then run the same command on each, with its own
`--machine_rank`; all of them reach machine 0 at `--main_process_ip` (its address) and `--main_process_port`
(a free port). `--num_processes` counts the processes on all machines together.

```bash
# machine 0 (address 10.0.0.1), 8 GPUs of 16 in all
accelerate launch --config_file accelerate_config.yaml --num_machines 2 --num_processes 16 \\
    --machine_rank 0 --main_process_ip 10.0.0.1 --main_process_port 29500 train.py
# machine 1
accelerate launch --config_file accelerate_config.yaml --num_machines 2 --num_processes 16 \\
    --machine_rank 1 --main_process_ip 10.0.0.1 --main_process_port 29500 train.py
```

The same flags work with `accelerate_zero2.yaml` / `accelerate_zero3.yaml`. Machine 0 writes `output/final/` and
`output/trainer_state.json`; every process writes `output/processes/rank-<i>.json` on its own machine.

## Bring the results back to the studio

Copy `output/` back (with this folder around it if you can), then:

```bash
python -m rlhf_core import trl path/to/this/folder/output
```

or use *Import a TRL run* on the {'Reward model' if algo == 'reward' else 'Policy'} page. TRL's log history becomes the run's
charts (under the studio's metric names) and `output/final/` becomes a {'reward model' if algo == 'reward' else 'policy'} for
Compare, Evaluate and the Rate queue.

## Settings ({config}, from the studio's config in `studio_config.json`)

| TRL field | value | studio field |
|---|---|---|
{table}

## What differs from training in the studio

- Batch sizes are per process: the global batch is `num_processes` times larger than in the studio.
- TRL has no per-example weights: rows of weight w (expert data: x2) appear round(w) times.
- Long examples: TRL cuts policy examples longer than `max_length` at the end (the headline); the studio
  cuts the article. Raise `max_length` for long articles.
- GRPO and the other algorithms that sample: TRL's `per_device_train_batch_size` counts completions (articles x
  `num_generations`).{extra}

## What was tested

RLHF Studio's CI exports every bundle kind from its sample data with tiny models and runs it as two CPU
processes for 2 steps (`{CPU_LAUNCH} --max_steps 2`), then imports the result. GPUs, DeepSpeed and
several machines were not available to its tests: those launch lines follow TRL's and accelerate's own
examples but are untested by the studio.
"""
