"""Saved datasets: validated tables kept under the data directory, plus the shipped sample files.

A saved dataset is a folder `datasets_dir()/<safe-name>/` holding

    data.jsonl   one JSON object per row, the canonical columns of its kind in schema order
    meta.json    name, kind, rows, scale, source, created (UTC), warnings, fingerprint

`fingerprint` is the SHA-256 of data.jsonl's bytes, so two saves of the same content share it
and a file changed by hand is noticed on load. Both files are written atomically, data first:
a folder without meta.json is an unfinished save and is never listed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import time
from pathlib import Path

import pandas as pd

from rlhf_core import paths
from rlhf_core.data.loaders import KINDS, load_file
from rlhf_core.data.schema import COLUMNS, LoadedData
from rlhf_core.errors import DataError

DATA_FILE = "data.jsonl"
META_FILE = "meta.json"
SAMPLE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json")
_NUMERIC = ("score", "score_raw", "margin", "weight")


MAX_NAME = 64  # characters of a dataset name


def prefixed_names(prefix: str, tables: list[str]) -> list[str]:
    """`prefix + table` for each table, within MAX_NAME characters, every table's name whole.

    One prefix for all tables: a prefix too long for the longest table is cut and ends in a hash
    of itself, so names from different long prefixes stay apart ("synth-...-3f2a91c0-train_ratings").
    """
    room = MAX_NAME - max((len(t) for t in tables), default=0)
    if len(prefix) > room:
        prefix = prefix[:max(room - 9, 0)] + hashlib.sha256(prefix.encode()).hexdigest()[:8] + "-"
    return [prefix + table for table in tables]


def safe_name(name: str) -> str:
    """A folder name made from any user text: letters, digits, '.', '_' and '-' only, no path tricks.

    >>> safe_name("../My ratings (v2).csv")
    'my-ratings-v2-.csv'
    """
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", str(name).strip().lower())
    cleaned = re.sub(r"-{2,}", "-", cleaned).lstrip(".-_")[:MAX_NAME].rstrip(".")
    if not cleaned:
        raise DataError(f"'{name}' cannot be a dataset name: use letters or digits")
    return cleaned


def _folder(name: str) -> Path:
    return paths.datasets_dir() / safe_name(name)


def _canonical_bytes(loaded: LoadedData) -> bytes:
    """The rows as JSON lines in schema column order: the saved bytes and the fingerprint's input."""
    if loaded.kind not in KINDS:
        raise DataError(f"unknown dataset kind '{loaded.kind}'")
    columns = COLUMNS[loaded.kind]
    missing = [c for c in columns if c not in loaded.frame.columns]
    if missing:
        raise DataError(f"a {loaded.kind} table needs the columns {', '.join(columns)}; missing {', '.join(missing)}")
    lines = []
    for values in loaded.frame[columns].itertuples(index=False, name=None):
        row = {}
        for column, value in zip(columns, values):
            if column in _NUMERIC:
                value = float(value)
                if not math.isfinite(value):
                    raise DataError(f"cannot save a {column} that is not a finite number", column=column)
            else:
                value = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
            row[column] = value
        lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def save_dataset(name: str, loaded: LoadedData) -> Path:
    """Save a validated table as dataset `name` (replacing one of the same name). Returns its folder."""
    folder = _folder(name)
    if len(loaded.frame) == 0:
        raise DataError("cannot save an empty dataset")
    data = _canonical_bytes(loaded)
    meta = {
        "name": safe_name(name),
        "kind": loaded.kind,
        "rows": int(len(loaded.frame)),
        "scale": list(loaded.scale) if loaded.scale else None,
        "source": loaded.source,
        "warnings": list(loaded.warnings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fingerprint": hashlib.sha256(data).hexdigest(),
        "file": DATA_FILE,
    }
    paths.atomic_write_bytes(folder / DATA_FILE, data)
    paths.atomic_write_json(folder / META_FILE, meta)
    return folder


def list_datasets() -> list[dict]:
    """The meta of every saved dataset, newest first."""
    metas = []
    for folder in paths.datasets_dir().iterdir():
        meta = paths.read_json(folder / META_FILE) if folder.is_dir() else None
        if isinstance(meta, dict) and meta.get("kind") in KINDS:
            metas.append(meta)
    return sorted(metas, key=lambda m: (m.get("created", ""), m.get("name", "")), reverse=True)


def load_dataset(name: str) -> LoadedData:
    """Read a saved dataset back as the LoadedData that was saved (same rows, columns and scale)."""
    folder = _folder(name)
    meta = paths.read_json(folder / META_FILE)
    if not isinstance(meta, dict) or meta.get("kind") not in KINDS:
        raise DataError(f"no saved dataset named '{safe_name(name)}'")
    data = (folder / DATA_FILE).read_bytes() if (folder / DATA_FILE).is_file() else b""
    if hashlib.sha256(data).hexdigest() != meta.get("fingerprint"):
        raise DataError(f"dataset '{meta['name']}' changed on disk after it was saved (fingerprint mismatch): "
                        "delete it and save it again", file=str(folder / DATA_FILE))
    kind = meta["kind"]
    records = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    frame = pd.DataFrame.from_records(records, columns=COLUMNS[kind])
    for column in _NUMERIC:
        if column in frame:
            frame[column] = frame[column].astype(float)
    scale = tuple(meta["scale"]) if meta.get("scale") else None
    return LoadedData(kind=kind, frame=frame, scale=scale, warnings=list(meta.get("warnings", [])),
                      source=meta.get("source", ""))


def delete_dataset(name: str) -> None:
    """Remove a saved dataset's folder."""
    folder = _folder(name)
    if not (folder / META_FILE).is_file() and not folder.is_dir():
        raise DataError(f"no saved dataset named '{safe_name(name)}'")
    shutil.rmtree(folder)


def fingerprint(loaded: LoadedData) -> str:
    """SHA-256 of the table's canonical content (what save_dataset would record)."""
    return hashlib.sha256(_canonical_bytes(loaded)).hexdigest()


# ---------------------------------------------------------------------------------------------
# Sample files shipped in sample_data/ (generated by `python -m rlhf_core data synth ...`)


def list_samples() -> list[str]:
    """File names of the data files in sample_data/, sorted."""
    folder = paths.sample_data_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SAMPLE_SUFFIXES)


def sample_kind(name: str) -> str | None:
    """The kind a sample file is meant as, where its columns alone would say otherwise.

    expert_demonstrations.csv has the seed's text,title,score columns (plus is_expert): by its
    columns it is a ratings file, by its name the SFT demonstrations.
    """
    return "demonstrations" if "demonstration" in name.lower() else None


def load_sample(name: str, kind: str | None = None) -> LoadedData:
    """Load one of `list_samples()` by file name (a path component is refused, not followed)."""
    if Path(name).name != name or name not in list_samples():
        available = ", ".join(list_samples()) or "none (run `python -m rlhf_core data synth ... --out sample_data`)"
        raise DataError(f"no sample file named '{name}'; available: {available}")
    return load_file(paths.sample_data_dir() / name, kind=kind or sample_kind(name))
