"""The pickers the Policy, Reward, Compare and Evaluate pages share: a policy, a reward model, a gold
persona, a dataset. Each returns what the library takes (a spec, a folder, a name), never a label.
A folder typed in is checked against the studio's allow-list (models.registry.check_model_spec) right
there: a folder outside it is refused with the reason, and the picker returns "" (nothing to start).
"""

from __future__ import annotations

import streamlit as st

from rlhf_core.data.datasets import dataset_persona
from rlhf_core.errors import StudioError
from ui.services import offline_status, reward_dir_of
from ui.widgets import dataset_names, default_pick, finished_runs, show_error

FOLDER = "a folder or hub id"
NONE = "(none)"


def policy_options(kinds: tuple[str, ...]) -> dict[str, str]:
    """Label -> policy spec: the presets, then every finished policy run's final checkpoint, then a folder."""
    from rlhf_core.models.prepare import is_prepared
    from rlhf_core.models.registry import is_model_dir

    built = is_prepared("tiny")
    options = {f"tiny (GPT-2, ~1M params, pre-trained on synthetic news{'' if built else '; pre-trained on first use: a few minutes'})": "tiny"}
    if offline_status().get("smollm2"):
        options["smollm2 (SmolLM2-135M-Instruct)"] = "smollm2"
    for info in finished_runs(kinds):
        if is_model_dir(info.run_dir / "final"):  # a full model or a LoRA adapter
            options[f"run: {info.id}"] = str(info.run_dir / "final")
    options[FOLDER] = FOLDER
    return options


def policy_picker(kinds: tuple[str, ...], key: str, folder_key: str, container=st) -> tuple[str, str]:
    """(spec, short label) of the policy to start from: a preset, a finished run, or a folder / hub id
    ("" for a folder outside the studio's folders)."""
    options = policy_options(kinds)
    label = container.selectbox("Policy to start from", list(options), key=key)
    if options[label] != FOLDER:
        return options[label], label.split(" (")[0]
    spec = folder_input("gpt2-medium", folder_key, "A local checkpoint folder, or a hub id such as the seed's "
                                                   "gpt2-medium (needs network).", container)
    return spec, spec


def folder_input(default: str, key: str, help_text: str | None = None, container=st) -> str:
    """A model folder or hub id typed in; "" (and the reason, shown) for a folder outside the studio's folders."""
    from rlhf_core.models.registry import check_model_spec

    spec = container.text_input("Folder or hub id", default, key=key, help=help_text)
    try:
        return check_model_spec(spec)
    except StudioError as exc:
        show_error(exc, "This folder cannot be used")
        return ""


def reward_options() -> dict[str, str]:
    """Label -> checkpoint folder of every finished reward run, newest first."""
    return {f"run: {info.id} ({info.name})": d for info in finished_runs("reward") if (d := reward_dir_of(info))}


def reward_picker(key: str, needed: bool, help_text: str, container=st) -> str | None:
    """The reward model's folder (None when none is trained; a warning when the caller needs one)."""
    rewards = reward_options()
    label = container.selectbox("Reward model", list(rewards) or ["(none trained yet)"], key=key, disabled=not needed,
                                help=help_text)
    if needed and not rewards:
        container.warning("Train a reward model first (Reward model page).", icon=":material/warning:")
    return rewards.get(label) if needed else None


def persona_picker(label: str, key: str, datasets=(), help_text: str | None = None, container=st) -> str:
    """A gold persona ('' for none); the default is the persona behind the chosen synthetic datasets."""
    from rlhf_core.data.personas import PERSONAS

    options = [NONE, *sorted(PERSONAS)]
    guess = dataset_persona(datasets) or NONE
    picked = container.selectbox(label, options, index=options.index(guess) if guess in options else 0, key=key,
                                 help=help_text)
    return "" if picked == NONE else picked


def dataset_picker(kinds: tuple[str, ...], default: str, key: str, help_text: str, container=st) -> str | None:
    """One saved dataset of these kinds; the default is the sample table `default` (or a synthetic one like it)."""
    options = dataset_names(kinds)
    if not options:
        container.selectbox("Data", ["(no dataset: see the Data page)"], key=key, disabled=True, help=help_text)
        return None
    index = options.index(default_pick(options, (f"sample-{default}",))[0])
    return container.selectbox("Data", options, index=index, key=key, help=help_text)
