"""Saved datasets: validated tables kept under the data directory, plus the shipped sample files.

A saved dataset is a folder `datasets_dir()/<safe-name>/` holding

    data.jsonl   one JSON object per row, the canonical columns of its kind in schema order
    meta.json    name, kind, rows, scale, source, created (UTC), warnings, fingerprint, persona

`persona` names the hidden gold persona that rated a synthetic dataset ('' for real data): the
pages read it from here to log gold scores, never from the dataset's name.

`fingerprint` is the SHA-256 of data.jsonl's bytes, so two saves of the same content share it
and a file changed by hand is noticed on load. A save writes both files into a hidden temporary
folder and swaps it in with one rename, so a reader (or a crash) sees the old dataset or the whole
new one; a killed save leaves only the temporary folder, which `paths.sweep_leftovers` removes.

Names: any text, letters of every script included (`отзывы`, `評価`), cleaned to a folder name by
`safe_name`. Saving under a name replaces the dataset of that same name; a different name that
cleans to the same folder ("My Ratings" after "my-ratings") is refused instead of overwriting it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import unicodedata
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
MAX_NAME_BYTES = 180  # UTF-8 bytes of a folder name (file systems allow 255; temporary names add ~30)


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
    """A folder name made from any user text: letters and digits of any script, '.', '_' and '-'
    only (everything else becomes '-'), lower case, no leading dot, no path tricks.

    >>> safe_name("../My ratings (v2).csv")
    'my-ratings-v2-.csv'
    >>> safe_name("Отзывы 2024")
    'отзывы-2024'
    """
    text = unicodedata.normalize("NFKC", str(name)).strip().casefold()
    kept = "".join(ch if ch.isalnum() or ch in "._-" or unicodedata.category(ch) in ("Mn", "Mc") else "-" for ch in text)
    while "--" in kept:
        kept = kept.replace("--", "-")
    cleaned = kept.lstrip(".-_")[:MAX_NAME]
    while len(cleaned.encode("utf-8")) > MAX_NAME_BYTES:
        cleaned = cleaned[:-1]
    cleaned = cleaned.rstrip(".")
    if not cleaned or not any(ch.isalnum() for ch in cleaned):
        raise DataError(f"'{str(name)[:80]}' cannot be a dataset name: use letters or digits")
    return cleaned


def suggest_name(file_name: str) -> str:
    """A dataset name for an uploaded file: its cleaned stem, or 'upload' when nothing of it is usable."""
    try:
        return safe_name(Path(str(file_name)).stem)
    except DataError:
        return "upload"


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


def save_dataset(name: str, loaded: LoadedData, persona: str = "") -> Path:
    """Save a validated table as dataset `name` (replacing one of the same name) in one folder swap.

    `persona`: the gold persona behind synthetic data (its meta says so; '' for real data). Raises
    DataError when another name already saved there cleans to the same folder. Returns the folder.
    """
    folder = _folder(name)
    label = str(name).strip()
    if len(loaded.frame) == 0:
        raise DataError("cannot save an empty dataset")
    data = _canonical_bytes(loaded)
    meta = {
        "name": safe_name(name),
        "label": label,
        "kind": loaded.kind,
        "rows": int(len(loaded.frame)),
        "scale": list(loaded.scale) if loaded.scale else None,
        "source": loaded.source,
        "warnings": list(loaded.warnings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fingerprint": hashlib.sha256(data).hexdigest(),
        "file": DATA_FILE,
        "persona": persona,
    }
    tmp = paths.make_temp_dir(folder)
    try:
        paths.atomic_write_bytes(tmp / DATA_FILE, data)
        paths.atomic_write_json(tmp / META_FILE, meta)
        _refuse_other_name(folder, label)
        if folder.exists():
            paths.replace_dir(tmp, folder)  # the same name again: the new table replaces the old one
        else:
            try:
                os.rename(tmp, folder)  # fails if another save created the folder meanwhile
            except OSError:
                _refuse_other_name(folder, label)
                paths.replace_dir(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _refuse_other_name(folder: Path, label: str) -> None:
    """DataError if `folder` holds a dataset saved under a different name than `label`."""
    meta = paths.read_json(folder / META_FILE)
    if not isinstance(meta, dict):
        return  # no dataset there (or an unfinished save of an older version): free
    existing = str(meta.get("label") or meta.get("name") or "")
    if existing != label:
        raise DataError(f"'{label}' and the saved dataset '{existing}' would share the folder '{folder.name}': "
                        "choose another name (or delete the saved one first); nothing was overwritten")


def list_datasets() -> list[dict]:
    """The meta of every saved dataset, newest first."""
    metas = []
    for folder in paths.datasets_dir().iterdir():
        if folder.name.startswith("."):
            continue  # a save in progress (or a killed one's leftover)
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


def load_tables(names) -> dict:
    """{kind: concatenated frame} of the named saved datasets, plus "scale": the widest raw score range."""
    frames: dict[str, list] = {}
    scale = None
    for name in names:
        loaded = load_dataset(name)
        frames.setdefault(loaded.kind, []).append(loaded.frame)
        if loaded.scale:
            scale = loaded.scale if scale is None else (min(scale[0], loaded.scale[0]), max(scale[1], loaded.scale[1]))
    tables: dict = {kind: pd.concat(parts, ignore_index=True) for kind, parts in frames.items()}
    tables["scale"] = scale
    return tables


def dataset_persona(names) -> str | None:
    """The gold persona behind the first of these saved datasets that has one (synthetic data), else None."""
    for name in names:
        meta = paths.read_json(_folder(name) / META_FILE) if name else None
        if isinstance(meta, dict) and meta.get("persona"):
            return str(meta["persona"])
    return None


def text_lengths(frame: pd.DataFrame, kind: str) -> dict[str, list[int]]:
    """Words per text of each non-empty text column of a `kind` table (the Data page's length histogram)."""
    from rlhf_core.data.schema import DATA_KINDS

    return {col: frame[col].astype(str).str.split().str.len().tolist()
            for col in DATA_KINDS[kind].text_columns if col in frame and frame[col].astype(str).str.len().sum()}


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


SAMPLE_PREFIX = "sample-"
SAMPLE_PERSONA = "wire_editor"  # sample_data/ is `data synth --persona wire_editor ...` (its README) ...
HAND_WRITTEN = ("realstyle_headlines.csv",)  # ... but for these real-style headlines, rated by hand
SKIP_SYNTH = ("train_data.txt",)  # the seed's headline-only format repeats train_ratings.csv


def load_samples() -> list[str]:
    """Save every shipped sample file as a dataset `sample-<stem>` (with its gold persona); returns the names."""
    return [save_dataset(SAMPLE_PREFIX + Path(file).stem, load_sample(file),
                         persona="" if file in HAND_WRITTEN else SAMPLE_PERSONA).name for file in list_samples()]


def generate_synthetic(persona: str, n_articles: int, seed: int, exclude: tuple[str, ...] = ()) -> list[str]:
    """A synthetic newsroom rated by `persona`, each of its tables saved as a dataset; returns the names.

    `exclude` leaves headline styles out of the ratings: a reward-model blind spot (the hacking demo).
    """
    import tempfile

    from rlhf_core.data.synth import write_dataset

    prefix = f"synth-{persona}-{n_articles}-s{seed}-" + ("no-" + "-".join(style[:5] for style in exclude) + "-" if exclude else "")
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted((f, p) for f, p in write_dataset(Path(tmp), persona, n_articles, seed, exclude_styles=exclude).items()
                       if f not in SKIP_SYNTH)
        wanted = prefixed_names(prefix, [Path(f).stem for f, _ in files])  # one prefix, every table's name whole
        return [save_dataset(name, load_file(path, kind=sample_kind(f)), persona=persona).name
                for name, (f, path) in zip(wanted, files)]


def load_sample(name: str, kind: str | None = None) -> LoadedData:
    """Load one of `list_samples()` by file name (a path component is refused, not followed)."""
    if Path(name).name != name or name not in list_samples():
        available = ", ".join(list_samples()) or "none (run `python -m rlhf_core data synth ... --out sample_data`)"
        raise DataError(f"no sample file named '{name}'; available: {available}")
    return load_file(paths.sample_data_dir() / name, kind=kind or sample_kind(name))
