"""One smoke test on the real SmolLM2-135M-Instruct: a GRPO step runs, moves the weights, saves a loadable checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from rlhf_core import paths

pytestmark = pytest.mark.real_model


def test_grpo_one_step_on_smollm2(tmp_path):
    pytest.importorskip("gguf")
    from rlhf_core.errors import ModelLoadError
    from rlhf_core.policy.config import GenerationConfig, GRPOConfig
    from rlhf_core.policy.train import train_policy

    try:
        from rlhf_core.models.offline import smollm2_dir

        smollm2_dir()
    except ModelLoadError as exc:
        pytest.fail(f"SmolLM2 package missing: {exc}")
    articles = pd.read_csv(paths.sample_data_dir() / "articles.csv").head(4)
    reward = lambda a, h: np.array([len(x) / 100 + sum(map(ord, x)) % 97 / 1000 for x in h])  # noqa: E731  (distinct texts, distinct rewards)
    cfg = GRPOConfig(steps=1, lr=1e-5, prompts_per_step=1, group_size=2, sample_every=1, probe_articles=1,
                     generation=GenerationConfig(max_new_tokens=8, max_prompt_tokens=160))
    gen = train_policy("grpo", cfg, "smollm2", reward, articles, tmp_path / "run")
    metrics = next(gen)
    frame = gen
    while frame.gi_yieldfrom is not None:  # train_policy delegates to train_grpo with `yield from`
        frame = frame.gi_yieldfrom
    model, ref = frame.gi_frame.f_locals["model"], frame.gi_frame.f_locals["ref"]
    name, weight = next((n, p) for n, p in model.named_parameters() if "layers.0.self_attn.q_proj" in n)
    ref_weight = dict(ref.named_parameters())[name]
    list(gen)
    assert metrics["step"] == 1 and math.isfinite(metrics["loss/policy"]) and metrics["completion/length"] >= 1
    assert isinstance(metrics["samples"][0]["headline"], str)
    assert not torch.equal(weight, ref_weight)  # the policy moved, the reference did not
    assert not ref_weight.requires_grad
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()


def test_lora_grpo_step_on_smollm2_trains_only_the_adapter_and_reloads(tmp_path):
    """LoRA on the real model: one GRPO step moves only A and B, and the saved adapter reloads to the same outputs."""
    pytest.importorskip("peft")
    from rlhf_core.models.registry import load_policy
    from rlhf_core.policy.config import GenerationConfig, GRPOConfig
    from rlhf_core.policy.train import train_policy

    articles = pd.read_csv(paths.sample_data_dir() / "articles.csv").head(4)
    reward = lambda a, h: np.array([len(x) / 100 + sum(map(ord, x)) % 97 / 1000 for x in h])  # noqa: E731
    cfg = GRPOConfig(steps=1, lr=1e-3, prompts_per_step=1, group_size=2, sample_every=0, probe_articles=0, lora_r=8,
                     gold_persona="", generation=GenerationConfig(max_new_tokens=8, max_prompt_tokens=160))
    gen = train_policy("grpo", cfg, "smollm2", reward, articles, tmp_path / "run")
    metrics = next(gen)
    frame = gen
    while frame.gi_yieldfrom is not None:
        frame = frame.gi_yieldfrom
    model = frame.gi_frame.f_locals["run"].model
    base = dict(load_policy("smollm2", cache=False).model.named_parameters())
    trained = {n: p for n, p in model.named_parameters() if "layers.0." in n}
    frozen = {n: p for n, p in trained.items() if "lora_" not in n}
    assert frozen and all(torch.equal(p, base[n.replace(".base_layer", "")]) for n, p in frozen.items())
    assert all(not p.requires_grad for p in frozen.values())
    assert any("lora_B" in n and p.abs().sum() > 0 for n, p in trained.items())  # B starts at 0: the adapter moved
    list(gen)
    assert math.isfinite(metrics["loss/policy"]) and metrics["time/generation_s"] > 0
    final = tmp_path / "run" / "final"
    assert (final / "adapter_model.safetensors").stat().st_size < 20e6 and not (final / "model.safetensors").exists()
    ids = torch.tensor([[1, 504, 8486, 67, 1110]])
    with torch.no_grad():
        assert torch.allclose(load_policy(str(final), cache=False).model(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-4)
