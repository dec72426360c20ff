"""Where RLHF Studio keeps its state, and how it writes files safely.

Everything (datasets, runs, checkpoints, the ratings database, the model cache) lives under one
directory: $RLHF_STUDIO_HOME, default ./studio_data. Files are written atomically (write to a
temporary file in the same folder, fsync, rename) so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
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


def _host_tag() -> str:
    """8 hex digits naming this machine, so a sweep never judges another machine's process ids."""
    import socket
    import zlib

    return f"{zlib.crc32(socket.gethostname().encode('utf-8')):08x}"


def temp_sibling(target: str | os.PathLike) -> Path:
    """A hidden name next to `target` for a file or folder being written: `.NAME.<host>-<pid>-<hex>.tmp`.

    The host and process id in the name let `sweep_leftovers` tell a write still in progress (its
    process lives) from the leftover of a killed one, without guessing from its age.
    """
    target = Path(target)
    return target.with_name(f".{target.name}.{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def make_temp_dir(target: str | os.PathLike) -> Path:
    """Create and return an empty `temp_sibling(target)` folder (permissions as a plain mkdir gives)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temp_sibling(target)
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:  # 32 random bits collided: draw again
            continue


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the new one, never half of it.

    The temporary file is created with mode 0666 and the kernel applies the umask itself, so the
    result has the permissions a plain open() gives. (Reading the umask with os.umask would set it
    for a moment, and a thread creating a file at that moment would get world-writable permissions.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temp_sibling(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
    A crash between the two renames leaves `.NAME.old-...` (the complete old folder) and no
    `NAME`: `sweep_leftovers` puts it back.
    """
    import shutil

    built, target = Path(built), Path(target)
    old = target.with_name(f".{target.name}.old-{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}")
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- leftovers of killed writes
# `.NAME.<host>-<pid>-<hex>.tmp` (temp_sibling), `.NAME.old-<host>-<pid>-<hex>` (replace_dir), and the
# names older versions wrote: `.NAME.<8 chars>.tmp` (tempfile), `.NAME.old-<hex>`, `.NAME.tmp-<hex>`.
_LEFTOVER = re.compile(
    r"^\.(?P<name>.+?)\.(?:"
    r"(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]+\.tmp"
    r"|old-(?P<old_host>[0-9a-f]{8})-(?P<old_pid>\d+)-[0-9a-f]+"
    r"|(?P<legacy>[A-Za-z0-9_]{8}\.tmp|old-[0-9a-f]{6}|tmp-[0-9a-f]{6}))$"
)
LEGACY_GRACE_S = 3600.0  # a leftover whose name carries no process id is swept once it is this old


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def _is_abandoned(match: re.Match, path: Path) -> bool:
    """Was this temporary written by a process that is gone? (Unknown writers: only once it is old.)"""
    host, pid = match["host"] or match["old_host"], match["pid"] or match["old_pid"]
    if host is not None and host == _host_tag():
        return not pid_alive(int(pid))
    try:
        age = time.time() - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > LEGACY_GRACE_S


def sweep_leftovers(home: str | os.PathLike | None = None) -> list[Path]:
    """Delete what killed writes left behind; call once when the app (or a tool) starts.

    Looks in the datasets, the run folders and the model cache for temporary files and folders of
    atomic writes and folder swaps whose writing process is gone: half-written checkpoints
    (`.checkpoint-5.<host>-<pid>-<hex>.tmp`), old folders a swap set aside (`.final.old-...`; put
    back where the crash left no `final/`), half-saved datasets (their temporary folder; and, from
    older versions that saved in place, a dataset folder without meta.json, once an hour old).
    A write still in progress (its process lives, here or in the other server on this data
    folder) is left alone.
    Returns the paths removed or restored.
    """
    import shutil

    root = Path(home).expanduser().resolve() if home is not None else studio_home()
    folders = [root, root / "datasets", root / "models", root / "runs"]
    runs = root / "runs"
    if runs.is_dir():
        folders += [run for run in runs.iterdir() if run.is_dir() and not run.name.startswith(".")]
    if os.environ.get("RLHF_STUDIO_MODELS"):
        folders.append(Path(os.environ["RLHF_STUDIO_MODELS"]).expanduser().resolve())
    swept: list[Path] = []
    for folder in dict.fromkeys(folders):
        try:
            entries = list(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            match = _LEFTOVER.match(entry.name)
            if match is None or not _is_abandoned(match, entry):
                continue
            original = entry.with_name(match["name"])
            is_old = match["old_host"] is not None or (match["legacy"] or "").startswith("old-")
            if is_old and entry.is_dir() and not original.exists():
                os.replace(entry, original)  # the crash came between the two renames: the old one is whole
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            swept.append(entry)
    # an older version saved a dataset's two files in place: a folder without meta.json is half-saved
    datasets = root / "datasets"
    for folder in datasets.iterdir() if datasets.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith(".") and not (folder / "meta.json").exists():
            if time.time() - folder.stat().st_mtime > LEGACY_GRACE_S:
                shutil.rmtree(folder, ignore_errors=True)
                swept.append(folder)
    return swept


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return default
