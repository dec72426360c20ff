""""Import a TRL run" on the Policy and Reward model pages: a bundle trained elsewhere comes back.

The widget only asks for the run's output folder and calls `rlhf_core.trl_import.import_trl_run`;
the run then shows up like any other (charts, past runs, Compare, Evaluate, the Rate queue).
"""

from __future__ import annotations

import streamlit as st

from ui import state


def import_trl_expander(page: str, run_key: str) -> None:
    """The expander on the `page` ('policy' | 'reward'); a successful import selects the new run under `run_key`.

    Call it before the page's run picker (the selectbox keyed `run_key`): a widget's state can only be set
    before the widget is drawn.
    """
    from rlhf_core.errors import StudioError
    from ui.widgets import show_error

    with st.expander("Import a TRL run (a bundle trained on a cluster)", icon=":material/cloud_download:"):
        st.caption("Export a bundle (`python -m rlhf_core export trl ...`), train it anywhere with `accelerate launch`, "
                   "copy its `output/` folder back, and give that folder here: its log history becomes this run's "
                   "charts and `output/final/` a model for Compare, Evaluate and the Rate queue.")
        if flash := st.session_state.pop(state.TRL_IMPORT_FLASH, None):
            st.success(flash, icon=":material/check_circle:")
        folder = st.text_input("Output folder of the bundle run", key=f"{state.TRL_IMPORT_DIR}_{page}",
                               placeholder="/path/to/export/dpo/output")
        if st.button("Import", key=f"trl_import_{page}", disabled=not folder.strip(), icon=":material/download:"):
            from rlhf_core.trl_import import import_trl_run

            try:
                with st.spinner("Loading the model and the log history..."):
                    result = import_trl_run(folder.strip())
            except StudioError as exc:
                show_error(exc, "Could not import the run")
                return
            where = "on the Reward model page" if result["kind"] == "reward" else "on the Policy page"
            if (result["kind"] == "reward") == (page == "reward"):
                st.session_state[run_key] = result["run_id"]  # show it (the caller renders this before its run picker)
            st.session_state[state.TRL_IMPORT_FLASH] = (
                f"Imported {result['kind'].upper()} run {result['run_id']} ({result['steps']} steps, "
                f"{result['processes'] or '?'} processes on {result['device']}): it is listed {where}.")
            st.rerun()
