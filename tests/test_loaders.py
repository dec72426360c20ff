"""Loaders: every accepted format, every rejection (with file / line / column), every warning."""

from __future__ import annotations

import json

import pytest

from rlhf_core.data import loaders
from rlhf_core.data.loaders import MAX_ARTICLE_CHARS, MAX_HEADLINE_CHARS, load_bytes, load_file, parse_scale, read_columns
from rlhf_core.data.schema import COLUMNS
from rlhf_core.errors import ConfigError, DataError


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def rejected(tmp_path, name: str, content, **kwargs) -> DataError:
    path = write(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        load_file(path, **kwargs)
    error = info.value
    assert error.file == path and path in str(error)
    return error


# ---------------------------------------------------------------------------------------------
# Formats


def test_seed_text_tab_score_lines(tmp_path):
    loaded = load_file(write(tmp_path, "train_data.txt", "Stocks rise on jobs data\t4\r\nRain all week\t2\r\n\r\n"))
    assert loaded.kind == "ratings" and list(loaded.frame.columns) == COLUMNS["ratings"]
    assert loaded.frame["headline"].tolist() == ["Stocks rise on jobs data", "Rain all week"]
    assert loaded.frame["article"].tolist() == ["", ""]
    assert loaded.frame["score"].tolist() == [0.75, 0.25] and loaded.frame["score_raw"].tolist() == [4.0, 2.0]
    assert loaded.scale == (1.0, 5.0) and loaded.frame["source"].iloc[0] == "train_data.txt"
    assert any("no article" in w for w in loaded.warnings)


def test_seed_lines_keep_quotes_and_split_on_last_tab(tmp_path):
    loaded = load_file(write(tmp_path, "t.txt", '"Miracle" cure\tclaims\t1\nPlain one\t5\n'))
    assert loaded.frame["headline"].tolist() == ['"Miracle" cure\tclaims', "Plain one"]


def test_seed_line_without_tab_names_its_line(tmp_path):
    error = rejected(tmp_path, "t.txt", "One\t3\nTwo\t4\nno tab here\n")
    assert error.line == 3 and "no tab" in str(error)


def test_seed_line_bad_score_and_wrong_kind(tmp_path):
    error = rejected(tmp_path, "t.txt", "One\t3\nTwo\tfive\n")
    assert (error.line, error.column) == (2, "score") and "'five' is not a number" in str(error)
    error = rejected(tmp_path, "u.txt", "One\t3\n", kind="preferences")
    assert "text<TAB>score` lines are ratings" in str(error)


def test_crlf_csv_keeps_line_numbers(tmp_path):
    loaded = load_file(write(tmp_path, "w.csv", "text,title,score\r\nA,H,3\r\nB,G,5\r\n"))
    assert loaded.frame["headline"].tolist() == ["H", "G"]
    error = rejected(tmp_path, "x.csv", "text,title,score\r\nA,H,3\r\n\"B\r\nmore\",G,x\r\n")
    assert (error.line, error.column) == (3, "score")


def test_seed_csv_text_title_score(tmp_path):
    content = 'text,title,score\n"An article, with a comma",Headline one,5\n"Multi\nline article",Headline two,1\n'
    loaded = load_file(write(tmp_path, "news_data.csv", content))
    assert loaded.kind == "ratings"
    assert loaded.frame["article"].tolist() == ["An article, with a comma", "Multi\nline article"]
    assert loaded.frame["headline"].tolist() == ["Headline one", "Headline two"]
    assert loaded.frame["score"].tolist() == [1.0, 0.0]
    assert loaded.warnings == []


def test_article_headline_score_and_tsv(tmp_path):
    loaded = load_file(write(tmp_path, "r.tsv", "article\theadline\tscore\nBody A\tHead A\t3\nBody B\tHead \"B\"\t4\n"))
    assert loaded.frame["headline"].tolist() == ["Head A", 'Head "B"']
    assert loaded.frame["score"].tolist() == [0.5, 0.75]


def test_text_score_csv_reads_text_as_headline(tmp_path):
    loaded = load_file(write(tmp_path, "r.csv", "text,score\nShort headline,5\nOther,1\n"))
    assert loaded.frame["headline"].tolist() == ["Short headline", "Other"]
    assert loaded.frame["article"].tolist() == ["", ""]


def test_column_mapping(tmp_path):
    path = write(tmp_path, "r.csv", "Body,Head,Stars,Notes\nA story,A title,2,x\nB story,B title,5,y\n")
    loaded = load_file(path, mapping={"article": "Body", "headline": "head", "score": "Stars"})
    assert loaded.kind == "ratings"
    assert loaded.frame["article"].tolist() == ["A story", "B story"]
    assert loaded.frame["score_raw"].tolist() == [2.0, 5.0]
    assert any("Notes" in w for w in loaded.warnings)


def test_mapping_to_a_missing_column(tmp_path):
    error = rejected(tmp_path, "r.csv", "Body,Head,Stars\nA,B,3\n", mapping={"headline": "Title"})
    assert error.line == 1 and error.column == "Title" and "Body, Head, Stars" in str(error)


def test_mapping_to_an_unknown_target(tmp_path):
    with pytest.raises(ConfigError, match="cannot map to 'stars'"):
        load_file(write(tmp_path, "r.csv", "a,b\n1,2\n"), mapping={"stars": "a"})


def test_jsonl_preferences_with_and_without_margin(tmp_path):
    rows = [{"prompt": "Article one", "chosen": "Good", "rejected": "Bad", "margin": 0.5},
            {"prompt": "Article two", "chosen": "Fine", "rejected": "Worse", "extra": 1}]
    loaded = load_file(write(tmp_path, "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n"))
    assert loaded.kind == "preferences" and list(loaded.frame.columns) == COLUMNS["preferences"]
    assert loaded.frame["margin"].tolist() == [0.5, 0.0] and loaded.frame["weight"].tolist() == [1.0, 1.0]
    assert loaded.scale is None


def test_csv_preferences_with_article_as_prompt(tmp_path):
    loaded = load_file(write(tmp_path, "p.csv", "article,chosen,rejected\nBody,Good,Bad\n"))
    assert loaded.kind == "preferences" and loaded.frame["prompt"].tolist() == ["Body"]


def test_json_list_and_trl_conversational_format(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "Article"}],
             "chosen": [{"role": "assistant", "content": "Good"}],
             "rejected": [{"role": "assistant", "content": "Bad"}]}]
    loaded = load_file(write(tmp_path, "p.json", json.dumps(rows, indent=1)))
    assert loaded.frame[["prompt", "chosen", "rejected"]].values.tolist() == [["Article", "Good", "Bad"]]


def test_json_list_errors_name_the_item_line(tmp_path):
    content = '[\n {"prompt": "a", "chosen": "b", "rejected": "c"},\n {"prompt": "a", "chosen": "x", "rejected": "x"}\n]\n'
    error = rejected(tmp_path, "p.json", content)
    assert error.line == 3 and error.column == "rejected"


def test_demonstrations_detected_and_by_hint(tmp_path):
    loaded = load_file(write(tmp_path, "d.csv", "text,title\nStory,Expert headline\n"))
    assert loaded.kind == "demonstrations" and list(loaded.frame.columns) == COLUMNS["demonstrations"]
    assert loaded.frame.iloc[0][["article", "headline"]].tolist() == ["Story", "Expert headline"]
    hinted = load_file(write(tmp_path, "e.csv", "text,title,score\nStory,Expert headline,5\n"), kind="demonstrations")
    assert hinted.kind == "demonstrations" and any("score" in w for w in hinted.warnings)


def test_expert_flag_and_weight_column(tmp_path):
    content = "text,title,score,is_expert,weight\nA,H1,5,1,\nB,H2,4,0,\nC,H3,3,yes,3.5\nD,H4,2,no,0.5\n"
    loaded = load_file(write(tmp_path, "expert.csv", content))
    assert loaded.frame["weight"].tolist() == [2.0, 1.0, 3.5, 0.5]
    error = rejected(tmp_path, "bad.csv", "text,title,expert\nA,H,maybe\n")
    assert error.line == 2 and error.column == "expert" and "yes/no" in str(error)


def test_articles_lists(tmp_path):
    plain = load_file(write(tmp_path, "a.csv", "article\nOne, with a comma\nTwo\n"))
    assert plain.kind == "articles" and plain.frame["article"].tolist() == ["One, with a comma", "Two"]
    assert plain.frame["reference"].tolist() == ["", ""] and plain.frame["article_id"].str.startswith("a-").all()
    with_ref = load_file(write(tmp_path, "b.csv", "article_id,article,reference\nx1,Body,Ref\n"))
    assert with_ref.frame.iloc[0].tolist() == ["Body", "Ref", "x1"]
    hinted = load_file(write(tmp_path, "c.csv", "text,title\nBody,Ref\n"), kind="articles")
    assert hinted.frame.iloc[0][["article", "reference"]].tolist() == ["Body", "Ref"]
    error = rejected(tmp_path, "d.csv", "article_id,article\nx1,Body one\nx1,Body two\n")
    assert error.line == 3 and error.column == "article_id"


# ---------------------------------------------------------------------------------------------
# Score scales


@pytest.mark.parametrize(
    "scores, scale",
    [([1, 3, 5], (1.0, 5.0)), ([2, 4], (1.0, 5.0)), ([0.1, 0.9], (0.0, 1.0)), ([0, 1], (0.0, 1.0)),
     ([0, 7, 10], (0.0, 10.0)), ([1.5, 4.5], (1.0, 5.0))],
)
def test_scale_detection(tmp_path, scores, scale):
    content = "headline,score\n" + "".join(f"H{i},{s}\n" for i, s in enumerate(scores))
    loaded = load_file(write(tmp_path, "r.csv", content))
    lo, hi = scale
    assert loaded.scale == scale
    assert loaded.frame["score"].tolist() == pytest.approx([(s - lo) / (hi - lo) for s in scores])
    assert loaded.frame["score"].between(0, 1).all()


def test_stated_scale_and_out_of_range(tmp_path):
    loaded = load_file(write(tmp_path, "r.csv", "headline,score\nA,20\nB,80\n"), scale=(0, 100))
    assert loaded.frame["score"].tolist() == [0.2, 0.8] and loaded.scale == (0.0, 100.0)
    error = rejected(tmp_path, "s.csv", "headline,score\nA,1\nB,6\nC,7\n", scale=(1, 5))
    assert error.line == 3 and error.column == "score" and "outside the stated scale 1-5" in str(error)
    assert "1 more problem" in str(error)


def test_scores_fitting_no_known_scale(tmp_path):
    error = rejected(tmp_path, "r.csv", "headline,score\nA,3\nB,42\n")
    assert error.line == 3 and error.column == "score" and "state the scale" in str(error)
    error = rejected(tmp_path, "r2.csv", "headline,score\nA,-1\nB,0.5\n")
    assert error.line == 2


def test_ambiguous_scales_warn(tmp_path):
    same = load_file(write(tmp_path, "r.csv", "headline,score\nA,1\nB,1\n"))
    assert any("every score is 1" in w for w in same.warnings)
    low = load_file(write(tmp_path, "s.csv", "headline,score\nA,0\nB,4\n"))
    assert low.scale == (0.0, 10.0) and any("0-10" in w for w in low.warnings)


def test_parse_scale_and_bad_scales(tmp_path):
    assert parse_scale("1,5") == (1.0, 5.0) and parse_scale("0-10") == (0.0, 10.0) and parse_scale("0..100") == (0.0, 100.0)
    with pytest.raises(ConfigError):
        parse_scale("five")
    with pytest.raises(ConfigError, match="lo < hi"):
        load_file(write(tmp_path, "r.csv", "headline,score\nA,1\n"), scale=(5, 1))
    with pytest.raises(ConfigError, match="unknown kind"):
        load_file(write(tmp_path, "r2.csv", "headline,score\nA,1\n"), kind="votes")


# ---------------------------------------------------------------------------------------------
# Rejections


@pytest.mark.parametrize("content", [b"", b"  \n\n \r\n"])
def test_empty_file(tmp_path, content):
    assert "empty" in str(rejected(tmp_path, "e.csv", content))


def test_header_only(tmp_path):
    error = rejected(tmp_path, "h.csv", "text,title,score\n")
    assert error.line == 1 and "no data rows" in str(error)


def test_missing_columns_says_expected_and_found(tmp_path):
    error = rejected(tmp_path, "m.csv", "article,rating_notes\nA,B\n", kind="ratings")
    message = str(error)
    assert error.line == 1 and error.column == "headline"
    assert "missing column(s) headline, score" in message and "article, headline, score" in message
    assert "found: article, rating_notes" in message


def test_unknown_columns(tmp_path):
    error = rejected(tmp_path, "u.csv", "foo,bar\n1,2\n")
    assert error.line == 1 and "cannot tell what kind" in str(error) and "foo, bar" in str(error)


@pytest.mark.parametrize(
    "cell, words",
    [("good", "'good' is not a number"), ("nan", "NaN"), ("inf", "infinite"), ("-inf", "infinite"), ("", "missing")],
)
def test_bad_scores_name_line_and_column(tmp_path, cell, words):
    error = rejected(tmp_path, "s.csv", f"text,title,score\nA,H,3\nB,G,{cell}\n")
    assert (error.line, error.column) == (3, "score") and words in str(error)
    assert "line 3" in str(error) and "column 'score'" in str(error)


def test_bad_scores_in_json(tmp_path):
    error = rejected(tmp_path, "s.jsonl", '{"headline": "H", "score": 3}\n{"headline": "G", "score": true}\n')
    assert (error.line, error.column) == (2, "score")
    error = rejected(tmp_path, "t.jsonl", '{"headline": "H", "score": 3}\n{"headline": "G", "score": NaN}\n')
    assert error.line == 2 and "NaN" in str(error)


def test_unclosed_quote(tmp_path):
    error = rejected(tmp_path, "q.csv", 'text,title,score\nA,H,3\n"B never closed,G,4\nC,I,5\n')
    assert error.line == 3 and "never closed" in str(error)


def test_stray_quote(tmp_path):
    error = rejected(tmp_path, "q.csv", 'text,title,score\nA,H,3\n"B"x,G,4\n')
    assert error.line == 3 and "broken quoting" in str(error)


def test_unquoted_delimiter_and_missing_field(tmp_path):
    error = rejected(tmp_path, "f.csv", "text,title,score\nA,H,3\nB,Wins, loses,4\n")
    assert error.line == 3 and "expected 3 fields" in str(error) and "unquoted" in str(error)
    error = rejected(tmp_path, "g.csv", "text,title,score\nA,H\n")
    assert (error.line, error.column) == (2, "score")


def test_undecodable_bytes(tmp_path):
    error = rejected(tmp_path, "u.csv", b"text,title,score\nA,B\x81\x8d\x01,3\n")
    assert error.line == 2 and "not valid UTF-8" in str(error) and "character 4" in str(error)


@pytest.mark.parametrize(
    "content, words",
    [(b"text,title\x00,score\n", "binary"), (b"PK\x03\x04\x14\x00\x00\x00", "Excel"),
     ("text,title\nA,B\n".encode("utf-16-le"), "UTF-16")],
)
def test_binary_files(tmp_path, content, words):
    assert words in str(rejected(tmp_path, "b.csv", content))


def test_invalid_json_line(tmp_path):
    error = rejected(tmp_path, "p.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", chosen}\n')
    assert error.line == 2 and "invalid JSON" in str(error)
    error = rejected(tmp_path, "q.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n["a", "b"]\n')
    assert error.line == 2 and "expected a JSON object" in str(error)


def test_duplicate_json_key(tmp_path):
    error = rejected(tmp_path, "p.jsonl", '{"prompt": "a", "chosen": "b", "chosen": "c", "rejected": "d"}\n')
    assert (error.line, error.column) == (1, "chosen") and "twice" in str(error)


def test_empty_strings(tmp_path):
    error = rejected(tmp_path, "e.csv", 'text,title,score\nA,H,3\nB,"  ",4\n')
    assert (error.line, error.column) == (3, "title") and "empty" in str(error)
    error = rejected(tmp_path, "p.jsonl", '{"prompt": "a", "chosen": "", "rejected": "c"}\n')
    assert (error.line, error.column) == (1, "chosen")


def test_identical_chosen_rejected(tmp_path):
    error = rejected(tmp_path, "p.csv", "prompt,chosen,rejected\nA,Same,Other\nB,Same , Same\n")
    assert (error.line, error.column) == (3, "rejected") and "identical" in str(error)


def test_bad_margin_and_weight(tmp_path):
    error = rejected(tmp_path, "p.csv", "prompt,chosen,rejected,margin\nA,X,Y,-1\n")
    assert (error.line, error.column) == (2, "margin") and "negative" in str(error)
    error = rejected(tmp_path, "w.csv", "headline,score,weight\nA,3,0\n")
    assert (error.line, error.column) == (2, "weight") and "positive" in str(error)


def test_duplicate_columns(tmp_path):
    error = rejected(tmp_path, "d.csv", "text,title,score,Score\nA,B,3,4\n")
    assert (error.line, error.column) == (1, "Score") and "twice" in str(error)


def test_two_columns_for_one_role(tmp_path):
    error = rejected(tmp_path, "d.csv", "article,text,headline,score\nA,B,H,3\n")
    assert error.line == 1 and "both look like the article" in str(error)


def test_real_line_numbers_after_multiline_cells_and_blank_lines(tmp_path):
    content = '\ntext,title,score\n"para one\n\npara two",H,3\n\nB,G,oops\n'
    error = rejected(tmp_path, "l.csv", content)
    assert error.line == 7  # blank line 1, header 2, a 3-line cell 3-5, blank 6, bad row 7


def test_nothing_imported_when_the_last_row_is_bad(tmp_path):
    content = "text,title,score\n" + "".join(f"A{i},H{i},3\n" for i in range(500)) + "Z,,3\n"
    error = rejected(tmp_path, "big.csv", content)
    assert error.line == 502 and error.column == "title"


def test_upload_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(DataError, match="the limit is"):
        load_bytes("big.csv", b"headline,score\n" + b"A,1\n" * 50)
    path = write(tmp_path, "big.csv", b"headline,score\n" + b"A,1\n" * 50)
    with pytest.raises(DataError, match="the limit is"):
        load_file(path)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="folder"):
        load_file(tmp_path)


def test_many_problems_report_the_first_and_a_count(tmp_path):
    error = rejected(tmp_path, "m.csv", "text,title,score\nA,,3\nB,G,x\nC,H,y\n")
    assert (error.line, error.column) == (2, "title") and "2 more problem(s)" in str(error)


# ---------------------------------------------------------------------------------------------
# Accepted with a warning


def test_duplicate_rows_are_dropped(tmp_path):
    loaded = load_file(write(tmp_path, "d.csv", "text,title,score\nA,H,3\nB,G,4\nA,H,3\nA,H,5\n"))
    assert len(loaded.frame) == 3
    assert any("removed 1 duplicate" in w and "line 4 repeats line 2" in w for w in loaded.warnings)


def test_long_texts_are_truncated(tmp_path):
    article, headline = "word " * 1200, "H" * 400
    loaded = load_file(write(tmp_path, "l.csv", f"text,title,score\n{article},{headline},3\nB,G,4\n"))
    assert len(loaded.frame["article"].iloc[0]) <= MAX_ARTICLE_CHARS
    assert len(loaded.frame["headline"].iloc[0]) == MAX_HEADLINE_CHARS
    assert any("article" in w and "first on line 2" in w for w in loaded.warnings)
    assert any("headline" in w and "truncated" in w for w in loaded.warnings)


def test_semicolon_with_decimal_comma_and_pipe(tmp_path):
    semi = load_file(write(tmp_path, "s.csv", "article;headline;score\nA, with comma;H;3,5\nB;G;1\n"))
    assert semi.frame["score_raw"].tolist() == [3.5, 1.0] and semi.frame["article"].iloc[0] == "A, with comma"
    assert any("semicolon" in w for w in semi.warnings) and any("decimal comma" in w for w in semi.warnings)
    pipe = load_file(write(tmp_path, "p.txt", "article|headline|score\nA|H|3\n"))
    assert pipe.frame["headline"].tolist() == ["H"] and any("pipe" in w for w in pipe.warnings)


def test_other_encodings(tmp_path):
    bom = load_file(write(tmp_path, "bom.csv", "\ufefftext,title,score\nA,H,3\nB,G,5\n".encode("utf-8")))
    assert bom.frame["article"].tolist() == ["A", "B"] and bom.warnings == []
    utf16 = load_file(write(tmp_path, "u16.csv", "text,title,score\nCafé,Überall,3\n".encode("utf-16")))
    assert utf16.frame["headline"].tolist() == ["Überall"] and any("UTF-16" in w for w in utf16.warnings)
    cp1252 = load_file(write(tmp_path, "win.csv", "text,title,score\nCafé “quoted”,Naïve,3\n".encode("cp1252")))
    assert cp1252.frame["article"].tolist() == ["Café “quoted”"]
    assert any("not UTF-8" in w for w in cp1252.warnings)


def test_spreadsheet_quirks(tmp_path):
    content = ",text,title,score\n0,A,H,3,,\n,,,\n1,B,G,4\n"
    loaded = load_file(write(tmp_path, "x.csv", content))
    assert loaded.frame["article"].tolist() == ["A", "B"]
    assert any("no name" in w for w in loaded.warnings) and any("empty row" in w for w in loaded.warnings)


def test_load_bytes_matches_load_file(tmp_path):
    content = b"text,title,score\nA,H,3\nB,G,5\n"
    from_bytes = load_bytes("upload.csv", content)
    from_file = load_file(write(tmp_path, "upload.csv", content))
    assert from_bytes.frame.equals(from_file.frame) and from_bytes.source == "upload.csv"
    with pytest.raises(DataError) as info:
        load_bytes("bad.csv", b"text,title,score\nA,H,x\n")
    assert info.value.file == "bad.csv" and info.value.line == 2


def test_read_columns():
    assert read_columns("x.csv", b"Body;Head;Stars\na;b;1\n") == ["Body", "Head", "Stars"]
    assert read_columns("x.jsonl", b'{"prompt": 1, "chosen": 2}\n{"rejected": 3}\n') == ["prompt", "chosen", "rejected"]


def test_prefixed_names_keep_every_table_name_whole():
    from rlhf_core.data.datasets import MAX_NAME, prefixed_names

    short = prefixed_names("synth-a-", ["articles", "expert_demonstrations"])
    assert short == ["synth-a-articles", "synth-a-expert_demonstrations"]
    long_prefix = "synth-tabloid_editor-2000-s1000000-no-trunc-repet-vague-click-"
    names = prefixed_names(long_prefix, ["articles", "expert_demonstrations"])
    assert all(len(n) <= MAX_NAME for n in names)
    assert names[0].endswith("-articles") and names[1].endswith("-expert_demonstrations")
    assert names[0][:-len("articles")] == names[1][:-len("expert_demonstrations")]  # one prefix for all tables
    assert prefixed_names(long_prefix + "x", ["articles"]) != prefixed_names(long_prefix, ["articles"])
