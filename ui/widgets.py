"""Small renderers shared by the pages: run summaries, the live job panel, safe text tables.

`job_panel(run_id, ...)` is the one place that polls a background job: a fragment re-run every
second draws the progress bar (with ETA), the cancel button and the live charts from the run's
metrics.jsonl. The worker thread never touches Streamlit; this fragment only reads from disk.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import streamlit as st

from rlhf_core.data.datasets import dataset_persona as persona_of  # noqa: F401 - the persona is in the dataset's meta
from rlhf_core.data.datasets import load_tables  # noqa: F401 - pages read datasets through it
from rlhf_core.policy.algorithms import TRAINABLE
from ui import state

LOG = logging.getLogger("rlhf_studio")

ACTIVE = ("queued", "running")
STATUS_ICON = {  # Material icons: they render in markdown labels everywhere (emoji need an emoji font)
    "queued": ":material/hourglass_empty:",
    "running": ":material/directions_run:",
    "succeeded": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
}


def run_get(info: Any, key: str, default: Any = None) -> Any:
    """Read a field of a RunInfo whether it is a dataclass, a named tuple or a dict."""
    if info is None:
        return default
    if isinstance(info, dict):
        return info.get(key, default)
    return getattr(info, key, default)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: Any) -> str:
    """Untrusted text (file names, column names, errors quoting a file) made inert for markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def error_text(exc: BaseException | str) -> str:
    """What a user reads about an error: a StudioError's own sentence; anything else its type and
    first line (the traceback belongs in the server log, not on the page)."""
    from rlhf_core.errors import StudioError

    if isinstance(exc, str):
        return exc
    text = str(exc).strip()
    if isinstance(exc, StudioError):
        return text or type(exc).__name__
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first[:500]}" if first else type(exc).__name__


def show_error(exc: BaseException | str, context: str = "") -> None:
    """The one way an error reaches the page: one line, markdown made inert, never a traceback.

    `context` is our own words ("Could not generate"); the error's text (which may quote a file,
    a path or generated text) always goes through md_escape.
    """
    body = md_escape(error_text(exc))
    st.error(f"**{context}.** {body}" if context else body, icon=":material/error:")


@contextmanager
def guarded(context: str) -> Iterator[None]:
    """Run a page's action; any error becomes show_error(context) and its traceback a server log line.

    st.stop() and st.rerun() pass through (they are BaseExceptions, not errors).
    """
    from rlhf_core.errors import StudioError

    try:
        yield
    except StudioError as exc:
        show_error(exc, context)
    except Exception as exc:  # noqa: BLE001 - the point: no traceback on the page
        LOG.exception("%s", context)
        show_error(exc, context)


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """st.page_link to another page of app.py's navigation. A page run on its own (`streamlit run pages/x.py`,
    AppTest.from_file) knows no other page and st.page_link raises there: the label is shown as text instead."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        st.caption(f"{label}: {page}")


def run_id_of(info: Any) -> str:
    return str(run_get(info, "run_id") or run_get(info, "id") or "")


def run_status(info: Any) -> str:
    return str(run_get(info, "status", "unknown"))


def run_label(info: Any) -> str:
    """A plain-text one-line label (for selectboxes, which show no icons): id, name and status."""
    name = run_get(info, "name")
    status = run_status(info)
    return f"{run_id_of(info)} · {name} · {status}" if name else f"{run_id_of(info)} · {status}"


def list_runs(kind: str | None = None) -> list:
    """Runs of one kind, newest first; [] while the job runner is not available."""
    try:
        from ui.services import job_runner

        runs = list(job_runner().list_runs(kind))
    except ImportError:
        return []
    return runs  # the runner lists newest first


POLICY_KINDS = TRAINABLE  # policy runs use their algorithm as the job kind (rlhf_core.policy.algorithms)


def finished_runs(kind: str | tuple[str, ...]) -> list:
    """Succeeded runs of one kind (or of several: e.g. POLICY_KINDS), newest first."""
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    return [info for info in list_runs() if run_get(info, "kind") in kinds and run_status(info) == "succeeded"]


# --- datasets shared by the Reward, Policy and Evaluate pages ----------------------------------
def dataset_names(kinds: tuple[str, ...]) -> list[str]:
    """Names of saved datasets of these kinds (newest first); [] while the data layer is missing."""
    try:
        from rlhf_core.data.datasets import list_datasets
    except ImportError:
        return []
    return [m["name"] for m in list_datasets() if m.get("kind") in kinds]


def default_pick(options: list[str], preferred: tuple[str, ...]) -> list[str]:
    """For each preferred name: itself if present, else the newest option ending with it minus its
    `sample-` prefix (e.g. a synthetic `synth-...-train_ratings`); else the first option."""
    picked = []
    for name in preferred:
        suffix = name.removeprefix("sample-")
        match = name if name in options else next((o for o in options if o.endswith(suffix)), None)
        if match and match not in picked:
            picked.append(match)
    return picked or options[:1]


def active_runs() -> list:
    return [info for info in list_runs() if run_status(info) in ACTIVE]


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "estimating..."
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_of(info: Any, metrics: list[dict]) -> tuple[float, str]:
    """(fraction done, caption) from the run status and the last metrics row."""
    last = metrics[-1] if metrics else {}
    if last.get("phase") == "embedding" and last.get("embed/total"):
        done, todo = int(last.get("embed/done", 0)), int(last["embed/total"])
        return min(1.0, done / todo) * 0.5, f"embedding texts with the frozen encoder: {done} / {todo}"
    step = run_get(info, "step") or last.get("step") or 0
    total = run_get(info, "total_steps") or last.get("total_steps") or 0
    if not total:
        return 0.0, "starting..."
    frac = min(1.0, float(step) / float(total))
    eta = run_get(info, "eta_s")
    if eta is None and frac > 0:
        elapsed = last.get("time/elapsed_s")
        eta = elapsed * (1 - frac) / frac if elapsed else None
    return frac, f"step {int(step)} / {int(total)} · ETA {format_eta(eta) if frac < 1 else '0 s'}"


def job_panel(kind_label: str, run_id: str, draw: Callable[[list[dict], Any], None]) -> None:
    """Live view of one run: status, progress + ETA, cancel, then `draw(metrics, info)`.

    The caller wraps this in `@st.fragment(run_every=...)` so only this panel reruns each second.
    When the run ends the panel asks for one full rerun so the results section appears.
    """
    from ui.services import job_runner

    runner = job_runner()
    info = runner.status(run_id)
    metrics = [row for row in runner.read_metrics(run_id) if isinstance(row, dict)]
    status = run_status(info)
    head, button = st.columns([5, 1], vertical_alignment="bottom")
    with head:
        frac, caption = progress_of(info, metrics)
        st.progress(frac, text=f"{STATUS_ICON.get(status, '')} {kind_label} {status} · {caption}")
    with button:
        if status in ACTIVE and st.button("Cancel", key=f"{state.CANCEL_PREFIX}{run_id}", icon=":material/stop:"):
            runner.cancel(run_id)
            st.toast("Cancelling: the job stops after its current step.")
    if status == "failed":
        show_error(run_get(info, "error") or "see the run folder for details", "The run failed")
    draw(metrics, info)


def pick_run(runs: list, key: str):
    """A "Show run" selectbox over finished runs (newest selected until the user picks one); returns the RunInfo."""
    by_id = {info.id: info for info in runs}
    if st.session_state.get(key) not in by_id:
        st.session_state[key] = runs[0].id
    chosen = st.selectbox("Show run", list(by_id), key=key, format_func=lambda i: run_label(by_id[i]))
    return by_id[chosen]


def last_metric(metrics: list[dict], key: str) -> float | None:
    """The latest value of a metric key in a run's rows (None if never logged)."""
    for row in reversed(metrics):
        value = row.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None

