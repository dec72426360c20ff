"""AppTest of the Evaluate page: it runs the evaluation as a background job, and every number it shows is in the report."""

from __future__ import annotations

import html

from test_app_pages import open_page, run_until, save_small_samples, texts, train_quick_reward, with_tiny  # noqa: F401
from test_evaluation_run import grpo_run


def test_evaluate_page_runs_the_job_and_the_report_holds_every_number_it_shows(with_tiny):  # noqa: F811
    from rlhf_core.evaluation.report import column_format, format_cell
    from rlhf_core.paths import runs_dir
    from rlhf_core.policy.config import SFTConfig
    from rlhf_core.policy.train import train_policy
    from ui.services import ratings_store

    save_small_samples(6)
    from rlhf_core.data.datasets import load_dataset

    reward_run = train_quick_reward()
    grpo_run()
    demos = load_dataset("small-demos").frame
    list(train_policy("sft", SFTConfig(steps=1, lr=1e-3, batch_size=4, sample_every=0, probe_articles=0), "tiny-init",
                      None, demos, runs_dir() / "sft-one"))
    article = load_dataset("sample-test_ratings").frame["article"][0]
    ratings_store().add_vote(article, "Head one", "Head two", "a", rater="ann", source_a="run: grpo-test",
                             source_b="preset: tiny-init")
    ratings_store().add_rating(article, "Head one", 4, rater="ann", source="run: grpo-test")

    at = open_page("pages/evaluate.py")
    assert "Pick policies" in texts(at.info)
    at.multiselect(key="eval_policies").set_value(["run: grpo-test"])
    assert at.selectbox(key="eval_persona").value == "wire_editor"  # the sample data's hidden persona
    assert reward_run in at.selectbox(key="eval_reward").value
    at.selectbox(key="eval_curve").set_value("run: sft-one").run()
    assert "needs at least 2" in texts(at.caption)  # a run saved only final/: the page says so before running
    at.selectbox(key="eval_curve").set_value("run: grpo-test").run()
    at.number_input(key="eval_articles").set_value(3)
    at.number_input(key="eval_samples").set_value(2)
    at.button(key="eval_go").click().run()
    assert not at.exception and not at.error, texts(at.error)
    at = run_until(at, lambda a: any("ROUGE-L" in d.value.columns for d in a.dataframe), timeout=240)
    assert not at.exception and not at.error, texts(at.error)

    (run,) = runs_dir().glob("eval-*")
    report = html.unescape((run / "report.html").read_text())
    shown = [d.value for d in at.dataframe]
    keys = {tuple(frame.columns) for frame in shown}
    assert any("win rate" in k for k in keys) and any("Elo" in k for k in keys) and any("sqrt(KL)" in k for k in keys)
    checked = 0
    for frame in shown:
        for column in frame.columns:
            fmt = column_format(frame, column)
            for value in frame[column]:
                cell = format_cell(value, fmt)
                if cell != "–":
                    assert cell in report, (column, cell)
                    checked += 1
    assert checked > 100
    boxes = [str(e.value) for e in [*at.success, *at.info, *at.error] if "win rate" in str(e.value)]
    sentences = [line.replace("\\", "") for box in boxes for line in box.split("  \n")]  # markdown escapes dropped
    assert len(sentences) >= 3 and all(s in report for s in sentences)  # the verdicts: reward, gold and people
