"""LoRA: train two small matrices per linear layer instead of every weight (Hu et al. 2021), with peft.

    W' x = W x + (alpha / r) * B A x        A: (r, d_in), B: (d_out, r), B = 0 at the start

Only A and B learn, so the backward pass computes no weight gradients for W, AdamW keeps state for
~1% of the parameters, and the KL reference costs no memory: it is the same model with its adapter
switched off (`reference`). A checkpoint is an adapter folder (adapter_config.json +
adapter_model.safetensors + tokenizer) that plain transformers + peft load on top of the base
model's folder, or, if the run asks for it (`save_merged`), a full model with B A folded into W.

A LoRA run that starts from an adapter checkpoint (GRPO after a LoRA SFT) keeps training that
adapter on the same base, so every checkpoint is "base + one adapter"; its reference is a frozen
second copy of the start adapter (a few MB), switched in for the reference forward.
"""

from __future__ import annotations

import copy
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
    from rlhf_core.policy.train import META_FILE

    meta = paths.read_json(Path(folder) / META_FILE, default={}) or {}
    base = meta.get("lora_base") or (paths.read_json(Path(folder) / ADAPTER_CONFIG, default={}) or {}).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"'{folder}' is a LoRA adapter that does not say which model it adapts (no base_model_name_or_path).")
    return str(base)


def _require_peft():
    try:
        import peft
    except ImportError as exc:
        raise StudioError("LoRA needs the peft package: pip install -r requirements.txt (it pins peft).") from exc
    return peft


def lora_config(cfg, model):
    """peft's LoraConfig from a trainer config's lora_* fields (task: causal LM)."""
    peft = _require_peft()
    targets = cfg.lora_targets if cfg.lora_targets == "all-linear" else [t.strip() for t in cfg.lora_targets.split(",") if t.strip()]
    conv1d = any(type(m).__name__ == "Conv1D" for m in model.modules())  # GPT-2 stores its linear layers transposed
    return peft.LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, fan_in_fan_out=conv1d,
                           target_modules=targets, task_type="CAUSAL_LM", bias="none")


@contextmanager
def _quiet():
    """peft asks transformers a deprecated question (is_gradient_checkpointing): not the user's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")
        yield


def load_adapter_model(folder, device: str = "cpu", trainable: bool = False):
    """(PeftModel over its base, the base's PolicyBundle) for an adapter folder."""
    peft = _require_peft()
    from rlhf_core.models.registry import load_policy

    base = load_policy(adapter_base(folder), device=device, cache=False)
    try:
        with _quiet():
            model = peft.PeftModel.from_pretrained(base.model, str(folder), adapter_name=TRAINED, is_trainable=trainable)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"Could not load the LoRA adapter in '{folder}': {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    return model, base


def merged_policy(folder, device: str = "cpu"):
    """An adapter checkpoint as a plain policy (B A folded into W): what Compare, Evaluate and generation use."""
    model, base = load_adapter_model(folder, device)
    base.model = model.merge_and_unload().eval()
    return base


class LoraPolicy:
    """The trainable policy as peft sees it, and how to reach its reference.

    `model` (the transformers model with LoRA layers inside) is what the trainers call; `peft` is
    the wrapper that saves adapters and switches them; `has_reference_adapter` tells whether the
    reference is the start adapter (a run continuing an adapter) or no adapter at all.
    """

    def __init__(self, peft_model, base_spec: str, has_reference_adapter: bool):
        self.peft = peft_model
        self.model = peft_model.get_base_model()
        self.base_spec = base_spec
        self.has_reference_adapter = has_reference_adapter

    @contextmanager
    def reference(self):
        """The frozen start policy for the KL term: the adapter off, or the start adapter switched in."""
        if self.has_reference_adapter:
            self.peft.set_adapter(REFERENCE, inference_mode=True)
            try:
                yield self.model
            finally:
                self.peft.set_adapter(TRAINED)  # the trained adapter is active and trainable again
        else:
            with self.peft.disable_adapter():
                yield self.model

    def save(self, tmp: Path, merged: bool) -> None:
        """Write the adapter (or the merged full model) into folder `tmp`."""
        if merged:
            copy.deepcopy(self.peft).merge_and_unload().save_pretrained(str(tmp), safe_serialization=True)
        else:
            self.peft.save_pretrained(str(tmp), selected_adapters=[TRAINED], safe_serialization=True)

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def start_lora(cfg, policy_spec: str, resume_from: str, device: str) -> tuple[LoraPolicy, object]:
    """Load the LoRA policy of a run: (LoraPolicy, the base's PolicyBundle with `model` set to the LoRA model).

    - start from a full model: a fresh adapter (B = 0, so the policy equals its start), reference = adapter off;
    - start from an adapter checkpoint: keep training that adapter; reference = a frozen copy of it;
    - resume: the checkpoint's adapter, reference as the run started.
    """
    peft = _require_peft()
    from rlhf_core.models.registry import load_policy

    start_adapter = Path(policy_spec) if is_adapter_dir(policy_spec) else None
    continue_from = Path(resume_from) if resume_from else start_adapter
    if continue_from is not None:
        peft_model, bundle = load_adapter_model(continue_from, device, trainable=True)
        base_spec = adapter_base(continue_from)
    else:
        bundle, base_spec = load_policy(policy_spec, device=device, cache=False), policy_spec
        with _quiet():
            peft_model = peft.get_peft_model(bundle.model, lora_config(cfg, bundle.model), adapter_name=TRAINED)
    if start_adapter is not None:
        with _quiet():
            peft_model.load_adapter(str(start_adapter), adapter_name=REFERENCE, is_trainable=False)
        peft_model.set_adapter(TRAINED)
    policy = LoraPolicy(peft_model, base_spec, start_adapter is not None)
    bundle.model = policy.model
    return policy, bundle
