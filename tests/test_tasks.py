"""The task registry (data/tasks.yaml) and the loaders behind its three source kinds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import taskvectors
from taskvectors.cli.main import main as cli_main
from taskvectors.pipeline.codedeps import stage_sources
from taskvectors.scoring import answers as scoring_answers
from taskvectors.tasks import (
    DEFAULT_TASKS,
    Pair,
    TaskDataError,
    TaskSpec,
    default_tasks,
    load_pairs,
    load_registry,
    prompts,
    read_table_pairs,
)
from taskvectors.tasks import registry as registry_module
from taskvectors.tasks.registry import FAMILIES, REGISTRY_FILE
from taskvectors.tasks.splits import make_examples

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PAPER_FAMILY_COUNTS = {"algorithmic": 11, "translation": 6, "linguistic": 6, "knowledge": 4}
PAPER_DEFAULT_COUNTS = {"algorithmic": 6, "translation": 4, "linguistic": 4, "knowledge": 4}
NOVEL_TASKS = (
    "novel_letter_permutation",
    "novel_letter_shift",
    "novel_second_letter_upper",
    "novel_lower_upper_bijection",
)


@pytest.fixture(scope="module")
def registry() -> dict[str, TaskSpec]:
    return load_registry(DATA_DIR)


def test_registry_has_the_papers_27_tasks_and_18_defaults(registry) -> None:
    paper = {name: spec for name, spec in registry.items() if spec.family != "novel"}
    assert len(paper) == 27
    assert default_tasks(registry) == list(DEFAULT_TASKS)
    assert len(DEFAULT_TASKS) == 18
    families = [spec.family for spec in paper.values()]
    assert {f: families.count(f) for f in set(families)} == PAPER_FAMILY_COUNTS
    defaults = [registry[name].family for name in DEFAULT_TASKS]
    assert {f: defaults.count(f) for f in set(defaults)} == PAPER_DEFAULT_COUNTS


def test_names_carry_their_family_and_specs_are_consistent(registry) -> None:
    for name, spec in registry.items():
        assert spec.name == name
        assert name.startswith(spec.family + "_"), name
        assert spec.description
        assert spec.to_dict()["source"] == dict(spec.source)


@pytest.mark.parametrize(
    ("family", "scoring", "filter_policy", "source_kind"),
    [
        ("algorithmic", {"exact"}, "single_token", "generator"),
        ("translation", {"any_of"}, "single_token", "table"),
        ("linguistic", {"any_of"}, "single_token", "file"),
        ("knowledge", {"prefix"}, "first_token", "file"),
        ("novel", {"exact"}, "single_token", "generator"),
    ],
)
def test_family_conventions(registry, family, scoring, filter_policy, source_kind) -> None:
    specs = [spec for spec in registry.values() if spec.family == family]
    for spec in specs:
        assert spec.scoring in scoring and spec.filter == filter_policy, spec.name
        assert source_kind in spec.source, spec.name


def test_file_sources_follow_the_naming_scheme(registry) -> None:
    for spec in registry.values():
        if "file" in spec.source:
            short = spec.name.removeprefix(spec.family + "_")
            assert spec.source["file"] == f"{spec.family}/{short}.jsonl"
        if "table" in spec.source:
            direction = spec.name.removeprefix("translation_")
            assert spec.source == {
                "table": "translation/words.tsv",
                "input": direction.split("_")[0],
                "output": direction.split("_")[1],
            }


def test_generated_tasks_load(registry) -> None:
    for name in [n for n in registry if n.startswith(("algorithmic_", "novel_"))]:
        pairs = load_pairs(registry[name], DATA_DIR)
        assert len(pairs) >= 9, name
        assert pairs == sorted(pairs, key=lambda p: p.input)


def test_registry_knows_exactly_the_scoring_modes_of_the_scorer() -> None:
    assert registry_module.SCORING_MODES == scoring_answers.SCORING_MODES


def test_registry_knows_exactly_the_spacings_of_the_prompts() -> None:
    assert registry_module.SPACINGS == prompts.SPACINGS


def test_generated_pairs_holding_a_template_marker_are_refused(registry) -> None:
    spec = registry["algorithmic_list_first"]
    assert load_pairs(spec, DATA_DIR, forbidden=("->",))  # lists hold no arrow
    with pytest.raises(TaskDataError, match=r"generator list_first writes 'a,a'.*contains ','"):
        load_pairs(spec, DATA_DIR, forbidden=(",",))


def test_table_pairs_holding_a_template_marker_name_the_line(tmp_path) -> None:
    path = tmp_path / "words.tsv"
    path.write_text("en\tfr\ncat\tchat\nQ: x\tq\n", encoding="utf-8")
    with pytest.raises(TaskDataError, match="line 3: en cell 'Q: x' contains 'Q:'"):
        read_table_pairs(path, "en", "fr", forbidden=("Q:",))


def test_model_stages_do_not_depend_on_the_scoring_code() -> None:
    """A scoring edit must rerun only evaluation, never the model job that builds the prompts."""
    sources = stage_sources("taskvectors.stages.run_task")
    assert not [s for s in sources if s.endswith("scoring/answers.py")], sources


def test_families_list_is_closed() -> None:
    assert FAMILIES == ("algorithmic", "translation", "linguistic", "knowledge", "novel", "custom")


# --- registry validation, on registries written to tmp_path ---------------------------------


def write_registry(tmp_path: Path, tasks: dict) -> Path:
    (tmp_path / REGISTRY_FILE).write_text(yaml.safe_dump({"tasks": tasks}), encoding="utf-8")
    return tmp_path


GOOD = {
    "family": "algorithmic",
    "source": {"generator": "next_letter"},
    "scoring": "exact",
    "filter": "single_token",
    "default": True,
    "description": "next letter",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scoring": "close"}, "unknown scoring 'close'"),
        ({"filter": "x"}, "unknown filter 'x'"),
        ({"family": "maths"}, "unknown family 'maths'"),
        ({"default": "yes"}, "default must be true or false"),
        ({"source": {"generator": "nope"}}, "unknown generator 'nope'"),
        ({"source": {"generator": "list_first", "size": 3}}, "generator parameters"),
        ({"source": {"file": "a.txt"}}, "must end in one of"),
        ({"source": {"file": "a.jsonl", "table": "t.tsv"}}, "exactly one of"),
        ({"source": {"table": "t.tsv", "input": "en"}}, "a table source is"),
        ({"colour": "red"}, r"unknown fields \['colour'\]"),
    ],
)
def test_bad_registry_entries_are_refused(tmp_path, change, message) -> None:
    data_dir = write_registry(tmp_path, {"algorithmic_t": {**GOOD, **change}})
    with pytest.raises(TaskDataError, match=message) as caught:
        load_registry(data_dir)
    assert "task algorithmic_t" in str(caught.value) and REGISTRY_FILE in str(caught.value)


def test_missing_fields_and_missing_registry(tmp_path) -> None:
    entry = {k: v for k, v in GOOD.items() if k != "scoring"}
    with pytest.raises(TaskDataError, match=r"missing fields \['scoring'\]"):
        load_registry(write_registry(tmp_path, {"t": entry}))
    with pytest.raises(TaskDataError, match="task registry not found"):
        load_registry(tmp_path / "nowhere")


def test_a_task_written_twice_in_the_registry_is_refused_with_both_lines(tmp_path) -> None:
    entry = yaml.safe_dump({"t": GOOD}).replace("\n", "\n  ")
    text = f"tasks:\n  {entry}\n  {entry}\n"
    (tmp_path / REGISTRY_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(TaskDataError) as caught:
        load_registry(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / REGISTRY_FILE}, line 11, column 3: duplicate key 't' (first at line 2); "
        "the last would silently win, so remove one"
    )


def test_a_key_written_twice_on_one_line_is_refused(tmp_path) -> None:
    (tmp_path / REGISTRY_FILE).write_text("tasks: {t: 1, t: 2}\n", encoding="utf-8")
    with pytest.raises(TaskDataError, match="line 1, column 15: duplicate key 't'"):
        load_registry(tmp_path)


def test_an_unreadable_registry_is_one_line(tmp_path, monkeypatch) -> None:
    write_registry(tmp_path, {"t": GOOD})

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(TaskDataError) as caught:
        load_registry(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / REGISTRY_FILE}: cannot read the task registry (Permission denied)"
    )


def test_generator_parameters_reach_the_generator(tmp_path) -> None:
    source = {"generator": "list_first", "n_lists": 10, "sample_seed": 3}
    data_dir = write_registry(tmp_path, {"t": {**GOOD, "source": source}})
    assert len(load_pairs(load_registry(data_dir)["t"], data_dir)) == 10


# --- translation tables ----------------------------------------------------------------------

TABLE = (
    "en\tfr\tes\tit\n"
    "be\têtre|exister\tser|estar\tessere\n"
    "exist\têtre\texistir\t\n"
    "house\tmaison\tcasa\tcasa\n"
    "home|house\tmaison|foyer\tcasa|hogar\tcasa\n"
)


def test_table_pairs_merge_rows_sharing_a_source_word(tmp_path) -> None:
    path = tmp_path / "words.tsv"
    path.write_text(TABLE, encoding="utf-8")
    assert read_table_pairs(path, "fr", "en") == [
        Pair("maison", ("house", "home")),
        Pair("être", ("be", "exist")),
    ]
    assert read_table_pairs(path, "en", "fr") == [
        Pair("be", ("être", "exister")),
        Pair("exist", ("être",)),
        Pair("home", ("maison", "foyer")),
        Pair("house", ("maison",)),
    ]
    # an empty cell means "no translation": the row is skipped for that direction only
    assert [p.input for p in read_table_pairs(path, "en", "it")] == ["be", "home", "house"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("en\tfr\nbe\têtre\textra\n", "line 2: expected 2 tab-separated cells, got 3"),
        ("en\tfr\nbe\têtre||exister\n", "line 2: fr cell is an empty string"),
        ("en\tfr\nbe \têtre\n", "line 2: en cell 'be ' has surrounding whitespace"),
        ("en\tfr\nbe\têtre|être\n", "line 2: fr cell lists 'être' more than once"),
        ("en\ten\nbe\tbe\n", "line 1: column names must be unique"),
        ("en\tde\nbe\tsein\n", "line 1: no column 'fr'"),
        ("", "the table is empty"),
    ],
)
def test_bad_tables_name_file_line_and_reason(tmp_path, text, message) -> None:
    path = tmp_path / "words.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaskDataError, match=message) as caught:
        read_table_pairs(path, "en", "fr")
    assert str(path) in str(caught.value)


def test_load_pairs_names_the_task_on_data_errors(tmp_path) -> None:
    spec = TaskSpec(
        name="translation_en_fr",
        family="translation",
        source={"table": "words.tsv", "input": "en", "output": "fr"},
        scoring="any_of",
        filter="single_token",
        default=True,
        description="",
    )
    with pytest.raises(
        TaskDataError, match=r"^task translation_en_fr, .*words.tsv: file not found"
    ):
        load_pairs(spec, tmp_path)


# --- the novel tasks (taskvectors.tasks.novel) -----------------------------------------------


def test_novel_tasks_are_declared_generated_and_never_default(registry) -> None:
    novel = [name for name, spec in registry.items() if spec.family == "novel"]
    assert novel == list(NOVEL_TASKS)
    for name in NOVEL_TASKS:
        assert not registry[name].default and "generator" in registry[name].source
    assert not set(NOVEL_TASKS) & set(default_tasks(registry))


def test_the_permutation_seed_is_part_of_the_registry_entry(registry, tmp_path) -> None:
    spec = registry["novel_letter_permutation"]
    assert spec.source == {"generator": "letter_permutation", "sample_seed": 0}
    pairs = {p.input: p.output for p in load_pairs(spec, DATA_DIR)}
    assert (pairs["a"], pairs["b"]) == ("v", "s")  # as the entry's description says
    source = {"generator": "letter_permutation", "sample_seed": 1}
    data_dir = write_registry(tmp_path, {"t": {**GOOD, "source": source}})
    other = {p.input: p.output for p in load_pairs(load_registry(data_dir)["t"], data_dir)}
    assert other != pairs and sorted(other.values()) == sorted(pairs.values())


def test_a_word_generator_reads_the_table_its_entry_names(tmp_path) -> None:
    (tmp_path / "w.tsv").write_text("en\tfr\nhouse\tmaison\nIce\tglace\ncat|kitty\tchat\n")
    source = {"generator": "second_letter_upper", "words": "w.tsv", "words_column": "en"}
    data_dir = write_registry(tmp_path, {"t": {**GOOD, "source": source}})
    pairs = load_pairs(load_registry(data_dir)["t"], data_dir)
    assert pairs == [Pair("cat", ("A",)), Pair("house", ("O",))]  # "Ice" is not lowercase


def test_a_missing_word_table_names_the_task_and_file(tmp_path) -> None:
    source = {"generator": "second_letter_upper", "words": "none.tsv", "words_column": "en"}
    data_dir = write_registry(tmp_path, {"t": {**GOOD, "source": source}})
    with pytest.raises(TaskDataError, match=r"^task t, .*none.tsv: file not found"):
        load_pairs(load_registry(data_dir)["t"], data_dir)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"generator": "second_letter_upper"}, "reads its inputs from a table"),
        ({"generator": "second_letter_upper", "words": "w.tsv"}, "reads its inputs from a table"),
        (
            {"generator": "second_letter_upper", "words": "w.txt", "words_column": "en"},
            "must be a .tsv table",
        ),
        ({"generator": "letter_shift", "words": "w.tsv"}, "reads no word list"),
        ({"generator": "letter_shift", "shift": "3"}, "generator parameters are integers"),
        ({"generator": "letter_shift", "shift": True}, "generator parameters are integers"),
    ],
)
def test_bad_novel_sources_are_refused_when_the_registry_loads(tmp_path, source, message) -> None:
    data_dir = write_registry(tmp_path, {"t": {**GOOD, "source": source}})
    with pytest.raises(TaskDataError, match=message):
        load_registry(data_dir)


@pytest.mark.parametrize("shift", [0, 1, 25, 26, -1])
def test_a_familiar_shift_is_refused_with_the_task_named(tmp_path, shift) -> None:
    source = {"generator": "letter_shift", "shift": shift}
    data_dir = write_registry(tmp_path, {"t": {**GOOD, "source": source}})
    with pytest.raises(TaskDataError, match=r"^task t: .*a familiar task"):
        load_pairs(load_registry(data_dir)["t"], data_dir)


@pytest.mark.parametrize("name", NOVEL_TASKS)
@pytest.mark.parametrize(("n_dev", "n_test"), [(50, 50), (10, 10)])
def test_novel_splits_keep_dev_and_test_queries_apart(registry, name, n_dev, n_test) -> None:
    pairs = load_pairs(registry[name], DATA_DIR)
    examples = make_examples(
        pairs, n_demos=5, n_dev=n_dev, n_test=n_test, n_dummy=2, seed=41, task_name=name
    )
    dev = {e.query for e in examples if e.split == "dev"}
    test = {e.query for e in examples if e.split == "test"}
    assert dev and test and not dev & test
    answers = {p.input: p.answers for p in pairs}
    for example in examples:
        assert example.answers == answers[example.query]
        assert example.query not in {x for x, _ in example.demos} | set(example.dummies)


# The novel tasks' pairs and the first examples of their splits, printed by a fresh interpreter.
HASHSEED_SCRIPT = """
import json, sys
from pathlib import Path
from taskvectors.tasks.splits import make_examples
from taskvectors.tasks import load_pairs, load_registry
data = Path(sys.argv[1])
registry = load_registry(data)
out = {}
for name in sys.argv[2:]:
    pairs = load_pairs(registry[name], data)
    examples = make_examples(pairs, n_demos=5, n_dev=4, n_test=4, n_dummy=2, seed=41,
                             task_name=name)
    out[name] = [[[p.input, list(p.answers)] for p in pairs],
                 [e.to_dict() for e in examples]]
print(json.dumps(out, sort_keys=True))
"""


def novel_tasks_in_a_fresh_process(hash_seed: str) -> dict:
    package_root = Path(taskvectors.__file__).resolve().parents[1]  # the code under test
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(package_root)}
    result = subprocess.run(
        [sys.executable, "-c", HASHSEED_SCRIPT, str(DATA_DIR), *NOVEL_TASKS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_novel_tasks_are_the_same_under_any_pythonhashseed(registry) -> None:
    first, second = novel_tasks_in_a_fresh_process("1"), novel_tasks_in_a_fresh_process("2")
    assert first == second
    assert set(first) == set(NOVEL_TASKS)
    here = [[p.input, list(p.answers)] for p in load_pairs(registry[NOVEL_TASKS[0]], DATA_DIR)]
    assert first[NOVEL_TASKS[0]][0] == here


def test_taskvectors_tasks_lists_the_novel_tasks(capsys) -> None:
    assert cli_main(["tasks", "--data-dir", str(DATA_DIR)]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    expected = {
        "novel_letter_permutation": "26",
        "novel_letter_shift": "26",
        "novel_lower_upper_bijection": "52",
    }
    for name in NOVEL_TASKS:
        family, scoring_mode, filter_policy, *rest = rows[name][1:]
        assert (family, scoring_mode, filter_policy) == ("novel", "exact", "single_token")
        assert len(rest) == 1, f"{name} is listed as a default task: {rows[name]}"
        assert rest[0] == expected.get(name, rest[0])
    assert int(rows["novel_second_letter_upper"][-1]) > 800
