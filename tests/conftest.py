"""Shared fixtures: every test gets its own data directory, and Streamlit caches start empty."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def shared_model_cache(tmp_path_factory):
    """One model cache for the whole session: SmolLM2's conversion and the tiny SFT policy are built once.

    Each test still gets its own data directory (below); only converted/pre-trained weights are shared.
    """
    if "RLHF_STUDIO_MODELS" not in os.environ:
        os.environ["RLHF_STUDIO_MODELS"] = str(tmp_path_factory.mktemp("model_cache"))
    # the app converts SmolLM2 in the background on first start; tests convert it once, where they need it
    os.environ.setdefault("RLHF_STUDIO_AUTO_PREPARE", "0")
    return os.environ["RLHF_STUDIO_MODELS"]


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch):
    """Point RLHF_STUDIO_HOME at a fresh folder so no test sees another's runs, datasets or ratings."""
    home = tmp_path / "studio_home"
    monkeypatch.setenv("RLHF_STUDIO_HOME", str(home))
    return home


@pytest.fixture()
def articles(tmp_path):
    """A small articles file: 12 training and 3 held-out sample articles (policy-training tests)."""
    import pandas as pd

    from rlhf_core import paths

    frame = pd.read_csv(paths.sample_data_dir() / "articles.csv")
    frame = pd.concat([frame[frame.split == "train"].head(12), frame[frame.split == "test"].head(3)])
    path = tmp_path / "articles.csv"
    frame.to_csv(path, index=False)
    return path


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
