"""Data: upload rated headlines, load the sample data or generate a synthetic newsroom; browse what is saved.

Uploads are validated by rlhf_core.data.loaders (a rejected file shows one clear error naming the
line and column, and nothing is saved). Uploaded text is shown only in dataframes / st.text.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from rlhf_core.data.datasets import delete_dataset, list_datasets, list_samples, load_dataset, load_sample, prefixed_names, sample_kind, save_dataset, suggest_name
from rlhf_core.data.loaders import KINDS, MAX_UPLOAD_BYTES, REQUIRED, USED, load_bytes, load_file, read_columns
from rlhf_core.data.schema import LoadedData
from rlhf_core.errors import StudioError
from ui import state
from ui.charts import histogram, length_figure
from ui.widgets import md_escape, owner_only, show_error

SCALES = {"detect": None, "1-5": (1.0, 5.0), "0-1": (0.0, 1.0), "0-10": (0.0, 10.0)}
TEXT_COLUMNS = {
    "ratings": ("article", "headline"),
    "preferences": ("prompt", "chosen", "rejected"),
    "demonstrations": ("article", "headline"),
    "articles": ("article", "reference"),
}
SAMPLE_PREFIX = "sample-"
SKIP_SYNTH = {"train_data.txt"}  # the seed's headline-only format duplicates train_ratings.csv


@st.cache_resource(max_entries=2, ttl=600, show_spinner="Validating the file...")
def validate_upload(name: str, data: bytes, kind: str | None, mapping: tuple, scale) -> LoadedData:
    """load_bytes, cached per upload and settings so reruns do not parse a large file again (errors are
    not cached). cache_resource keeps the one validated table (read-only here); cache_data would pickle
    it on every store and rerun, holding several copies of a 25 MB upload's table at once."""
    return load_bytes(name, data, kind=kind, mapping=dict(mapping) or None, scale=scale)


def load_samples() -> list[str]:
    """Save every shipped sample file as a dataset `sample-<stem>`; returns the names."""
    names = []
    for file in list_samples():
        names.append(save_dataset(SAMPLE_PREFIX + Path(file).stem, load_sample(file)).name)
    return names


def generate_synthetic(persona: str, n_articles: int, seed: int, exclude: tuple[str, ...] = ()) -> list[str]:
    """Write a synthetic newsroom to a temporary folder and save each of its tables as a dataset."""
    from rlhf_core.data.synth import write_dataset

    prefix = f"synth-{persona}-{n_articles}-s{seed}-" + ("no-" + "-".join(style[:5] for style in exclude) + "-" if exclude else "")
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted((f, p) for f, p in write_dataset(Path(tmp), persona, n_articles, seed, exclude_styles=exclude).items()
                       if f not in SKIP_SYNTH)
        wanted = prefixed_names(prefix, [Path(f).stem for f, _ in files])  # one prefix, every table's name whole
        return [save_dataset(name, load_file(path, kind=sample_kind(f))).name for name, (f, path) in zip(wanted, files)]


def word_lengths(frame: pd.DataFrame, kind: str) -> dict[str, list[int]]:
    return {col: frame[col].astype(str).str.split().str.len().tolist()
            for col in TEXT_COLUMNS[kind] if col in frame and frame[col].astype(str).str.len().sum()}


# --- inputs / title ---
owner_only()
st.title("Data")
st.caption(
    "RLHF starts from human judgements of model outputs. Here: news articles with headlines rated 1-5 "
    "(the seed's format), preference pairs (prompt, chosen, rejected), expert demonstrations for SFT, "
    "or a plain list of articles."
)
if flash := st.session_state.pop(state.DATA_FLASH, None):
    st.success(flash)

upload_col, quick_col = st.columns([3, 2], gap="large")

# --- upload: validate, map columns, preview, save ---
with upload_col, st.container(border=True):
    st.subheader("Upload a file")
    upload = st.file_uploader(
        "CSV, TSV, TXT (`text<TAB>score`) or JSONL", type=["csv", "tsv", "txt", "jsonl", "json"], key=state.UPLOAD,
        max_upload_size=max(1, MAX_UPLOAD_BYTES // (1024 * 1024)),
        help="Ratings: article, headline, score (or the seed's text, title, score). Preferences: prompt, chosen, "
             "rejected (TRL's names). Demonstrations: article, headline. Articles: article.",
    )
    kind_col, scale_col = st.columns(2)
    kind = kind_col.selectbox("What the file holds", ["detect", *KINDS], key=state.UPLOAD_KIND)
    scale_name = scale_col.selectbox("Score scale", list(SCALES), key=state.UPLOAD_SCALE,
                                     help="Scores are normalised to [0, 1]; the original is kept as score_raw.")
    if upload is not None:
        data = upload.getvalue()
        try:
            columns = read_columns(upload.name, data)
        except StudioError:
            columns = []
        map_kind = kind if kind != "detect" else "ratings"
        mapping = {
            ours: theirs
            for ours in USED[map_kind]
            if (theirs := st.session_state.get(f"{state.UPLOAD_MAP_PREFIX}{map_kind}_{ours}", "(auto)")) != "(auto)"
        }
        loaded, error = None, None
        try:
            loaded = validate_upload(upload.name, data, None if kind == "detect" else kind,
                                     tuple(sorted(mapping.items())), SCALES[scale_name])
        except StudioError as exc:
            error = exc
            show_error(exc, "This file was not imported")
        if columns and len(columns) > 1:
            # open the form when the error is about which column is which, not about a cell's value
            about_columns = error is not None and any(
                phrase in str(error) for phrase in ("missing column", "kind of data", "the mapping", "both look like"))
            with st.expander("Column mapping", expanded=about_columns):
                st.caption(f"Which column of your file holds each field of a **{map_kind}** table "
                           f"(required: {', '.join(REQUIRED[map_kind])}). Choose the kind above to map another kind.")
                grid = st.columns(3)
                for i, ours in enumerate(USED[map_kind]):
                    grid[i % 3].selectbox(ours, ["(auto)", *columns], key=f"{state.UPLOAD_MAP_PREFIX}{map_kind}_{ours}")
        if loaded is not None:
            scale = f", scores on a {loaded.scale[0]:g}-{loaded.scale[1]:g} scale" if loaded.scale else ""
            st.success(f"Valid **{loaded.kind}** table: {len(loaded.frame)} rows{scale}.")
            for warning in loaded.warnings:
                st.warning(md_escape(warning), icon=":material/warning:")
            st.dataframe(loaded.frame.head(200), hide_index=True, height=220,
                         column_order=[c for c in loaded.frame.columns if c not in ("article", "prompt")] +
                         [c for c in ("article", "prompt") if c in loaded.frame])
            name = st.text_input("Save as", value=suggest_name(upload.name), key=state.UPLOAD_NAME)
            if st.button("Save dataset", key="save_upload", type="primary", icon=":material/save:"):
                try:
                    saved = save_dataset(name, loaded)
                except StudioError as exc:
                    show_error(exc)
                else:
                    st.session_state[state.DATA_FLASH] = f"Saved dataset {saved.name} ({len(loaded.frame)} rows)."
                    st.session_state[state.DATA_SELECTED] = saved.name
                    st.rerun()

# --- sample data and synthetic newsroom ---
with quick_col:
    with st.container(border=True):
        st.subheader("Sample data")
        st.caption("A synthetic newsroom rated by the `wire_editor` persona: train/test ratings and preference pairs, "
                   "expert demonstrations, articles, 2,400 unrated RL prompts and hand-written real-style headlines.")
        if st.button("Load sample data", key="load_sample", type="primary", icon=":material/download:"):
            with st.spinner("Validating and saving the sample files..."):
                names = load_samples()
            st.session_state[state.DATA_FLASH] = f"Loaded {len(names)} sample datasets."
            st.session_state[state.DATA_SELECTED] = SAMPLE_PREFIX + "train_ratings"
            st.rerun()
    with st.container(border=True):
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
            st.session_state[state.DATA_FLASH] = f"Generated {len(names)} datasets: {', '.join(names)}."
            st.session_state[state.DATA_SELECTED] = next((n for n in names if n.endswith("train_ratings")), names[0])
            st.rerun()

# --- saved datasets: table, preview, charts, delete ---
st.subheader("Saved datasets")
metas = list_datasets()
if not metas:
    st.info("No dataset yet. Click **Load sample data** (fastest), generate a synthetic newsroom, or upload a file.")
    st.stop()
table = pd.DataFrame(metas)
if "scale" in table:
    table["scale"] = [f"{s[0]:g}-{s[1]:g}" if isinstance(s, list) and len(s) == 2 else "" for s in table["scale"]]
st.dataframe(table[[c for c in ("name", "kind", "rows", "scale", "source", "created") if c in table]],
             hide_index=True, height=min(300, 38 + 35 * len(table)))
names = [m["name"] for m in metas]
if st.session_state.get(state.DATA_SELECTED) not in names:
    st.session_state[state.DATA_SELECTED] = names[0]
selected = st.selectbox("Preview", names, key=state.DATA_SELECTED)
try:
    dataset = load_dataset(selected)
except StudioError as exc:
    show_error(exc)
    st.stop()
frame = dataset.frame
long_first = [c for c in frame.columns if c not in ("article", "prompt")] + [c for c in ("article", "prompt") if c in frame]
st.dataframe(frame.head(500), hide_index=True, height=260, column_order=long_first)  # short columns first
left, right = st.columns(2)
if dataset.kind == "ratings":
    lo, hi = dataset.scale or (0.0, 1.0)
    left.plotly_chart(histogram(frame["score_raw"], f"Scores ({lo:g}-{hi:g})", "score"), key="score_hist")
elif dataset.kind == "preferences":
    left.plotly_chart(histogram(frame["margin"], "Preference margins", "margin"), key="score_hist")
lengths = word_lengths(frame, dataset.kind)
if lengths:
    right.plotly_chart(length_figure(lengths), key="length_hist")
with st.expander("Delete this dataset"):
    sure = st.checkbox(f"Yes, delete {selected}", key=state.DELETE_CONFIRM)
    if st.button("Delete", key="delete_dataset", disabled=not sure, icon=":material/delete:"):
        delete_dataset(selected)
        st.session_state[state.DATA_FLASH] = f"Deleted {selected}."
        st.session_state.pop(state.DATA_SELECTED, None)
        st.session_state.pop(state.DELETE_CONFIRM, None)
        st.rerun()
