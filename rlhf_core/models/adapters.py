"""LoRA adapter folders (peft), as the model registry reads them: is a folder an adapter, which base
does it adapt, and the base model with the adapter attached.

An adapter checkpoint holds adapter_config.json + adapter_model.safetensors + the tokenizer, and no
config.json of its own; plain transformers + peft load it on top of its base model. Training with
LoRA lives in rlhf_core/policy/lora.py; this module loads no model by name (the registry does), so
the registry can read adapters without importing the trainers back.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

from rlhf_core import paths
from rlhf_core.errors import ModelLoadError, StudioError

ADAPTER_CONFIG = "adapter_config.json"
TRAINED, REFERENCE = "default", "reference"  # adapter names inside one PeftModel


def is_adapter_dir(folder) -> bool:
    """A LoRA checkpoint (peft's adapter_config.json, no full config.json of its own)."""
    folder = Path(folder)
    return (folder / ADAPTER_CONFIG).is_file() and not (folder / "config.json").is_file()


def adapter_base(folder) -> str:
    """The policy spec of an adapter's base model: the studio's record ('smollm2', 'tiny-init', a folder),
    else peft's `base_model_name_or_path`."""
    from rlhf_core.policy.run import META_FILE

    meta = paths.read_json(Path(folder) / META_FILE, default={}) or {}
    base = meta.get("lora_base") or (paths.read_json(Path(folder) / ADAPTER_CONFIG, default={}) or {}).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"'{folder}' is a LoRA adapter that does not say which model it adapts (no base_model_name_or_path).")
    return str(base)


def lora_settings(config) -> dict | None:
    """A trainer config's LoRA settings (lora_r, lora_alpha, lora_dropout, lora_targets) as peft.LoraConfig
    keyword arguments, as the studio's trainers and an exported train.py both use them (None: full fine-tuning)."""
    if getattr(config, "lora_r", 0) <= 0:
        return None
    targets = config.lora_targets if config.lora_targets == "all-linear" else [t.strip() for t in config.lora_targets.split(",") if t.strip()]
    return {"r": config.lora_r, "lora_alpha": config.lora_alpha, "lora_dropout": config.lora_dropout,
            "target_modules": targets, "task_type": "CAUSAL_LM", "bias": "none"}


def require_peft():
    try:
        import peft
    except ImportError as exc:
        raise StudioError("LoRA needs the peft package: pip install -r requirements.txt (it pins peft).") from exc
    return peft


@contextmanager
def quiet():
    """peft asks transformers a deprecated question (is_gradient_checkpointing): not the user's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")
        yield


def attach_adapter(base_model, folder, trainable: bool = False):
    """A PeftModel: the adapter in `folder` on `base_model` (the base loaded by the caller)."""
    peft = require_peft()
    try:
        with quiet():
            return peft.PeftModel.from_pretrained(base_model, str(folder), adapter_name=TRAINED, is_trainable=trainable)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"Could not load the LoRA adapter in '{folder}': {str(exc).splitlines()[0] if str(exc) else exc}") from exc
