"""Where RLHF Studio keeps its state, and how it writes files safely.

Everything (datasets, runs, checkpoints, the ratings database, the model cache) lives under one
directory: $RLHF_STUDIO_HOME, default ./studio_data. Files are written atomically (write to a
temporary file in the same folder, fsync, rename) so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any


def studio_home() -> Path:
    """The data directory, created on first use."""
    home = Path(os.environ.get("RLHF_STUDIO_HOME", "studio_data")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _subdir(name: str) -> Path:
    path = studio_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    return _subdir("datasets")


def runs_dir() -> Path:
    return _subdir("runs")


def models_dir() -> Path:
    """Cache of converted / pre-trained models (SmolLM2 as safetensors, tiny presets).

    $RLHF_STUDIO_MODELS moves it out of the data directory, so several data directories (the
    test suite's, say) can share one converted SmolLM2 and one pre-trained tiny policy.
    """
    override = os.environ.get("RLHF_STUDIO_MODELS")
    if override:
        path = Path(override).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return _subdir("models")


def db_path() -> Path:
    """The SQLite ratings database."""
    return studio_home() / "ratings.sqlite3"


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def sample_data_dir() -> Path:
    return repo_root() / "sample_data"


def new_run_id(prefix: str) -> str:
    """A sortable, unique run id such as `reward-20261127-101530-3fa2`."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file 0600; give it the permissions a plain open() would (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def replace_dir(built: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Move a fully written folder `built` into place as `target`, replacing an older one.

    Writers build checkpoints in a temporary sibling folder and call this last, so a reader (or a
    crash) sees the old folder or the complete new one: the old folder is renamed aside first
    (rename cannot replace a non-empty directory), the new one renamed in, then the old one deleted.
    """
    import secrets
    import shutil

    built, target = Path(built), Path(target)
    old = target.with_name(f".{target.name}.old-{secrets.token_hex(3)}")
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return default
