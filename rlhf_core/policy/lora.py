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
from contextlib import contextmanager
from pathlib import Path

from rlhf_core.models.adapters import (REFERENCE, TRAINED, adapter_base, attach_adapter, is_adapter_dir, lora_settings, quiet,
                                       require_peft)


def lora_config(cfg, model):
    """peft's LoraConfig from a trainer config's lora_* fields (task: causal LM)."""
    peft = require_peft()
    conv1d = any(type(m).__name__ == "Conv1D" for m in model.modules())  # GPT-2 stores its linear layers transposed
    return peft.LoraConfig(**lora_settings(cfg), fan_in_fan_out=conv1d)


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
    peft = require_peft()
    from rlhf_core.models.registry import load_policy

    start_adapter = Path(policy_spec) if is_adapter_dir(policy_spec) else None
    continue_from = Path(resume_from) if resume_from else start_adapter
    if continue_from is not None:
        base_spec = adapter_base(continue_from)
        bundle = load_policy(base_spec, device=device, cache=False)
        peft_model = attach_adapter(bundle.model, continue_from, trainable=True)
    else:
        bundle, base_spec = load_policy(policy_spec, device=device, cache=False), policy_spec
        with quiet():
            peft_model = peft.get_peft_model(bundle.model, lora_config(cfg, bundle.model), adapter_name=TRAINED)
    if start_adapter is not None:
        with quiet():
            peft_model.load_adapter(str(start_adapter), adapter_name=REFERENCE, is_trainable=False)
        peft_model.set_adapter(TRAINED)
    policy = LoraPolicy(peft_model, base_spec, start_adapter is not None)
    bundle.model = policy.model
    return policy, bundle
