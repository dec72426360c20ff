"""PolicyBundle: a policy ready to generate (model, tokenizer, how to prompt it).

Its own module so that code which builds a bundle without loading one by name (the tiny preset's
pretraining, rlhf_core.policy.sft) does not import the model registry, which calls that code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PolicyBundle:
    """A policy ready to generate: the model, its tokenizer and how to prompt it."""

    model: Any
    tokenizer: Any
    prompt_style: str  # "chat" (chat template) or "plain" ("Article: ...\nHeadline:")
    name: str
    spec: str
    device: str = "cpu"
    info: dict = field(default_factory=dict)  # where it came from (folder, parameters)
