"""The Data page's panels: upload (validate, map columns, preview, save), sample data, synthetic newsroom,
saved datasets (table, preview, charts, delete). The work is rlhf_core.data's; untrusted text is shown
only in dataframes, st.text and escaped markdown."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rlhf_core.data.datasets import (delete_dataset, generate_synthetic, list_datasets, load_dataset, load_samples,
                                     save_dataset, suggest_name, text_lengths)
from rlhf_core.data.loaders import MAX_UPLOAD_BYTES, REQUIRED, USED, load_bytes, read_columns
from rlhf_core.data.schema import DATA_KINDS, KINDS, LoadedData
from rlhf_core.errors import StudioError
from ui import state
from ui.charts import histogram, length_figure
from ui.widgets import md_escape, show_error

SCALES = {"detect": None, "1-5": (1.0, 5.0), "0-1": (0.0, 1.0), "0-10": (0.0, 10.0)}
COLUMN_ERRORS = ("missing column", "kind of data", "the mapping", "both look like")  # open the mapping form for these


@st.cache_resource(max_entries=2, ttl=600, show_spinner="Validating the file...")
def validate_upload(name: str, data: bytes, kind: str | None, mapping: tuple, scale) -> LoadedData:
    """load_bytes, cached per upload and settings so reruns do not parse a large file again (errors are
    not cached). cache_resource keeps the one validated table (read-only here); cache_data would pickle
    it on every store and rerun, holding several copies of a 25 MB upload's table at once."""
    return load_bytes(name, data, kind=kind, mapping=dict(mapping) or None, scale=scale)


def saved(message: str, selected: str) -> None:
    """After a save: a one-shot message and the new dataset shown in the preview (one rerun)."""
    st.session_state[state.DATA_FLASH] = message
    st.session_state[state.DATA_SELECTED] = selected
    st.rerun()


def upload_panel() -> None:
    st.subheader("Upload a file")
    upload = st.file_uploader(
        "CSV, TSV, TXT (`text<TAB>score`) or JSONL", type=["csv", "tsv", "txt", "jsonl", "json"], key=state.UPLOAD,
        max_upload_size=max(1, MAX_UPLOAD_BYTES // (1024 * 1024)),
        help=" ".join(f"{k.name.capitalize()}: {k.expected}." for k in DATA_KINDS.values()))
    kind_col, scale_col = st.columns(2)
    kind = kind_col.selectbox("What the file holds", ["detect", *KINDS], key=state.UPLOAD_KIND)
    scale_name = scale_col.selectbox("Score scale", list(SCALES), key=state.UPLOAD_SCALE,
                                     help="Scores are normalised to [0, 1]; the original is kept as score_raw.")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        columns = read_columns(upload.name, data)
    except StudioError:
        columns = []
    map_kind = kind if kind != "detect" else "ratings"
    mapping = {ours: theirs for ours in USED[map_kind]
               if (theirs := st.session_state.get(f"{state.UPLOAD_MAP_PREFIX}{map_kind}_{ours}", "(auto)")) != "(auto)"}
    loaded, error = None, None
    try:
        loaded = validate_upload(upload.name, data, None if kind == "detect" else kind, tuple(sorted(mapping.items())),
                                 SCALES[scale_name])
    except StudioError as exc:
        error = exc
        show_error(exc, "This file was not imported")
    if len(columns) > 1:
        with st.expander("Column mapping", expanded=error is not None and any(p in str(error) for p in COLUMN_ERRORS)):
            st.caption(f"Which column of your file holds each field of a **{map_kind}** table "
                       f"(required: {', '.join(REQUIRED[map_kind])}). Choose the kind above to map another kind.")
            grid = st.columns(3)
            for i, ours in enumerate(USED[map_kind]):
                grid[i % 3].selectbox(ours, ["(auto)", *columns], key=f"{state.UPLOAD_MAP_PREFIX}{map_kind}_{ours}")
    if loaded is None:
        return
    scale = f", scores on a {loaded.scale[0]:g}-{loaded.scale[1]:g} scale" if loaded.scale else ""
    st.success(f"Valid **{loaded.kind}** table: {len(loaded.frame)} rows{scale}.")
    for warning in loaded.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    preview(loaded.frame.head(200), height=220)
    name = st.text_input("Save as", value=suggest_name(upload.name), key=state.UPLOAD_NAME)
    if st.button("Save dataset", key="save_upload", type="primary", icon=":material/save:"):
        try:
            folder = save_dataset(name, loaded)
        except StudioError as exc:
            show_error(exc)
        else:
            saved(f"Saved dataset {folder.name} ({len(loaded.frame)} rows).", folder.name)


def samples_panel() -> None:
    st.subheader("Sample data")
    st.caption("A synthetic newsroom rated by the `wire_editor` persona: train/test ratings and preference pairs, "
               "expert demonstrations, articles, 2,400 unrated RL prompts and hand-written real-style headlines.")
    if st.button("Load sample data", key="load_sample", type="primary", icon=":material/download:"):
        with st.spinner("Validating and saving the sample files..."):
            names = load_samples()
        saved(f"Loaded {len(names)} sample datasets.", "sample-train_ratings")


def synth_panel() -> None:
    from rlhf_core.data.personas import PERSONAS
    from rlhf_core.data.synth import STYLES

    st.subheader("Synthetic newsroom")
    personas = sorted(PERSONAS)
    persona = st.selectbox("Persona (the hidden gold rater)", personas, key=state.SYNTH_PERSONA,
                           index=personas.index("wire_editor") if "wire_editor" in personas else 0,
                           help="; ".join(f"{k}: {p.description}" for k, p in sorted(PERSONAS.items())))
    n_col, seed_col = st.columns(2)
    n_articles = n_col.number_input("Articles", 10, 2000, 100, step=10, key=state.SYNTH_ARTICLES)
    seed = seed_col.number_input("Seed", 0, 1_000_000, 0, key=state.SYNTH_SEED)
    exclude = st.multiselect("Leave out styles (a reward-model blind spot)", STYLES, key=state.SYNTH_EXCLUDE,
                             help="Headlines of these styles are not rated. A reward model trained without, say, "
                                  "`truncated` and `repetitive` ratings has never seen degenerate text: train a policy "
                                  "against it with β = 0 and watch the proxy reward rise while the gold score falls.")
    if st.button("Generate synthetic data", key="generate_synth", icon=":material/auto_awesome:"):
        with st.spinner("Writing articles and rating candidate headlines..."):
            names = generate_synthetic(persona, int(n_articles), int(seed), tuple(exclude))
        saved(f"Generated {len(names)} datasets: {', '.join(names)}.",
              next((n for n in names if n.endswith("train_ratings")), names[0]))


def preview(frame: pd.DataFrame, height: int) -> None:
    """A table with the short columns first (articles are long)."""
    long = [c for c in ("article", "prompt") if c in frame]
    st.dataframe(frame, hide_index=True, height=height, column_order=[c for c in frame.columns if c not in long] + long)


def saved_datasets() -> None:
    """The saved datasets' table, one previewed with its score and length charts, and a guarded delete."""
    metas = list_datasets()
    if not metas:
        st.info("No dataset yet. Click **Load sample data** (fastest), generate a synthetic newsroom, or upload a file.")
        return
    table = pd.DataFrame(metas)
    if "scale" in table:
        table["scale"] = [f"{s[0]:g}-{s[1]:g}" if isinstance(s, list) and len(s) == 2 else "" for s in table["scale"]]
    st.dataframe(table[[c for c in ("name", "kind", "rows", "scale", "persona", "source", "created") if c in table]],
                 hide_index=True, height=min(300, 38 + 35 * len(table)))
    names = [m["name"] for m in metas]
    if st.session_state.get(state.DATA_SELECTED) not in names:
        st.session_state[state.DATA_SELECTED] = names[0]
    selected = st.selectbox("Preview", names, key=state.DATA_SELECTED)
    try:
        dataset = load_dataset(selected)
    except StudioError as exc:
        show_error(exc)
        return
    preview(dataset.frame.head(500), height=260)
    left, right = st.columns(2)
    if dataset.kind == "ratings":
        lo, hi = dataset.scale or (0.0, 1.0)
        left.plotly_chart(histogram(dataset.frame["score_raw"], f"Scores ({lo:g}-{hi:g})", "score"), key="score_hist")
    elif dataset.kind == "preferences":
        left.plotly_chart(histogram(dataset.frame["margin"], "Preference margins", "margin"), key="score_hist")
    if lengths := text_lengths(dataset.frame, dataset.kind):
        right.plotly_chart(length_figure(lengths), key="length_hist")
    with st.expander("Delete this dataset"):
        sure = st.checkbox(f"Yes, delete {selected}", key=state.DELETE_CONFIRM)
        if st.button("Delete", key="delete_dataset", disabled=not sure, icon=":material/delete:"):
            delete_dataset(selected)
            st.session_state[state.DATA_FLASH] = f"Deleted {selected}."
            st.session_state.pop(state.DATA_SELECTED, None)
            st.session_state.pop(state.DELETE_CONFIRM, None)
            st.rerun()
