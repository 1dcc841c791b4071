"""User tasks from the config: the three file formats, and a clear error for every bad file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from taskvectors.cli.bench_validate import write_pairs_file
from taskvectors.cli.main import main
from taskvectors.tasks import (
    Pair,
    TaskDataError,
    TaskDataWarning,
    load_pairs,
    load_registry,
    read_pairs_file,
)
from taskvectors.tasks.prompt_files import validate_task_file
from taskvectors.tasks.prompts import get_template

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
EXPECTED = [Pair("cat", ("cats",)), Pair("mouse", ("mice", "mouses"))]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_json_and_csv_give_the_same_pairs(tmp_path) -> None:
    jsonl = write(
        tmp_path,
        "p.jsonl",
        '{"input": "mouse", "output": ["mice", "mouses"]}\n\n{"input": "cat", "output": "cats"}\n',
    )
    as_list = write(
        tmp_path,
        "list.json",
        json.dumps(
            [{"input": "mouse", "output": ["mice", "mouses"]}, {"input": "cat", "output": "cats"}]
        ),
    )
    as_dict = write(tmp_path, "dict.json", json.dumps({"mouse": ["mice", "mouses"], "cat": "cats"}))
    csv = write(tmp_path, "p.csv", 'input,output\nmouse,mice|mouses\r\n"cat",cats\n')
    for path in (jsonl, as_list, as_dict, csv):
        assert read_pairs_file(path) == EXPECTED, path.name


def test_identical_repeats_are_merged(tmp_path) -> None:
    path = write(tmp_path, "p.jsonl", '{"input": "cat", "output": "cats"}\n' * 2)
    assert read_pairs_file(path) == [Pair("cat", ("cats",))]


JSONL_CASES = [
    (
        '{"input": "cat", "output": "cats"}\n{"input": "dog" "output": "dogs"}\n',
        "line 2",
        "not valid JSON",
    ),
    ('{"input": "cat"}\n', "line 1", "missing key 'output'"),
    ('{"output": "cats"}\n', "line 1", "missing key 'input'"),
    ('["cat", "cats"]\n', "line 1", "expected an object"),
    ('{"input": "cat", "output": 3}\n', "line 1", "output must be a string, got int"),
    ('{"input": 7, "output": "x"}\n', "line 1", "input must be a string, got int"),
    ('{"input": "cat", "output": ["cats", 1]}\n', "line 1", r"output\[1\] must be a string"),
    ('{"input": "", "output": "x"}\n', "line 1", "input is an empty string"),
    ('{"input": "cat", "output": ""}\n', "line 1", "output is an empty string"),
    ('{"input": "cat", "output": []}\n', "line 1", "output is an empty list"),
    ('{"input": "cat ", "output": "cats"}\n', "line 1", "input 'cat ' has surrounding whitespace"),
    (
        '{"input": "cat", "output": " cats"}\n',
        "line 1",
        "output ' cats' has surrounding whitespace",
    ),
    ('{"input": "c\\nat", "output": "cats"}\n', "line 1", "contains a line break"),
    ('{"input": "cat", "output": ["cats", "cats"]}\n', "line 1", "more than once"),
    (
        '{"input": "cat", "output": "cats"}\n\n{"input": "cat", "output": "kittens"}\n',
        "line 3",
        r"duplicate input 'cat' with a different answer .*at line 1",
    ),
]


@pytest.mark.parametrize(("text", "where", "reason"), JSONL_CASES)
def test_bad_jsonl_names_file_line_and_reason(tmp_path, text, where, reason) -> None:
    path = write(tmp_path, "bad.jsonl", text)
    with pytest.raises(TaskDataError, match=reason) as caught:
        read_pairs_file(path)
    assert caught.value.path == str(path) and caught.value.where == where
    assert str(path) in str(caught.value) and where in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (
            '[{"input": "cat", "output": "cats"}, {"input": "dog"}]',
            "entry 2 (index 1)",
            "missing key",
        ),
        (
            '[{"input": "cat", "output": "cats"},\n "dog"]',
            "entry 2 (index 1)",
            "expected an object",
        ),
        ('{"cat": "cats", "dog": ""}', "entry 2 (key 'dog')", "output is an empty string"),
        ('{"cat": "cats", " dog": "dogs"}', "entry 2 (key ' dog')", "surrounding whitespace"),
        ('{"cat": "cats",\n "dog": "dogs",\n}', "line 3", "not valid JSON"),
        ('{"cat": "cats", "cat": "kittens"}', "entry 2 (key 'cat')", "duplicate input 'cat'"),
        ('"cat"', None, "expected a list"),
    ],
)
def test_bad_json_names_file_entry_and_reason(tmp_path, text, where, reason) -> None:
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(TaskDataError, match=reason) as caught:
        read_pairs_file(path)
    assert caught.value.path == str(path) and caught.value.where == where


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("in,out\ncat,cats\n", "line 1", "expected the header 'input,output'"),
        ("input,output\ncat,cats,kittens\n", "line 2", "expected 2 fields"),
        ("input,output\ncat,cats\ndog,\n", "line 3", "output is an empty string"),
        ("input,output\ncat,cats||kittens\n", "line 2", "output is an empty string"),
        ("input,output\ncat,cats\n\ncat,dogs\n", "line 4", "duplicate input 'cat'"),
        ("input,output\n cat,cats\n", "line 2", "surrounding whitespace"),
        ("", None, "the file is empty"),
    ],
)
def test_bad_csv_names_file_line_and_reason(tmp_path, text, where, reason) -> None:
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(TaskDataError, match=reason) as caught:
        read_pairs_file(path)
    assert caught.value.where == where and str(path) in str(caught.value)


def test_unsupported_missing_and_empty_files(tmp_path) -> None:
    with pytest.raises(TaskDataError, match="unsupported file type '.txt'"):
        read_pairs_file(write(tmp_path, "p.txt", "cat cats\n"))
    with pytest.raises(TaskDataError, match="file not found"):
        read_pairs_file(tmp_path / "absent.jsonl")
    with pytest.raises(TaskDataError, match="holds no pairs"):
        read_pairs_file(write(tmp_path, "empty.jsonl", "\n"))


def test_user_task_joins_the_registry_with_defaults(tmp_path) -> None:
    write(tmp_path, "plural.jsonl", '{"input": "cat", "output": "cats"}\n')
    registry = load_registry(DATA_DIR, {"my_plural": {"file": "plural.jsonl"}}, base_dir=tmp_path)
    spec = registry["my_plural"]
    assert list(registry)[-1] == "my_plural"
    assert (spec.family, spec.scoring, spec.filter, spec.default) == (
        "custom", "exact", "single_token", False,
    )  # fmt: skip
    assert spec.source == {"file": str(tmp_path / "plural.jsonl")}
    assert load_pairs(spec, DATA_DIR) == [Pair("cat", ("cats",))]


def test_user_task_settings_are_kept(tmp_path) -> None:
    path = write(tmp_path, "caps.csv", "input,output\nFrance,Paris\n")
    entry = {
        "file": str(path),
        "family": "knowledge",
        "scoring": "prefix",
        "filter": "first_token",
        "description": "capitals",
    }
    spec = load_registry(DATA_DIR, {"my_capitals": entry})["my_capitals"]
    assert (spec.family, spec.scoring, spec.filter, spec.description) == (
        "knowledge", "prefix", "first_token", "capitals",
    )  # fmt: skip


def test_user_task_errors_name_the_task(tmp_path) -> None:
    path = write(tmp_path, "p.jsonl", '{"input": "cat", "output": "cats"}\n')
    cases = [
        ({"algorithmic_next_letter": {"file": str(path)}}, "cannot reuse the name"),
        ({"mine": {"file": str(path), "scoring": "fuzzy"}}, "unknown scoring 'fuzzy'"),
        ({"mine": {"file": str(path), "filter": "two_tokens"}}, "unknown filter 'two_tokens'"),
        ({"mine": {"file": str(path), "family": "maths"}}, "unknown family 'maths'"),
        ({"mine": {"file": str(path), "scorring": "exact"}}, r"unknown fields \['scorring'\]"),
        ({"mine": {"scoring": "exact"}}, "'file' is missing"),
        ({"mine": {"file": str(tmp_path / "absent.jsonl")}}, "file not found"),
        ({"mine": "p.jsonl"}, "expected a mapping"),
        ({"my__task": {"file": str(path)}}, "single underscores"),
        ({"my task": {"file": str(path)}}, "letters, digits"),
    ]
    for user_tasks, message in cases:
        name = next(iter(user_tasks))
        with pytest.raises(TaskDataError, match=message) as caught:
            load_registry(DATA_DIR, user_tasks)
        assert f"task {name}" in str(caught.value)


def test_bad_user_file_error_names_task_file_and_line(tmp_path) -> None:
    path = write(tmp_path, "p.jsonl", '{"input": "cat", "output": "cats"}\n{"input": "dog"}\n')
    spec = load_registry(DATA_DIR, {"mine": {"file": str(path)}})["mine"]
    with pytest.raises(TaskDataError) as caught:
        load_pairs(spec, DATA_DIR)
    assert str(caught.value) == f"task mine, {path}, line 2: missing key 'output'"


def unreadable(monkeypatch, path: Path) -> None:
    """Reading ``path`` fails as without read permission (tests may run as root, who may read
    any file, so the permission bits alone would not do)."""
    read_text = Path.read_text

    def refuse(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)


def test_an_unreadable_user_file_names_the_task_and_file(tmp_path, monkeypatch) -> None:
    path = write(tmp_path, "p.jsonl", '{"input": "cat", "output": "cats"}\n')
    spec = load_registry(DATA_DIR, {"mine": {"file": str(path)}})["mine"]
    unreadable(monkeypatch, path)
    with pytest.raises(TaskDataError) as caught:
        load_pairs(spec, DATA_DIR)
    assert str(caught.value) == f"task mine, {path}: cannot read the file (Permission denied)"


def test_check_refuses_an_unreadable_user_file_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    pairs = write(
        tmp_path, "p.jsonl", "".join(f'{{"input": "i{n}", "output": "o{n}"}}\n' for n in range(12))
    )
    config = write(
        tmp_path,
        "c.yaml",
        f"models: {{m: {{source: embedded, name: gemma-3-270m}}}}\ndata_dir: {DATA_DIR}\n"
        f"user_tasks: {{mine: {{file: {pairs}}}}}\ntasks: [mine]\n",
    )
    unreadable(monkeypatch, pairs)
    assert main(["check", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"taskvectors check: {config}: the run cannot start: task mine, {pairs}: cannot read the "
        "file (Permission denied)\n"
    )


# --- checks against the prompt template (start-up preflight) ---------------------------------


@pytest.mark.parametrize(
    ("name", "text", "template", "where", "reason"),
    [
        ("p.jsonl", '{"input": "a", "output": "b"}\n{"input": "a->b", "output": "c"}\n', "paper",
         "line 2", "input 'a->b' contains '->'"),
        ("p.jsonl", '{"input": "say example:", "output": "b"}\n', "paper",
         "line 1", "input 'say example:' contains 'example:'"),
        ("p.jsonl", '{"input": "a", "output": ["b", "c -> d"]}\n', "arrow",
         "line 1", r"output\[1\] 'c -> d' contains '->'"),
        ("p.csv", "input,output\nok,fine\nQ: why,because\n", "qa",
         "line 3", "input 'Q: why' contains 'Q:'"),
        ("p.json", '{"a": "b", "c; d": "e"}', {"demonstration": "{x}={y}", "separator": "; "},
         "entry 2 (key 'c; d')", "input 'c; d' contains ';'"),
    ],
)  # fmt: skip
def test_inputs_holding_template_markers_are_refused_with_file_line_and_reason(
    tmp_path, name, text, template, where, reason
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(TaskDataError, match=reason) as caught:
        validate_task_file(path, template)
    assert caught.value.where == where and str(path) in str(caught.value)
    assert "literal piece of the prompt template" in str(caught.value)


def test_a_valid_file_passes_and_a_bad_one_fails_the_same_way_as_the_reader(tmp_path) -> None:
    validate_task_file(write(tmp_path, "ok.jsonl", '{"input": "a,b", "output": "a"}\n'), "paper")
    bad = write(tmp_path, "bad.jsonl", '{"input": "cat"}\n')
    with pytest.raises(TaskDataError, match="line 1: missing key 'output'"):
        validate_task_file(bad, "paper")
    with pytest.raises(ValueError, match="unknown prompt template"):
        validate_task_file(bad, "papers")


def test_the_build_refuses_markers_too(tmp_path) -> None:
    path = write(
        tmp_path, "p.jsonl", '{"input": "a", "output": "b"}\n{"input": "x->y", "output": "z"}\n'
    )
    spec = load_registry(DATA_DIR, {"mine": {"file": str(path)}})["mine"]
    with pytest.raises(TaskDataError, match=r"^task mine, .*p.jsonl, line 2: input 'x->y'"):
        load_pairs(spec, DATA_DIR, forbidden=("->",))


def test_extra_record_keys_give_one_warning_listing_them(tmp_path) -> None:
    path = write(
        tmp_path,
        "p.jsonl",
        '{"input": "a", "output": "b", "note": "x"}\n{"input": "c", "output": "d", "note": "y",'
        ' "outptu": "e"}\n{"input": "f", "output": "g"}\n',
    )
    with pytest.warns(TaskDataWarning) as caught:
        assert len(read_pairs_file(path)) == 3
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(path) in message
    assert "'note' (first at line 1), 'outptu' (first at line 2)" in message
    listed = write(tmp_path, "l.json", '[{"input": "a", "output": "b", "source": "me"}]')
    with pytest.warns(TaskDataWarning, match=r"'source' \(first at entry 1 \(index 0\)\)"):
        read_pairs_file(listed)


def test_clean_files_give_no_warning(tmp_path) -> None:
    path = write(tmp_path, "p.jsonl", '{"input": "a", "output": "b"}\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_pairs_file(path)


# The file python -m taskvectors.cli.bench_validate times (its speed is printed there, not tested).
BIG_FILE_LINES = 200_000


def test_a_200k_line_file_passes_the_template_check_with_every_pair(tmp_path) -> None:
    path = write_pairs_file(tmp_path / "big.jsonl", BIG_FILE_LINES)
    pairs = read_pairs_file(path, forbidden=get_template("paper").markers())
    assert [pair.input for pair in pairs] == sorted(f"word{i}" for i in range(BIG_FILE_LINES))
    assert pairs[-1] == Pair("word99999", ("w99999", "v99999"))


def test_a_problem_on_the_last_of_200k_lines_is_named(tmp_path) -> None:
    path = write_pairs_file(tmp_path / "big.jsonl", BIG_FILE_LINES)
    with path.open("a", encoding="utf-8") as file:
        file.write('{"input": "x->y", "output": "z"}\n')
    with pytest.raises(TaskDataError, match=rf"big.jsonl, line {BIG_FILE_LINES + 1}: input 'x->y'"):
        validate_task_file(path, "paper")
