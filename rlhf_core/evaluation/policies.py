"""Which policy is which: specs, the labels the Rate page stores, a checkpoint's start, a run's checkpoints.

A policy is named two ways. Its *spec* is what `load_policy` takes: a preset (`tiny`), a folder
(`studio_data/runs/grpo-.../final`). Its *label* is what the Compare and Rate pages write into the
ratings store next to each headline (`preset: tiny`, `run: grpo-...`), so human stars and A/B votes
find their policy by label. Every trained checkpoint records in `studio_policy.json` the spec of
the policy its run started from: its "own starting point" for KL and the default baseline.
"""

from __future__ import annotations

from pathlib import Path

from rlhf_core import paths
from rlhf_core.errors import StudioError
from rlhf_core.models.registry import is_model_dir
from rlhf_core.policy.run import META_FILE

PRESET_PREFIX, RUN_PREFIX = "preset: ", "run: "


def _presets() -> list[str]:
    from rlhf_core.models.registry import POLICY_PRESETS

    return list(POLICY_PRESETS)


def resolve_spec(spec: str) -> str:
    """A spec `load_policy` understands, from any way a user names a policy.

    Accepts a preset (`tiny`), a label (`preset: tiny`, `run: <id>`, `run: <id>/checkpoint-20`), a
    run id, or a folder (a run folder means its final/ checkpoint). Raises StudioError when a name
    is none of these; a hub id (no such folder, not a preset) passes through for `load_policy` to try.
    """
    text = str(spec or "").strip()
    if not text:
        raise StudioError("A policy spec is empty: name a preset (tiny, smollm2), a run or a folder.")
    if text.startswith(PRESET_PREFIX):
        text = text[len(PRESET_PREFIX):]
    elif text.startswith(RUN_PREFIX):
        run = text[len(RUN_PREFIX):]
        folder = paths.runs_dir() / run
        if ".." in Path(run).parts or not folder.is_dir():
            raise StudioError(f"There is no policy run '{run}' in {paths.runs_dir()}.")
        text = str(folder)
    if text in _presets():
        return text
    folder = Path(text).expanduser()
    if not folder.is_dir() and (paths.runs_dir() / text).is_dir() and "/" not in text:
        folder = paths.runs_dir() / text  # a bare run id
    if folder.is_dir():
        if not is_model_dir(folder) and is_model_dir(folder / "final"):
            folder = folder / "final"
        return str(folder.resolve())
    return text


def label_of(spec: str) -> str:
    """The label the Compare / Rate pages use for a policy: `preset: tiny`, `run: <id>`, `run: <id>/checkpoint-N`."""
    text = str(spec).strip()
    if text in _presets():
        return PRESET_PREFIX + text
    folder = Path(text).expanduser()
    try:
        inside = folder.resolve().relative_to(paths.runs_dir().resolve())
    except (ValueError, OSError):
        return text
    parts = inside.parts
    if len(parts) == 2 and parts[1] == "final":
        return RUN_PREFIX + parts[0]
    return RUN_PREFIX + "/".join(parts) if parts else text


def checkpoint_meta(spec: str) -> dict:
    """The studio metadata of a checkpoint folder ({} for presets, hub ids and foreign folders)."""
    folder = Path(str(spec)).expanduser()
    meta = paths.read_json(folder / META_FILE, default=None) if folder.is_dir() else None
    return meta if isinstance(meta, dict) else {}


def start_of(spec: str) -> str | None:
    """The resolved spec of the policy a checkpoint's run started from (None if not a studio checkpoint)."""
    start = checkpoint_meta(spec).get("policy_spec")
    if not start:
        return None
    try:
        return resolve_spec(str(start))
    except StudioError:
        return str(start)


def run_checkpoints(run: str) -> list[tuple[int, str]]:
    """(step, folder) of every checkpoint of a policy run (checkpoint-N/ and final/), by step.

    `run` is a run folder, a run id, a label `run: <id>`, or one of its checkpoints.
    """
    folder = Path(resolve_spec(run))
    if (folder / META_FILE).is_file():
        folder = folder.parent  # a checkpoint: its run folder
    found: dict[int, str] = {}
    for child in sorted(folder.iterdir()) if folder.is_dir() else []:
        if (child.name == "final" or child.name.startswith("checkpoint-")) and is_model_dir(child):
            step = checkpoint_meta(str(child)).get("step")
            if isinstance(step, int):
                found.setdefault(step, str(child.resolve()))  # final/ repeats the last checkpoint's step
    return sorted(found.items())
