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
