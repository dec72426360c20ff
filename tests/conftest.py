"""Shared fixtures: every test gets its own data directory, and Streamlit caches start empty."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch):
    """Point RLHF_STUDIO_HOME at a fresh folder so no test sees another's runs, datasets or ratings."""
    home = tmp_path / "studio_home"
    monkeypatch.setenv("RLHF_STUDIO_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """st.cache_resource is process-global: clear it so each AppTest starts from nothing."""
    yield
    try:
        import streamlit as st
    except ImportError:
        return
    st.cache_resource.clear()
    st.cache_data.clear()
