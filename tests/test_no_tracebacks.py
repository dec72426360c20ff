"""No traceback reaches a user, every error display goes through one escaping helper, and the
pages' model-folder inputs only read the studio's folders."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rlhf_core import paths
from rlhf_core.errors import ModelLoadError

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120
DEEP_JSON = b'{"prompt": "p", "chosen": ' + b"[" * 50_000 + b"]" * 50_000 + b', "rejected": "r"}\n'
HUGE_INT = b'{"headline": "Council approves plan", "score": ' + b"7" * 5000 + b"}\n"


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def _errors(at) -> str:
    return "\n".join(e.value for e in at.error)


def _policy_run(run_id: str = "grpo-done") -> str:
    """A succeeded policy run holding the tiny-init model (what Compare and Evaluate offer)."""
    from rlhf_core.models.registry import load_policy

    bundle = load_policy("tiny-init")
    final = paths.runs_dir() / run_id / "final"
    bundle.model.save_pretrained(final)
    bundle.tokenizer.save_pretrained(final)
    paths.atomic_write_json(final.parent / "status.json", {"status": "succeeded", "id": run_id, "kind": "grpo"})
    return f"run: {run_id}"


# --- one escaping helper -------------------------------------------------------------------------
def test_every_error_display_goes_through_show_error():
    """st.error appears once in the UI code: inside ui/widgets.show_error, which escapes the text."""
    calls = []
    for file in [*ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py"), ROOT / "app.py"]:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"\bst\.error\(", line):
                calls.append(f"{file.relative_to(ROOT)}:{number}")
    assert len(calls) == 1 and calls[0].startswith("ui/widgets.py"), calls


def test_an_error_quoting_markdown_is_shown_as_text(monkeypatch, studio_home):
    from rlhf_core import compare

    label = _policy_run()

    def broken(*args, **kwargs):
        raise ValueError("**boom** [click here](http://evil.example)")

    monkeypatch.setattr(compare, "compare_grid", broken)
    at = _page("pages/compare.py")
    at.radio(key="cmp_article_source").set_value("Paste an article").run()
    at.text_area(key="cmp_pasted").input("The council voted 7 to 2 on Tuesday.")
    at.multiselect(key="cmp_policies").set_value([label]).run()
    at.button(key="cmp_generate").click().run()
    assert not at.exception, at.exception
    shown = _errors(at)
    assert "Could not generate" in shown and r"\*\*boom\*\*" in shown and r"\[click here\]" in shown
    assert "Traceback" not in shown


# --- the cases the issue names --------------------------------------------------------------------
def test_a_pasted_article_over_the_length_limit(studio_home):
    """The paste box stops at the store's limit (a longer paste is cut, as the browser does), and an
    article over it that reaches the queue anyway (a client sending more) gets a message, not a traceback."""
    from rlhf_core.store import MAX_TEXT_CHARS, RatingsStore

    label = _policy_run()
    long_article = "The council voted 7 to 2 on Tuesday. " * 2000  # 74,000 characters
    at = AppTest.from_file(str(ROOT / "pages/compare.py"), default_timeout=TIMEOUT)
    at.session_state["cmp_article_source"] = "Paste an article"
    at.session_state["cmp_pasted"] = long_article
    at.run()
    assert at.text_area(key="cmp_pasted").max_chars == MAX_TEXT_CHARS
    at.multiselect(key="cmp_policies").set_value([label])
    at.multiselect(key="cmp_temperatures").set_value([0.7]).run()
    at.button(key="cmp_generate").click().run()
    assert not at.exception, at.exception
    assert len(at.session_state["cmp_result"]["article"]) == MAX_TEXT_CHARS
    at.session_state["cmp_result"] = {**at.session_state["cmp_result"], "article": long_article}
    at.button(key="cmp_send").click().run()
    assert not at.exception, at.exception
    assert "Nothing was queued" in _errors(at) and "limit is 50,000" in _errors(at)
    assert RatingsStore().queue_progress("anyone") == (0, 0)


def test_empty_guidelines(studio_home):
    from rlhf_core.store import DEFAULT_GUIDELINES, RatingsStore

    at = _page("pages/rate.py")
    at.text_area(key="rate_guidelines_edit").input("   ").run()
    at.button(key="rate_guidelines_save").click().run()
    assert not at.exception, at.exception
    assert "The guidelines were not saved" in _errors(at)
    assert RatingsStore().get_guidelines() == DEFAULT_GUIDELINES


def test_an_error_during_evaluate(monkeypatch, studio_home):
    from rlhf_core.data.datasets import load_sample, save_dataset
    from rlhf_core.policy import rollout

    save_dataset("sample-test_ratings", load_sample("test_ratings.csv"))
    label = _policy_run()

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB\n  File \"secret.py\", line 1")

    monkeypatch.setattr(rollout, "sample", out_of_memory)  # the evaluation job samples headlines with it
    at = _page("pages/evaluate.py")
    at.multiselect(key="eval_policies").set_value([label])
    at.number_input(key="eval_articles").set_value(2).run()
    at.button(key="eval_go").click().run()
    assert not at.exception, at.exception
    from ui.services import job_runner

    runner = job_runner()
    [run] = runner.list_runs("eval")
    assert runner.wait(run.id, timeout=120).status == "failed"
    at.run()
    assert not at.exception, at.exception
    shown = _errors(at)
    assert "The evaluation stopped" in shown and "CUDA out of memory" in shown and "secret.py" not in shown


@pytest.mark.parametrize("name, data, says", [("deep.jsonl", DEEP_JSON, "nested too deeply"),
                                              ("huge.jsonl", HUGE_INT, "more digits than can be read"),
                                              ("big.jsonl", HUGE_INT.replace(b"7" * 5000, b"7" * 4000), "too large")])
def test_hostile_uploads_show_a_message(studio_home, name, data, says):
    at = _page("pages/data.py")
    at.file_uploader(key="upload").set_value((name, data, "application/jsonl")).run()
    assert not at.exception, at.exception
    assert "This file was not imported" in _errors(at) and says in _errors(at)


def test_hostile_files_in_the_cli_end_in_one_error_line(tmp_path):
    for name, data in (("deep.jsonl", DEEP_JSON), ("huge.jsonl", HUGE_INT),
                       ("deep.json", b"[" * 100_000 + b"]" * 100_000)):
        path = tmp_path / name
        path.write_bytes(data)
        done = subprocess.run([sys.executable, "-m", "rlhf_core", "data", "validate", str(path)], cwd=ROOT,
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                                                   "HOME": str(tmp_path)})
        assert done.returncode == 2 and done.stderr.startswith(f"error: file {path}")
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_non_ascii_upload_names_save(studio_home):
    from rlhf_core.data.datasets import list_datasets

    for name in ("отзывы.csv", "評価.csv"):
        at = _page("pages/data.py")
        at.file_uploader(key="upload").set_value((name, "headline,score\nCouncil approves plan,4\n".encode(), "text/csv")).run()
        assert not at.exception, at.exception
        assert at.text_input(key="upload_name").value == Path(name).stem
        at.button(key="save_upload").click().run()
        assert not at.exception and not at.error, _errors(at)
    assert {m["name"] for m in list_datasets()} == {"отзывы", "評価"}


# --- model folders --------------------------------------------------------------------------------
def test_model_folders_outside_the_studio_are_refused(studio_home, tmp_path, monkeypatch):
    from rlhf_core.models.registry import MODEL_DIRS_ENV, check_model_spec

    inside = paths.runs_dir() / "grpo-1" / "final"
    inside.mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "model"
    outside.mkdir(parents=True)
    (paths.studio_home() / "link").symlink_to(outside)  # a link out of the data folder is still outside
    assert check_model_spec("tiny") == "tiny" and check_model_spec("gpt2-medium") == "gpt2-medium"
    assert check_model_spec(str(inside)) == str(inside)
    for spec in (str(outside), "/etc", "/etc/passwd", "../..", str(paths.studio_home() / "link"), "~"):
        with pytest.raises(ModelLoadError, match=MODEL_DIRS_ENV):
            check_model_spec(spec)
    monkeypatch.setenv(MODEL_DIRS_ENV, str(tmp_path / "elsewhere"))  # the owner lists the folder
    assert check_model_spec(str(outside)) == str(outside)


def test_the_policy_page_refuses_a_folder_outside_the_studio(studio_home):
    from rlhf_core.data.datasets import load_sample, save_dataset
    from ui.services import job_runner

    save_dataset("sample-expert_demonstrations", load_sample("expert_demonstrations.csv"))
    at = _page("pages/policy.py")
    at.radio(key="policy_algo").set_value("SFT").run()
    at.selectbox(key="policy_spec").set_value("a folder or hub id").run()
    at.text_input(key="policy_dir").input("/etc").run()
    assert not at.exception, at.exception
    assert "only loads model folders inside its data folder" in _errors(at)  # said where the folder is typed
    assert at.button(key="policy_start").disabled  # and nothing to start from
    assert not job_runner().list_runs()


def test_the_reward_page_refuses_a_backbone_folder_outside_the_studio(studio_home):
    at = _page("pages/reward.py")
    at.selectbox(key="reward_backbone").set_value("a folder or hub id").run()
    at.text_input(key="reward_backbone_dir").input("/etc").run()
    assert not at.exception, at.exception
    assert "only loads model folders inside its data folder" in _errors(at)
    assert at.button(key="reward_start").disabled
