"""Smoke tests of the two real pretrained models shipped as pip packages (one each).

The SmolLM2 test converts the GGUF file to safetensors once in this test's data directory
(~25-35 s on 2 cores), then loads the cached copy, as the app does on its first start.
"""

from __future__ import annotations

import time

import pytest
import torch

from rlhf_core.models import offline, registry
from rlhf_core.models.generation import generate_headlines

ARTICLE = (
    "The Springfield city council voted 7 to 2 on Tuesday to approve a $42 million budget for road repairs, "
    "officials said. Work will begin in March and last two years, according to Mayor Jane Ortiz."
)

pytestmark = pytest.mark.real_model


def test_smollm2_converts_once_loads_fast_and_writes_a_headline():
    folder = offline.smollm2_dir()
    assert (folder / "model.safetensors").is_file() and offline.offline_status()["smollm2_cached"]
    start = time.perf_counter()
    assert offline.smollm2_dir() == folder  # cached: no second conversion
    assert time.perf_counter() - start < 1.0
    bundle = registry.load_policy("smollm2")
    assert type(bundle.model).__name__ == "LlamaForCausalLM" and bundle.prompt_style == "chat"
    assert 130e6 < bundle.info["parameters"] < 140e6
    [[headline]] = generate_headlines(bundle, [ARTICLE], temperature=0.0, n=1, max_new_tokens=24)
    assert headline and "\n" not in headline
    assert any(word in headline.lower() for word in ("springfield", "council", "budget", "road", "$42"))


def test_minilm_is_a_bert_classifier_over_article_headline_pairs():
    model, tokenizer = registry.load_reward_backbone("minilm")
    assert type(model).__name__ == "BertForSequenceClassification" and model.config.num_labels == 1
    enc = tokenizer([ARTICLE], ["Council approves $42 million road budget"], return_tensors="pt", truncation=True)
    assert int(enc["token_type_ids"].sum()) > 0  # the headline is segment B
    model.eval()
    with torch.no_grad():
        logits = model(**enc).logits  # (1, 1)
    assert logits.shape == (1, 1) and torch.isfinite(logits).all()
