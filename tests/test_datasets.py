"""Saved datasets (save / list / load / delete round trip, safe names) and the sample-file helpers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlhf_core import paths
from rlhf_core.data.datasets import (delete_dataset, fingerprint, list_datasets, list_samples, load_dataset,
                                     load_sample, safe_name, save_dataset)
from rlhf_core.data.loaders import load_bytes
from rlhf_core.data.schema import LoadedData
from rlhf_core.errors import DataError

RATINGS = "text,title,score\nArticle one,Head one,5\nArticle two,Head two,1\nArticle three,Ünïcode “head”,3\n"
PREFS = '{"prompt": "A", "chosen": "Good", "rejected": "Bad", "margin": 0.25}\n{"prompt": "B", "chosen": "X", "rejected": "Y"}\n'


@pytest.mark.parametrize(
    "raw, expected",
    [("My Ratings", "my-ratings"), ("../../etc/passwd", "etc-passwd"), ("..", None), ("a/b\\c", "a-b-c"),
     ("  .hidden", "hidden"), ("ok_name-1.v2", "ok_name-1.v2"), ("日本", "日本"), ("отзывы", "отзывы"),
     ("Отзывы 2024", "отзывы-2024"), ("評価.csv", "評価.csv"), ("😀", None), ("\u202e..", None),
     ("x" * 100, "x" * 64), ("𠀀" * 64, "𠀀" * 45)],
)
def test_safe_name(raw, expected):
    if expected is None:
        with pytest.raises(DataError):
            safe_name(raw)
    else:
        assert safe_name(raw) == expected
        assert "/" not in safe_name(raw) and not safe_name(raw).startswith(".")


def test_save_list_load_round_trip(studio_home):
    ratings = load_bytes("news.csv", RATINGS.encode())
    prefs = load_bytes("pairs.jsonl", PREFS.encode())
    folder = save_dataset("My ratings", ratings)
    save_dataset("pairs", prefs)
    assert folder == paths.datasets_dir() / "my-ratings" and folder.is_relative_to(studio_home)
    assert sorted(p.name for p in folder.iterdir()) == ["data.jsonl", "meta.json"]

    metas = {m["name"]: m for m in list_datasets()}
    assert set(metas) == {"my-ratings", "pairs"}
    meta = metas["my-ratings"]
    assert (meta["kind"], meta["rows"], meta["scale"], meta["source"]) == ("ratings", 3, [1.0, 5.0], "news.csv")
    assert len(meta["fingerprint"]) == 64 and meta["fingerprint"] == fingerprint(ratings)
    assert meta["created"].endswith("Z")

    again = load_dataset("My ratings")
    assert again.kind == "ratings" and again.scale == (1.0, 5.0) and again.source == "news.csv"
    pd.testing.assert_frame_equal(again.frame, ratings.frame)
    pairs = load_dataset("pairs")
    pd.testing.assert_frame_equal(pairs.frame, prefs.frame)
    assert pairs.scale is None


def test_fingerprint_is_content_only_and_detects_edits():
    a = load_bytes("a.csv", RATINGS.encode())
    b = load_bytes("b.csv", RATINGS.encode())
    assert fingerprint(a) != fingerprint(b)  # `source` (the file name) is part of the rows
    c = load_bytes("a.csv", RATINGS.replace("Head one", "Head 1").encode())
    assert fingerprint(a) != fingerprint(c)
    assert fingerprint(a) == fingerprint(load_bytes("a.csv", RATINGS.encode()))
    folder = save_dataset("edited", a)
    data = folder / "data.jsonl"
    data.write_text(data.read_text(encoding="utf-8").replace("Head two", "Tampered"), encoding="utf-8")
    with pytest.raises(DataError, match="changed on disk"):
        load_dataset("edited")


def test_non_ascii_upload_names_save_and_two_names_for_one_folder_never_overwrite(studio_home):
    from rlhf_core.data.datasets import suggest_name

    ratings, prefs = load_bytes("отзывы.csv", RATINGS.encode()), load_bytes("評価.jsonl", PREFS.encode())
    assert (suggest_name("отзывы.csv"), suggest_name("評価.csv"), suggest_name("😀.csv")) == ("отзывы", "評価", "upload")
    assert save_dataset(suggest_name("отзывы.csv"), ratings).name == "отзывы"
    assert save_dataset(suggest_name("評価.jsonl"), prefs).name == "評価"
    assert load_dataset("отзывы").source == "отзывы.csv" and load_dataset("評価").kind == "preferences"
    # "My Ratings" and "my ratings" clean to the same folder: the second is refused, the first kept
    save_dataset("My Ratings", ratings)
    with pytest.raises(DataError, match="would share the folder 'my-ratings'"):
        save_dataset("my ratings", prefs)
    assert load_dataset("My Ratings").kind == "ratings"
    save_dataset("My Ratings", prefs)  # the same name again replaces, as before
    assert load_dataset("My Ratings").kind == "preferences"
    # one folder swap: nothing but the dataset's two files, no temporary folder left behind
    assert sorted(p.name for p in paths.datasets_dir().iterdir()) == ["my-ratings", "отзывы", "評価"]


def test_resave_replaces_and_delete_removes():
    save_dataset("d", load_bytes("a.csv", RATINGS.encode()))
    save_dataset("d", load_bytes("p.jsonl", PREFS.encode()))
    assert [m["kind"] for m in list_datasets()] == ["preferences"]
    delete_dataset("d")
    assert list_datasets() == []
    with pytest.raises(DataError, match="no saved dataset"):
        load_dataset("d")
    with pytest.raises(DataError, match="no saved dataset"):
        delete_dataset("d")


def test_unfinished_and_foreign_folders_are_not_listed():
    (paths.datasets_dir() / "half").mkdir()
    (paths.datasets_dir() / "half" / "data.jsonl").write_text("{}\n")
    (paths.datasets_dir() / "junk").mkdir()
    (paths.datasets_dir() / "junk" / "meta.json").write_text("not json")
    assert list_datasets() == []


def test_save_refuses_bad_tables():
    with pytest.raises(DataError, match="empty"):
        save_dataset("e", LoadedData("ratings", pd.DataFrame(columns=["article", "headline"])))
    with pytest.raises(DataError, match="missing"):
        save_dataset("m", LoadedData("ratings", pd.DataFrame({"article": ["a"], "headline": ["h"]})))
    frame = load_bytes("a.csv", RATINGS.encode()).frame.assign(score=float("nan"))
    with pytest.raises(DataError, match="finite"):
        save_dataset("n", LoadedData("ratings", frame))
    assert list_datasets() == []


def test_a_rejected_file_leaves_saved_datasets_untouched():
    save_dataset("keep", load_bytes("a.csv", RATINGS.encode()))
    before = (paths.datasets_dir() / "keep" / "data.jsonl").read_bytes()
    with pytest.raises(DataError):
        save_dataset("keep", load_bytes("a.csv", (RATINGS + "Article four,Head four,oops\n").encode()))
    assert (paths.datasets_dir() / "keep" / "data.jsonl").read_bytes() == before
    assert load_dataset("keep").frame.shape[0] == 3


def test_samples_listing_and_loading(tmp_path, monkeypatch):
    folder = tmp_path / "samples"
    folder.mkdir()
    monkeypatch.setattr(paths, "sample_data_dir", lambda: folder)
    assert list_samples() == []
    (folder / "train_data.txt").write_text("Stocks rise\t4\nRain\t2\n")
    (folder / "expert_demonstrations.csv").write_text("text,title,score,is_expert\nA,H,5,1\nB,G,4,1\n")
    (folder / "README.md").write_text("# not data\n")
    assert list_samples() == ["expert_demonstrations.csv", "train_data.txt"]
    assert load_sample("train_data.txt").kind == "ratings"
    expert = load_sample("expert_demonstrations.csv")
    assert expert.kind == "demonstrations" and expert.frame["weight"].tolist() == [2.0, 2.0]
    assert load_sample("expert_demonstrations.csv", kind="ratings").kind == "ratings"
    for bad in ("README.md", "../samples/train_data.txt", "nope.csv"):
        with pytest.raises(DataError, match="no sample file"):
            load_sample(bad)


def test_sample_files_all_load(tmp_path, monkeypatch):
    """Every file in sample_data/ loads as the kind its name says (generated here if the folder is empty)."""
    if not list_samples():
        from rlhf_core.data.synth import write_dataset

        write_dataset(tmp_path / "generated", persona="wire_editor", n_articles=12, seed=3, test_fraction=0.25)
        monkeypatch.setattr(paths, "sample_data_dir", lambda: tmp_path / "generated")
    names = list_samples()
    expected = {"ratings": "ratings", "preferences": "preferences", "demonstrations": "demonstrations",
                "articles": "articles", "train_data": "ratings"}
    assert any(word in name for name in names for word in expected)
    for name in names:
        loaded = load_sample(name)
        assert len(loaded.frame) > 0, name
        for word, kind in expected.items():
            if word in name:
                assert loaded.kind == kind, name
        if loaded.kind == "ratings":
            assert loaded.frame["score"].between(0, 1).all()
        json.dumps(loaded.summary())
