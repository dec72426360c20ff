"""Progress of long first-time work (building a preset, converting SmolLM2), for people waiting on it.

The library never prints: it logs to the `rlhf_core.progress` logger. The command line shows these
messages on stderr (its JSON results stay alone on stdout); the app shows the same work as jobs.
"""

from __future__ import annotations

import logging
import time

progress = logging.getLogger("rlhf_core.progress")


def show_on_stderr() -> None:
    """Print progress messages on stderr (the CLI calls this once)."""
    if not any(getattr(h, "_rlhf_progress", False) for h in progress.handlers):
        handler = logging.StreamHandler()  # stderr
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._rlhf_progress = True  # type: ignore[attr-defined]
        progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False


class StepReporter:
    """An `on_step(metrics)` callback that logs 'what: step 100/1200, loss 1.23, 2m10s, ~8m left' now and then."""

    def __init__(self, what: str, every_s: float = 10.0):
        self.what, self.every_s = what, every_s
        self.started = self.last = time.monotonic()

    def __call__(self, metrics: dict) -> None:
        now = time.monotonic()
        step, total = int(metrics.get("step") or 0), int(metrics.get("total_steps") or 0)
        if now - self.last < self.every_s and step != total:
            return
        self.last = now
        elapsed = now - self.started
        left = f", ~{_clock(elapsed / step * (total - step))} left" if step and total else ""
        loss = metrics.get("loss/policy", metrics.get("loss/train"))
        loss_text = f", loss {loss:.3f}" if isinstance(loss, (int, float)) else ""
        progress.info("%s: step %d/%d%s, %s elapsed%s", self.what, step, total, loss_text, _clock(elapsed), left)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
