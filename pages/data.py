"""Data: upload rated headlines, load the sample data or generate a synthetic newsroom; browse what is saved.

Uploads are validated by rlhf_core.data.loaders (a rejected file shows one clear error naming the
line and column, and nothing is saved); the kinds of table and their columns are declared once in
rlhf_core.data.schema.DATA_KINDS. Uploaded text is shown only in dataframes / st.text.
"""

from __future__ import annotations

import streamlit as st

from rlhf_core.data.schema import DATA_KINDS
from ui import state
from ui.data_panels import samples_panel, saved_datasets, synth_panel, upload_panel
from ui.mode import owner_only

# --- inputs / title ---
owner_only()
st.title("Data")
st.caption("RLHF starts from human judgements of model outputs. " +
           " ".join(f"**{k.name.capitalize()}**: {k.description}" for k in DATA_KINDS.values()))
if flash := st.session_state.pop(state.DATA_FLASH, None):
    st.success(flash)

# --- act: upload, sample data, synthetic newsroom (each saves datasets and reruns) ---
upload_col, quick_col = st.columns([3, 2], gap="large")
with upload_col, st.container(border=True):
    upload_panel()
with quick_col:
    with st.container(border=True):
        samples_panel()
    with st.container(border=True):
        synth_panel()

# --- render: saved datasets ---
st.subheader("Saved datasets")
saved_datasets()
