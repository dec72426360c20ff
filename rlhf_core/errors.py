"""Errors a user should read: each carries a plain-English message, never a traceback."""

from __future__ import annotations


class StudioError(Exception):
    """Base class for errors shown to the user as they are (pages use st.error, the CLI `error: ...`)."""


class DataError(StudioError):
    """A file was rejected. Names the file and, where known, the line (1-based) and column."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, column: str | None = None):
        self.file, self.line, self.column, self.reason = file, line, column, message
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"line {line}" if line is not None else "",
                f"column '{column}'" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class ModelLoadError(StudioError):
    """A model could not be loaded (missing package, no network for a hub id, bad folder)."""


class ConfigError(StudioError, ValueError):
    """A configuration value is out of range or inconsistent with another."""
