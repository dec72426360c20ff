"""KTO (Ethayarajh et al. 2024) from star ratings: the loss on hand-computed tensors and against TRL 1.16's
KTOTrainer formula (written out below, TRL need not be installed), the threshold that splits the ratings,
a 2-step CLI run, the Policy page with ratings collected on the Rate page, and the TRL bundle's rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from rlhf_core import paths
from rlhf_core.cli import main
from rlhf_core.errors import DataError
from rlhf_core.metrics import BOOKKEEPING, glossary
from rlhf_core.policy.kto import KTOConfig, kto_rows, unpaired_examples
from rlhf_core.policy.losses import kto_loss, kto_reference_point

A1 = "The city council approved a $42 million budget on Monday after a long debate about schools and roads."
A2 = "Flu cases in Perilric reached 1,940 this week, the highest level in three years, the hospital said."


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_loss_by_hand():
    # log-ratios r = log pi - log pi_ref: +2 (desirable), -1 (undesirable); z_ref = 0.5; beta = 0.5
    policy, ref = torch.tensor([-3.0, -6.0]), torch.tensor([-5.0, -5.0])
    loss, good, bad = kto_loss(policy, ref, torch.tensor([True, False]), torch.tensor(0.5), beta=0.5,
                               desirable_weight=2.0, undesirable_weight=1.0)
    want = (2.0 * (1 - sigmoid(0.5 * (2 - 0.5))) + 1.0 * (1 - sigmoid(0.5 * (0.5 - -1)))) / 2
    assert loss.item() == pytest.approx(want)
    assert good.tolist() == [1.0] and bad.tolist() == [-0.5]  # beta * r of each group
    # the reference point: the mean log-ratio of mismatched pairs, never below 0, no gradient
    mismatched = torch.tensor([-4.0, -2.0], requires_grad=True)
    assert kto_reference_point(mismatched, torch.tensor([-5.0, -2.0])).item() == 0.5
    assert kto_reference_point(torch.tensor([-6.0]), torch.tensor([-5.0])).item() == 0.0
    assert not kto_reference_point(mismatched, torch.tensor([-5.0, -2.0])).requires_grad


def test_desirable_headlines_are_pushed_up_and_undesirable_down():
    logps = torch.tensor([-3.0, -3.0], requires_grad=True)
    loss, _, _ = kto_loss(logps, torch.tensor([-3.0, -3.0]), torch.tensor([True, False]), torch.tensor(0.0), beta=0.1)
    loss.backward()
    assert logps.grad[0] < 0 < logps.grad[1]  # a gradient step raises the desirable, lowers the undesirable


def trl_kto(policy_logps, ref_logps, labels, kl_logps, ref_kl_logps, beta, desirable_weight, undesirable_weight):
    """TRL 1.16's KTOTrainer._compute_loss (loss_type 'kto'), copied from trl/trainer/kto_trainer.py with the
    multi-process gathering left out."""
    chosen_idx = torch.nonzero(labels, as_tuple=False).view(-1)
    rejected_idx = torch.nonzero(~labels, as_tuple=False).view(-1)
    chosen_logps, rejected_logps = policy_logps.index_select(0, chosen_idx), policy_logps.index_select(0, rejected_idx)
    ref_chosen_logps, ref_rejected_logps = ref_logps.index_select(0, chosen_idx), ref_logps.index_select(0, rejected_idx)
    kl = (kl_logps - ref_kl_logps).mean().detach().clamp(min=0)
    chosen_losses = 1 - F.sigmoid(beta * ((chosen_logps - ref_chosen_logps) - kl))
    rejected_losses = 1 - F.sigmoid(beta * (kl - (rejected_logps - ref_rejected_logps)))
    losses = torch.cat((desirable_weight * chosen_losses, undesirable_weight * rejected_losses), 0)
    return losses.nanmean(), beta * (chosen_logps - ref_chosen_logps), beta * (rejected_logps - ref_rejected_logps)


def test_matches_trls_kto_formula():
    torch.manual_seed(1)
    B = 9
    policy, ref = -torch.rand(B) * 20, -torch.rand(B) * 20
    mismatched, ref_mismatched = -torch.rand(B) * 20, -torch.rand(B) * 22  # a positive mean: z_ref > 0
    labels = torch.rand(B) > 0.4
    want, want_good, want_bad = trl_kto(policy, ref, labels, mismatched, ref_mismatched, 0.1, 1.33, 1.0)
    z = kto_reference_point(mismatched, ref_mismatched)
    loss, good, bad = kto_loss(policy, ref, labels, z, 0.1, 1.33, 1.0)
    assert z.item() > 0 and loss.item() == pytest.approx(want.item(), abs=1e-6)
    assert torch.allclose(good, want_good) and torch.allclose(bad, want_bad)


def _ratings(scores) -> pd.DataFrame:
    return pd.DataFrame({"article": [A1, A1, A2, A2, ""][:len(scores)], "headline": ["a", "b", "c", "d", "e"][:len(scores)],
                         "score": scores, "score_raw": [1 + 4 * s for s in scores], "weight": 1.0, "source": "r"})


def test_ratings_at_or_above_the_threshold_are_desirable():
    articles, headlines, desirable = unpaired_examples(_ratings([0.75, 0.5, 1.0, 0.0, 1.0]), threshold=0.75)
    assert headlines == ["a", "b", "c", "d"]  # no article: left out
    assert desirable.tolist() == [True, False, True, False]  # 4 stars of 5 (0.75) is desirable, 3 stars is not
    prefs = pd.DataFrame({"prompt": [A1], "chosen": ["good"], "rejected": ["bad"], "margin": 0.0, "weight": 1.0, "source": "p"})
    assert unpaired_examples(prefs, 0.75)[2].tolist() == [True, False]  # a pair: chosen desirable, rejected not
    with pytest.raises(DataError, match="KTO needs"):
        unpaired_examples(pd.DataFrame({"article": [A1]}), 0.75)


def test_trl_rows_are_labelled_prompt_completions():
    rows = kto_rows({"ratings": [_ratings([0.9, 0.25])]}, KTOConfig(threshold=0.5), "plain")
    assert rows == [{"prompt": f"Article: {A1}\nHeadline:", "completion": " a", "label": True},
                    {"prompt": f"Article: {A1}\nHeadline:", "completion": " b", "label": False}]


def test_two_steps_from_the_cli(tmp_path, capsys):
    ratings = pd.read_csv(paths.sample_data_dir() / "train_ratings.csv").head(40)
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    code = main(["policy", "train", "--algo", "kto", "--policy", "tiny-init", "--data", str(tmp_path / "ratings.csv"),
                 "--out", str(tmp_path / "run"), "--steps", "2", "--lr", "1e-3", "--sample-every", "2",
                 "--set", "batch_size=4", "--set", "threshold=0.75"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps = lines[:-1]
    assert [s["step"] for s in steps] == [1, 2] and lines[-1]["summary"]["algo"] == "kto"
    for row in steps:
        assert set(row) - set(BOOKKEEPING) <= set(glossary()), set(row) - set(glossary())
        assert row["kto/kl_ref"] >= 0 and 0 <= row["kto/desirable"] <= 1
    assert steps[0]["loss/policy"] == pytest.approx(0.5, abs=1e-4)  # policy = reference: every v = sigmoid(0) = 0.5
    assert "reward/gold_mean" in steps[-1]  # the probes' gold score (probe_rewards)
    assert (tmp_path / "run" / "final" / "config.json").is_file()


def test_policy_page_trains_kto_on_a_dataset_plus_stars_from_the_rate_page():
    from streamlit.testing.v1 import AppTest

    from rlhf_core.data.datasets import load_sample, save_dataset
    from rlhf_core.data.schema import LoadedData
    from rlhf_core.jobs import JobRunner
    from ui.services import ratings_store

    loaded = load_sample("train_ratings.csv")
    small = loaded.frame[loaded.frame["article"].isin(loaded.frame["article"].drop_duplicates().head(4))]
    save_dataset("small-ratings", LoadedData("ratings", small.reset_index(drop=True), loaded.scale), persona="wire_editor")
    ratings_store().add_rating(A1, "Council approves $42M budget", 5, rater="ann")
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60).run()
    at.switch_page("pages/policy.py").run()
    at.radio(key="policy_algo").set_value("KTO").run()
    assert not at.exception and any("z_{ref}" in e.value for e in at.latex)
    at.selectbox(key="policy_spec").set_value("a folder or hub id").run()
    at.text_input(key="policy_dir").set_value("tiny-init").run()  # the form now shows the tiny preset's settings
    at.selectbox(key="policy_data_kto").set_value("small-ratings")
    assert "(1)" in at.checkbox(key="policy_use_votes").label  # one star rating collected so far
    at.checkbox(key="policy_use_votes").check()
    for name, value in (("steps", 2), ("sample_every", 0), ("batch_size", 4)):
        at.number_input(key=f"policy_param_kto_tiny_{name}").set_value(value)  # tiny-init starts from the tiny preset
    assert at.selectbox(key="policy_param_kto_persona").value == "wire_editor"  # from the dataset's meta
    at.button(key="policy_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    runner = JobRunner(paths.runs_dir())
    (run,) = runner.list_runs("kto")
    run = runner.wait(run.id, 180)
    assert run.status == "succeeded", run.error
    assert run.config["with_rate_page_ratings"] is True and run.config["rows"] == len(small) + 1
