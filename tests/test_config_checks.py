"""Start-up checks: every bad input that needs no model is refused before any job, one line each.

Unit tests of :mod:`taskvectors.pipeline.config` (strict config files, folders, ``--config``
overrides) and :mod:`taskvectors.pipeline.preflight` (templates, task files, sizes), then the same
cases as Snakemake dry runs of the real Snakefile (``snakemake -n``), which must refuse them with
the reason and no traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from taskvectors.analyses import registry
from taskvectors.pipeline.config import (
    ConfigError,
    check_config_files,
    load_config,
    load_schema,
    normalize_overrides,
    path_problems,
    read_config_file,
    validate_config,
    with_quick_settings,
)
from taskvectors.pipeline.preflight import preflight, startup_config
from taskvectors.tasks.registry import load_registry
from tiny_models import paper_with_llama_folders

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
EMBEDDED = {"source": "embedded", "name": "gemma-3-270m"}


def minimal(tmp_path: Path, **overrides) -> dict:
    """A valid config writing below ``tmp_path``, reading the shipped data."""
    return {
        "results_dir": str(tmp_path / "results"),
        "reports_dir": str(tmp_path / "reports"),
        "data_dir": str(DATA),
        "models": {"m": {"source": "embedded", "name": "gemma-3-270m"}},
        "tasks": ["algorithmic_next_letter"],
        **overrides,
    }


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def pairs_file(path: Path, n_pairs: int) -> Path:
    lines = [f'{{"input": "in{i}", "output": "out{i}"}}' for i in range(n_pairs)]
    return write(path, "\n".join(lines) + "\n")


def refusal(config: dict) -> str:
    """The message :func:`startup_config` refuses ``config`` with."""
    with pytest.raises(ConfigError) as error:
        startup_config(config)
    return str(error.value)


# --- config files, read strictly -----------------------------------------------------------------


def test_a_duplicated_model_alias_is_refused_with_file_line_and_key(tmp_path):
    path = write(
        tmp_path / "c.yaml",
        "models:\n  gemma:\n    source: embedded\n  gemma:\n    source: hub\n",
    )
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    message = str(error.value)
    assert str(path) in message and "line 4" in message and "'gemma'" in message
    assert "first at line 2" in message


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = write(
        tmp_path / "c.yaml",
        "base: &base {source: embedded, dtype: auto}\n"
        "models:\n  m:\n    <<: *base\n    dtype: float32\n",
    )
    assert read_config_file(path)["models"]["m"] == {"source": "embedded", "dtype": "float32"}


def test_a_yaml_syntax_error_names_file_line_and_reason(tmp_path):
    path = write(
        tmp_path / "c.yaml", "models:\n  m: {source: embedded}\nprompts:\n  n_demos: [1, 2\n"
    )
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    message = str(error.value)
    assert message.count("\n") == 0
    assert message.startswith(f"{path}, line 5") and "flow sequence at line 4" in message


def test_a_json_config_with_a_duplicated_key_is_refused(tmp_path):
    path = write(tmp_path / "c.json", '{"models": {"m": {"source": "embedded"}}, "models": {}}')
    with pytest.raises(ConfigError, match="duplicate key 'models'"):
        read_config_file(path)


def test_a_config_file_must_hold_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="holds a mapping of keys, got a list"):
        read_config_file(write(tmp_path / "c.yaml", "- models\n"))


def test_check_config_files_lists_every_bad_file(tmp_path):
    good = write(tmp_path / "good.yaml", "models: {m: {source: embedded}}\n")
    twice = write(tmp_path / "twice.yaml", "tasks: default\ntasks: all\n")
    broken = write(tmp_path / "broken.yaml", "tasks: [a\n")
    check_config_files([good])
    with pytest.raises(ConfigError) as error:
        check_config_files([good, twice, broken])
    lines = str(error.value).splitlines()[1:]
    assert len(lines) == 2
    assert str(twice) in lines[0] and "line 2" in lines[0]
    assert str(broken) in lines[1]


def test_load_config_names_the_file_of_a_schema_error(tmp_path):
    path = write(tmp_path / "c.yaml", "models: {m: {source: embedded}}\nprompts: {n_demos: 0}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == (
        f"{path}: invalid configuration: prompts.n_demos: 0 is less than the minimum of 1"
    )


# --- folders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["results_dir", "reports_dir", "data_dir"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_folder_is_refused(tmp_path, key, value):
    problems = path_problems(minimal(tmp_path, **{key: value}))
    assert problems == [f"{key}: {value!r} is empty; name a folder, such as 'results/main'"]


@pytest.mark.parametrize("key", ["results_dir", "reports_dir", "data_dir", "model_cache_dir"])
def test_the_filesystem_root_is_refused(tmp_path, key):
    (problem,) = path_problems(minimal(tmp_path, **{key: "/"}))
    assert problem.startswith(f"{key}: '/' is the filesystem root")


def test_the_root_reached_through_dotdot_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    climb = "/".join([".."] * (len(tmp_path.parts) + 1))
    (problem,) = path_problems(minimal(tmp_path, results_dir=climb))
    assert "filesystem root" in problem


@pytest.mark.parametrize("key", ["results_dir", "reports_dir", "data_dir", "model_cache_dir"])
def test_an_existing_file_is_refused_as_a_folder(tmp_path, key):
    existing = write(tmp_path / "a_file", "")
    assert path_problems(minimal(tmp_path, **{key: str(existing)})) == [
        f"{key}: {str(existing)!r} is an existing file, not a folder"
    ]


def test_an_empty_model_cache_dir_means_the_default_location(tmp_path):
    assert path_problems(minimal(tmp_path, model_cache_dir="")) == []


def test_validate_config_reports_folder_and_schema_problems_together(tmp_path):
    with pytest.raises(ConfigError) as error:
        validate_config(minimal(tmp_path, results_dir="", prompts={"n_demos": 0}))
    lines = str(error.value).splitlines()
    assert lines[0] == "invalid configuration:"
    assert any(line.startswith("- results_dir: '' is empty") for line in lines)
    assert any(line.startswith("- prompts.n_demos: 0 is less") for line in lines)


# --- --config overrides ---------------------------------------------------------------------------


def test_nested_override_strings_become_the_schemas_types(tmp_path):
    # snakemake --config 'prompts={n_demos: 4}' 'analyses={geometry: {enabled: false}}'
    config = minimal(
        tmp_path,
        prompts={"n_demos": "4", "template": "paper"},
        analyses={"geometry": {"enabled": "false", "n_vectors": "+10"}},
    )
    normalized = normalize_overrides(config)
    assert normalized["prompts"] == {"n_demos": 4, "template": "paper"}
    assert normalized["analyses"]["geometry"] == {"enabled": False, "n_vectors": 10}
    assert validate_config(normalized)["prompts"]["n_demos"] == 4


def test_dotted_keys_become_nested_and_merge(tmp_path):
    config = minimal(tmp_path, prompts={"n_dev": 7})
    config["prompts.n_demos"] = "3"
    config["evaluation.answer"] = "greedy"
    normalized = normalize_overrides(config)
    assert normalized["prompts"] == {"n_dev": 7, "n_demos": 3}
    assert normalized["evaluation"] == {"answer": "greedy"}
    assert "prompts.n_demos" not in normalized


def test_strings_the_schema_allows_stay_strings(tmp_path):
    config = minimal(
        tmp_path,
        results_dir="123",
        tasks=["1"],
        models={"m": {"source": "hub", "name": "x", "revision": "null"}},
    )
    normalized = normalize_overrides(config)
    assert normalized["results_dir"] == "123" and normalized["tasks"] == ["1"]
    assert normalized["models"]["m"]["revision"] == "null"


def test_an_override_that_is_not_a_number_is_refused_with_its_path(tmp_path):
    normalized = normalize_overrides(minimal(tmp_path, prompts={"n_demos": "four"}))
    with pytest.raises(ConfigError, match="prompts.n_demos: 'four' is not of type 'integer'"):
        validate_config(normalized)


def test_normalize_overrides_leaves_its_input_alone(tmp_path):
    config = minimal(tmp_path, prompts={"n_demos": "4"})
    normalize_overrides(config)
    assert config["prompts"] == {"n_demos": "4"}


# --- every key of a kind, found in the schema ----------------------------------------------------


def schema_keys(schema: dict, path: tuple = ()):
    """``(path, subschema)`` of every key and list item of the schema; ``*`` stands for any name
    of an open mapping, ``0`` for a list item; ``oneOf``/``anyOf`` branches are walked too."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from schema_keys(sub, (*path, name))
    if isinstance(schema.get("additionalProperties"), dict):
        yield from schema_keys(schema["additionalProperties"], (*path, "*"))
    if isinstance(schema.get("items"), dict):
        yield from schema_keys(schema["items"], (*path, 0))
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        yield from schema_keys(branch, path)


def types_of(schema: dict) -> set:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def config_with(tmp_path: Path, path: tuple, value) -> dict:
    """:func:`minimal` with ``value`` at ``path``: ``*`` is a model ``m`` (local, with a path)
    or a user task ``u`` (with a file), ``0`` a one-item list."""
    config = minimal(tmp_path)
    node, key = config, None
    for part, following in zip(path, [*path[1:], None], strict=True):
        key = "m" if part == "*" and path[0] == "models" else "u" if part == "*" else part
        if following is None:
            break
        if following == 0:
            node[key] = [value]
            return config
        if part == "*" and path[0] == "models":
            node[key] = {"source": "local", "path": str(tmp_path)}
        elif part == "*":
            node[key] = {"file": str(tmp_path / "pairs.jsonl")}
        else:
            node.setdefault(key, {})
            if not isinstance(node[key], dict):
                node[key] = {}
        node = node[key]
    node[key] = value
    return config


def unique(items) -> list:
    return list(dict.fromkeys(items))


SCHEMA_KEYS = list(schema_keys(load_schema()))
SCHEMA_PATHS = unique(p for p, _ in SCHEMA_KEYS)
INTEGER_KEYS = unique(p for p, s in SCHEMA_KEYS if "integer" in types_of(s) and "*" not in p)
NUMBER_KEYS = unique(
    p for p, s in SCHEMA_KEYS if types_of(s) & {"integer", "number"} and "*" not in p
)
PATH_KEYS = unique(p for p, s in SCHEMA_KEYS if s.get("format") == "path")
ANALYSIS_TASKS = ("analyses", "tasks")


def dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def read_back(config: dict, path: tuple):
    node = config
    for part in path:
        node = node[{"*": "m" if path[0] == "models" else "u"}.get(part, part)]
    return node


def test_the_schema_walk_finds_every_kind_of_key():
    assert ("prompts", "seed") in INTEGER_KEYS and ("analyses", "gd", "epochs", 0) in INTEGER_KEYS
    assert ("analyses", "gd", "learning_rates", 0) in NUMBER_KEYS
    assert ("analyses", "gd", "lora_alpha") in NUMBER_KEYS
    assert set(PATH_KEYS) == {
        ("results_dir",), ("reports_dir",), ("data_dir",), ("model_cache_dir",),
        ("models", "*", "path"), ("user_tasks", "*", "file"),
    }  # fmt: skip


@pytest.mark.parametrize("path", INTEGER_KEYS, ids=dotted)
def test_a_whole_float_becomes_an_int_for_every_integer_key(tmp_path, path):
    value = 3.0 if path[-1] != "n_permutations" else 1.0
    normalized = normalize_overrides(config_with(tmp_path, path, value))
    assert type(read_back(normalized, path)) is int and read_back(normalized, path) == int(value)
    text = normalize_overrides(config_with(tmp_path, path, str(value)))
    assert type(read_back(text, path)) is int  # --config 'prompts={seed: 41.0}'


def test_seed_41_0_is_seed_41_for_check_and_run(tmp_path):
    config, _ = startup_config(minimal(tmp_path, prompts={"seed": 41.0}))
    assert config["prompts"]["seed"] == 41 and type(config["prompts"]["seed"]) is int


def test_a_fractional_integer_is_refused(tmp_path):
    assert refusal(minimal(tmp_path, prompts={"seed": 41.5})) == (
        "invalid configuration: prompts.seed: 41.5 is not of type 'integer'"
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
@pytest.mark.parametrize("path", NUMBER_KEYS, ids=dotted)
def test_a_number_that_is_not_finite_is_refused_for_every_number_key(tmp_path, path, value):
    message = refusal(config_with(tmp_path, path, value))
    assert f"{dotted(path)}: {value} is not a finite number" in message


def test_a_nan_learning_rate_is_one_line(tmp_path):
    config = minimal(tmp_path, analyses={"gd": {"learning_rates": [float("nan")]}})
    assert refusal(config) == (
        "invalid configuration: analyses.gd.learning_rates.0: nan is not a finite number"
    )


@pytest.mark.parametrize("path", PATH_KEYS, ids=dotted)
def test_every_path_key_has_its_leading_tilde_expanded(tmp_path, monkeypatch, path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    normalized = normalize_overrides(config_with(tmp_path, path, "~/tv_results"))
    assert read_back(normalized, path) == str(tmp_path / "home" / "tv_results")


@pytest.mark.parametrize("path", PATH_KEYS, ids=dotted)
def test_every_path_key_has_its_environment_variables_expanded(tmp_path, monkeypatch, path):
    monkeypatch.setenv("TV_SCRATCH", str(tmp_path / "scratch"))
    normalized = normalize_overrides(config_with(tmp_path, path, "${TV_SCRATCH}/tv/$TV_SCRATCH"))
    expected = f"{tmp_path / 'scratch'}/tv/{tmp_path / 'scratch'}"
    assert read_back(normalized, path) == expected


def test_an_unset_variable_in_a_path_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("TV_NOT_SET", raising=False)
    with pytest.raises(ConfigError) as error:
        startup_config(minimal(tmp_path, results_dir="$TV_NOT_SET/tv"))
    assert str(error.value) == (
        "results_dir: '$TV_NOT_SET/tv' uses the environment variable TV_NOT_SET, which is not set"
    )


def test_check_and_run_write_below_home_for_a_tilde_results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config, _ = startup_config(minimal(tmp_path, results_dir="~/tv_results"))
    assert config["results_dir"] == str(tmp_path / "home" / "tv_results")


# --- preflight: templates, task files, sizes ------------------------------------------------------


def test_the_shipped_configs_pass_every_start_up_check(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    for path in (REPO / "config" / "config.yaml", REPO / "config" / "smoke.yaml"):
        config, registry = startup_config(read_config_file(path), [path])
        assert config["models"] and len(registry) >= 27
    paper = paper_with_llama_folders(tmp_path)
    config, _ = startup_config(read_config_file(paper), [paper])
    assert len(config["models"]) == 7


def written_defaults(written: dict, defaults: dict, where: str = "") -> list[str]:
    """The keys of ``written`` (dotted) whose value is the one ``defaults`` gives them anyway."""
    found = []
    for key, value in written.items():
        path = f"{where}{key}"
        default = defaults.get(key, object()) if isinstance(defaults, dict) else object()
        if isinstance(value, dict) and isinstance(default, dict):
            found += written_defaults(value, default, f"{path}.")
        elif value == default:
            found.append(path)
    return found


@pytest.mark.parametrize("name", ["config", "smoke", "paper"])
def test_a_shipped_config_writes_no_default_again(name):
    """A default restated in a config file outlives a change of the default: the run keeps the
    old value and no one sees it (GD's other orders did this once)."""
    written = read_config_file(REPO / "config" / f"{name}.yaml")
    entry = load_schema()["properties"]["models"]["additionalProperties"]
    entry_defaults = {k: v["default"] for k, v in entry["properties"].items() if "default" in v}
    defaults = validate_config({"models": written["models"]})
    defaults["models"] = dict.fromkeys(written["models"], entry_defaults)
    assert written_defaults(written, defaults) == []


def test_written_defaults_finds_a_nested_restated_default():
    defaults = validate_config({"models": {"m": {"source": "embedded"}}})
    written = {"models": {"m": {"source": "local", "dtype": "auto"}}, "prompts": {"n_dev": 50}}
    written["analyses"] = {"gd": {"order": {"n_permutations": 2, "n_examples": 7}}}
    assert written_defaults(written, defaults) == [
        "models.m.dtype",
        "prompts.n_dev",
        "analyses.gd.order.n_permutations",
    ]


def readme_settings() -> list[tuple[str, str, str]]:
    """``(row key, setting, value)`` of every `` `setting: value` `` in a row of the README's
    "Config reference" table (``analyses.order``, ``n_examples``, ``50``)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Config reference\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for row in re.findall(r"^\| `([^`]+)` \|(.*)$", section, re.MULTILINE):
        key, rest = row
        found += [(key, name, value) for name, value in re.findall(r"`([a-z_]+): ([^`]+)`", rest)]
    return found


def readme_top_level_defaults() -> list[tuple[str, str]]:
    """``(key, default)`` of every row of the README's "Config reference" table whose first cell
    names top-level keys and whose second cell gives each one backticked default, in order
    (``results_dir``, ``results``)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Config reference\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for keys_cell, defaults_cell in re.findall(r"^\| (`[^|]+`) \| (`[^|]+`) \|", section, re.M):
        keys = re.findall(r"`([^`]+)`", keys_cell)
        defaults = re.findall(r"`([^`]+)`", defaults_cell)
        if len(keys) == len(defaults) and not any("." in key for key in keys):
            found += zip(keys, defaults, strict=True)
    return found


def test_the_readmes_top_level_defaults_are_the_schemas():
    """An empty schema default means a default location: the README names the one the schema's
    description gives."""
    found = dict(readme_top_level_defaults())
    assert {"results_dir", "reports_dir", "data_dir", "model_job_threads", "quick"} <= set(found)
    wrong = []
    for key, value in found.items():
        setting = load_schema()["properties"][key]
        if setting["default"] == "":
            if value not in setting["description"]:
                wrong.append(f"{key}: README {value!r} is not in the schema's description")
        elif yaml.safe_load(value) != setting["default"]:
            wrong.append(f"{key}: README {value!r}, schema {setting['default']!r}")
    assert wrong == []


def schema_of(key: str) -> dict:
    """The JSON schema of a config key written dotted (``models.<alias>`` is any model entry)."""
    node = load_schema()
    for part in key.split("."):
        node = node["additionalProperties"] if part == "<alias>" else node["properties"][part]
    return node


def test_the_readmes_config_reference_gives_the_schemas_defaults_and_choices():
    """The README's table restates defaults for readers; this keeps each one true."""
    settings = readme_settings()
    assert len(settings) >= 25
    wrong = []
    for key, name, value in settings:
        setting = schema_of(key)["properties"].get(name)
        if setting is None:
            wrong.append(f"{key}.{name}: not a setting")
            continue
        choices = [choice.strip() for choice in value.split("\\|")]
        if len(choices) > 1 and "enum" in setting and set(choices) != set(setting["enum"]):
            wrong.append(f"{key}.{name}: choices {choices}, schema {setting['enum']}")
        if "default" in setting and yaml.safe_load(choices[0]) != setting["default"]:
            wrong.append(f"{key}.{name}: README {choices[0]}, schema {setting['default']!r}")
    assert wrong == []


def test_the_papers_llama_placeholders_are_refused_until_set(monkeypatch):
    monkeypatch.chdir(REPO)
    path = REPO / "config" / "paper.yaml"
    assert refusal(read_config_file(path)).splitlines()[1:] == [
        f"- models.llama-{size}.path: '/path/to/llama/huggingface/{size.upper()}' does not exist"
        for size in ("7b", "13b", "30b")
    ]


def test_a_template_without_y_is_refused(tmp_path):
    config = minimal(tmp_path, prompts={"template": {"demonstration": "Q: {x} A:"}})
    message = refusal(config)
    assert "prompts.template" in message and "{y}" in message


def test_a_custom_template_without_separator_starts_with_a_newline(tmp_path):
    config, _ = startup_config(
        minimal(tmp_path, prompts={"template": {"demonstration": "Q: {x} A: {y}"}})
    )
    assert config["prompts"]["template"]["separator"] == "\n"


def test_a_bad_line_in_a_user_task_file_is_refused_at_start_up(tmp_path):
    pairs = write(tmp_path / "mine.jsonl", '{"input": "a", "output": "b"}\n{"input": "c"}\n')
    config = minimal(tmp_path, user_tasks={"mine": {"file": str(pairs)}}, tasks=["mine"])
    message = refusal(config)
    assert "task mine" in message and str(pairs) in message and "line 2" in message


def test_an_input_holding_the_template_marker_is_refused(tmp_path):
    pairs = pairs_file(tmp_path / "mine.jsonl", 10)
    with pairs.open("a") as handle:
        handle.write('{"input": "x->y", "output": "z"}\n')
    config = minimal(tmp_path, user_tasks={"mine": {"file": str(pairs)}}, tasks=["mine"])
    message = refusal(config)
    assert str(pairs) in message and "line 11" in message and "->" in message


def test_a_task_with_fewer_pairs_than_one_example_needs_is_refused(tmp_path):
    pairs = pairs_file(tmp_path / "few.jsonl", 7)
    config = minimal(
        tmp_path,
        user_tasks={"few": {"file": str(pairs), "filter": "none"}},
        tasks=["few"],
        prompts={"n_demos": 5, "n_dummy": 2},
    )
    message = refusal(config)
    assert "task few: 7 pairs" in message and "= 8 distinct pairs" in message
    config["prompts"]["n_demos"] = 4
    startup_config(config)


def test_a_generated_task_knows_its_size(tmp_path):
    # next_letter has 25 pairs: 20 demonstrations + 1 query + 5 dummies need 26
    config = minimal(tmp_path, prompts={"n_demos": 20, "n_dummy": 5})
    assert "task algorithmic_next_letter: 25 pairs" in refusal(config)


def test_every_problem_is_listed_one_line_each(tmp_path):
    few = pairs_file(tmp_path / "few.jsonl", 3)
    config = minimal(
        tmp_path,
        user_tasks={"few": {"file": str(few)}},
        tasks=["few", "algorithmic_next_letter"],
        prompts={"template": {"demonstration": "{x} or {x} -> {y}"}},
        analyses={"order": {"n_permutations": 500}},
    )
    lines = refusal(config).splitlines()
    assert lines[0] == "the run cannot start:"
    problems = lines[1:]
    assert len(problems) == 3, problems
    assert all(line.startswith("- ") for line in problems)
    assert "prompts.template" in problems[0]
    assert "task few: 3 pairs" in problems[1]
    assert "analyses.order.n_permutations: 500" in problems[2]


def test_an_unknown_task_is_refused(tmp_path):
    assert "unknown task(s) ['no_such_task']" in refusal(minimal(tmp_path, tasks=["no_such_task"]))


def test_a_missing_user_task_file_is_refused(tmp_path):
    config = minimal(tmp_path, user_tasks={"gone": {"file": str(tmp_path / "gone.jsonl")}})
    assert "gone.jsonl" in refusal(config) and "file not found" in refusal(config)


def test_conflicts_need_enough_pairs_for_their_demonstrations(tmp_path):
    config = validate_config(
        minimal(
            tmp_path,
            tasks=["algorithmic_next_letter", "algorithmic_to_upper"],
            analyses={"conflicts": {"n_demos": 30}},
        )
    )
    with pytest.raises(ConfigError, match="analyses.conflicts: task algorithmic_next_letter"):
        preflight(config, load_registry(DATA))


def test_geometry_asks_for_no_more_vectors_than_dev_and_test_examples(tmp_path):
    # geometry takes its vectors from the activations of the n_dev + n_test examples
    config = minimal(
        tmp_path, prompts={"n_dev": 10, "n_test": 5}, analyses={"geometry": {"n_vectors": 16}}
    )
    message = refusal(config)
    assert message.count("\n") == 0, message
    assert "analyses.geometry.n_vectors: 16 vectors per task requested" in message
    assert "prompts.n_dev (10) + prompts.n_test (5) = 15 examples" in message
    config["analyses"]["geometry"]["n_vectors"] = 15
    startup_config(config)
    config["analyses"]["geometry"] = {"enabled": False, "n_vectors": 16}
    startup_config(config)


ANALYSES_WITH_TASKS = unique(p[1] for p in SCHEMA_PATHS if len(p) == 3 and p[::2] == ANALYSIS_TASKS)
NESTED_TASK_LISTS = unique(p[1:3] for p in SCHEMA_PATHS if len(p) == 4 and p[::3] == ANALYSIS_TASKS)


#: Analyses whose ``tasks`` name any task of the registry, not only the run's.
REGISTRY_TASKS = [name for name, a in registry().items() if a.task_source == "registry"]
RUN_TASKS = [name for name in ANALYSES_WITH_TASKS if name not in REGISTRY_TASKS]


def test_every_analysis_that_covers_fewer_than_all_tasks_has_a_task_list():
    """An analysis whose declaration picks its tasks (a default other than every task, its own
    selection, or tasks from the registry) lets the config choose them; only per-task analyses
    have a list (a pair analysis has ``pairs``)."""
    analyses = registry()
    choosing = {
        name
        for name, a in analyses.items()
        if a.items == "task"
        and (a.default_tasks != "all" or a.select_tasks or a.task_source != "run")
    }
    per_task = {name for name, a in analyses.items() if a.items == "task"}
    assert choosing and choosing <= set(ANALYSES_WITH_TASKS) <= per_task
    assert ("gd", "demo_counts") in NESTED_TASK_LISTS
    assert {name for name, _ in NESTED_TASK_LISTS} <= set(ANALYSES_WITH_TASKS)


@pytest.mark.parametrize("name", RUN_TASKS)
def test_an_analysis_task_outside_the_run_is_refused_at_start_up(tmp_path, name):
    config = minimal(tmp_path, analyses={name: {"tasks": ["algorithmic_next_letter", "nope"]}})
    assert refusal(config) == (
        f"the run cannot start: analyses.{name}.tasks: ['nope'] are not tasks of this run "
        "(its tasks: algorithmic_next_letter)"
    )


@pytest.mark.parametrize("name", ANALYSES_WITH_TASKS)
def test_a_disabled_analysis_task_list_is_not_checked(tmp_path, name):
    startup_config(minimal(tmp_path, analyses={name: {"enabled": False, "tasks": ["nope"]}}))


def test_a_registry_sourced_analysis_takes_tasks_outside_the_run_but_not_unknown_ones(tmp_path):
    name = "recognition_learning"
    fine = {name: {"tasks": ["algorithmic_to_upper"], "novel_tasks": ["novel_letter_shift"]}}
    startup_config(minimal(tmp_path, analyses=fine))
    config = minimal(tmp_path, analyses={name: {"novel_tasks": ["novel_leter_shift"]}})
    assert refusal(config) == (
        f"the run cannot start: analyses.{name}.novel_tasks: ['novel_leter_shift'] are not known "
        "tasks"
    )


@pytest.mark.parametrize(("name", "part"), NESTED_TASK_LISTS)
def test_a_nested_task_list_must_name_known_tasks(tmp_path, name, part):
    config = minimal(tmp_path, analyses={name: {part: {"tasks": ["algorithmic_nxt_letter"]}}})
    assert refusal(config) == (
        f"the run cannot start: analyses.{name}.{part}.tasks: ['algorithmic_nxt_letter'] are not "
        "known tasks"
    )


def test_conflict_pairs_must_name_known_tasks(tmp_path):
    pairs = [["algorithmic_next_letter", "algorithmic_to_uper"]]
    assert refusal(minimal(tmp_path, analyses={"conflicts": {"pairs": pairs}})) == (
        "the run cannot start: analyses.conflicts.pairs: ['algorithmic_to_uper'] are not known "
        "tasks"
    )


def test_default_task_lists_fit_a_registry_without_the_builtin_tasks(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pairs_file(data / "mine.jsonl", 12)
    entry = "{family: custom, source: {file: mine.jsonl}, scoring: exact, filter: none, "
    write(data / "tasks.yaml", f"tasks:\n  mine: {entry}default: true, description: ''}}\n")
    config = minimal(
        tmp_path, data_dir=str(data), tasks=["mine"], prompts={"n_dev": 2, "n_test": 2}
    )
    config["analyses"] = {"geometry": {"n_vectors": 4}}
    validated, _ = startup_config(config)
    assert validated["analyses"]["gd"]["demo_counts"]["tasks"] == ["algorithmic_next_letter"]


# --- output folders apart from inputs -----------------------------------------------------------


def overlap(key: str, value: str, relation: str, what: str, path: Path) -> str:
    return (
        f"the run cannot start: {key}: {value!r} {relation} {what} ({path}), which the run reads; "
        "outputs need a folder of their own"
    )


@pytest.mark.parametrize("key", ["results_dir", "reports_dir"])
def test_an_output_folder_inside_the_workflow_folder_is_refused(tmp_path, key):
    templates = REPO / "workflow" / "taskvectors" / "report" / "templates"
    assert refusal(minimal(tmp_path, **{key: str(templates)})) == overlap(
        key, str(templates), "is inside", "the workflow folder", REPO / "workflow"
    )


@pytest.mark.parametrize("key", ["results_dir", "reports_dir"])
def test_an_output_folder_holding_a_user_task_file_is_refused(tmp_path, key):
    out = tmp_path / "out"
    out.mkdir()
    pairs = pairs_file(out / "summary.jsonl", 12)
    config = minimal(tmp_path, user_tasks={"mine": {"file": str(pairs)}}, tasks=["mine"])
    config[key] = str(out)
    assert refusal(config) == overlap(key, str(out), "contains", "user_tasks.mine.file", pairs)


@pytest.mark.parametrize("key", ["results_dir", "reports_dir"])
def test_an_output_folder_that_is_or_holds_the_data_dir_is_refused(tmp_path, key, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(DATA)
    config = minimal(tmp_path, data_dir="data")
    config[key] = "."
    assert refusal(config) == overlap(key, ".", "contains", "data_dir", tmp_path / "data")
    config[key] = "data"
    assert refusal(config) == overlap(key, "data", "is", "data_dir", tmp_path / "data")


@pytest.mark.parametrize("below", ["figures", "data", "data/run"])
def test_results_inside_a_folder_the_report_rewrites_are_refused(tmp_path, below):
    """The report job deletes reports_dir/figures and reports_dir/data before it runs."""
    config = minimal(tmp_path)
    config["results_dir"] = str(tmp_path / "reports" / below)
    config["reports_dir"] = str(tmp_path / "reports")
    relation = "is" if "/" not in below else "is inside"
    folder = tmp_path / "reports" / below.split("/")[0]
    assert refusal(config) == (
        f"the run cannot start: results_dir: {config['results_dir']!r} {relation} {folder}, "
        "which the report job deletes and rewrites; give results_dir a folder outside "
        "reports_dir's figures/ and data/"
    )


def test_results_and_report_may_share_a_folder(tmp_path):
    config = minimal(tmp_path)
    config["results_dir"] = config["reports_dir"] = str(tmp_path / "out")
    startup_config(config)  # no ConfigError


def test_an_output_folder_holding_a_local_model_is_refused(tmp_path):
    model = tmp_path / "results" / "my-model"
    config = minimal(tmp_path, models={"m": {"source": "local", "path": str(model)}})
    line = overlap("results_dir", str(tmp_path / "results"), "contains", "models.m.path", model)
    assert f"- {line.removeprefix('the run cannot start: ')}" in refusal(config).splitlines()


def test_a_model_cache_inside_the_data_dir_is_refused(tmp_path):
    cache = str(DATA / "cache")
    assert refusal(minimal(tmp_path, model_cache_dir=cache)) == overlap(
        "model_cache_dir", cache, "is inside", "data_dir", DATA
    )


def test_a_model_cache_holding_inputs_is_fine(tmp_path):
    startup_config(minimal(tmp_path, model_cache_dir=str(REPO)))


def test_per_job_processes_can_skip_reading_the_task_files(tmp_path):
    config = minimal(tmp_path, prompts={"n_demos": 30})
    assert "25 pairs" in refusal(config)
    validated, registry = startup_config(config, run_preflight=False)
    assert validated["prompts"]["n_demos"] == 30 and "algorithmic_next_letter" in registry


def test_startup_config_rereads_the_config_files(tmp_path):
    twice = write(tmp_path / "c.yaml", "models: {m: {source: embedded}}\nmodels: {}\n")
    with pytest.raises(ConfigError, match="duplicate key 'models'"):
        startup_config(minimal(tmp_path), [twice])


# --- the same cases as Snakemake dry runs of the real Snakefile -----------------------------------

SNAKEFILE = Path(os.environ.get("TASKVECTORS_TEST_SNAKEFILE", REPO / "Snakefile"))


def dry_run(tmp_path: Path, config_text: str, *args: str) -> subprocess.CompletedProcess:
    """``snakemake -n`` of the real Snakefile on a config file, in a fresh working folder."""
    config = write(tmp_path / "config.yaml", config_text)
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "-s", str(SNAKEFILE)]
    command += ["--directory", str(tmp_path), "--configfile", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def assert_refused(result: subprocess.CompletedProcess, *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and 'File "' not in output, output
    for needle in needles:
        assert needle in output, output


def base_yaml(tmp_path: Path, extra: str = "") -> str:
    return (
        f"results_dir: {tmp_path / 'results'}\nreports_dir: {tmp_path / 'reports'}\n"
        f"data_dir: {DATA}\nmodels:\n  m: {{source: embedded, name: gemma-3-270m}}\n"
        f"tasks: [algorithmic_next_letter]\n{extra}"
    )


def test_dry_run_accepts_a_good_config_with_a_nested_override(tmp_path):
    result = dry_run(tmp_path, base_yaml(tmp_path), "--config", "prompts={n_demos: 4}")
    assert result.returncode == 0, result.stderr


def test_dry_run_refuses_an_empty_results_dir(tmp_path):
    text = base_yaml(tmp_path).replace(f"results_dir: {tmp_path / 'results'}", 'results_dir: ""')
    assert_refused(dry_run(tmp_path, text), "results_dir: '' is empty")


def test_dry_run_refuses_a_duplicated_model_alias(tmp_path):
    text = base_yaml(tmp_path, "models:\n  m: {source: hub, name: x}\n")
    assert_refused(dry_run(tmp_path, text), "duplicate key 'models'", "config.yaml")


def test_dry_run_refuses_a_bad_user_task_file(tmp_path):
    pairs = write(
        tmp_path / "mine.jsonl", '{"input": "a", "output": "b"}\n{"input": 3, "output": "c"}\n'
    )
    text = base_yaml(tmp_path, f"user_tasks:\n  mine: {{file: {pairs}}}\n").replace(
        "tasks: [algorithmic_next_letter]", "tasks: [mine]"
    )
    assert_refused(dry_run(tmp_path, text), str(pairs), "line 2")


def test_dry_run_refuses_more_demonstrations_than_pairs(tmp_path):
    text = base_yaml(tmp_path, "prompts: {n_demos: 30}\n")
    assert_refused(dry_run(tmp_path, text), "task algorithmic_next_letter: 25 pairs")


def test_dry_run_refuses_more_geometry_vectors_than_examples(tmp_path):
    text = base_yaml(tmp_path, "prompts: {n_dev: 4, n_test: 4}\n")
    assert_refused(dry_run(tmp_path, text), "analyses.geometry.n_vectors: 50 vectors per task")


def test_dry_run_refuses_a_template_without_x(tmp_path):
    text = base_yaml(tmp_path, "prompts:\n  template: {demonstration: 'Q: A: {y}'}\n")
    assert_refused(dry_run(tmp_path, text), "prompts.template")


def test_dry_run_writes_a_tilde_results_dir_below_home_not_in_the_working_folder(tmp_path):
    home = tmp_path / "home"
    config = write(tmp_path / "config.yaml", base_yaml(tmp_path))
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "-s", str(SNAKEFILE)]
    command += ["--directory", str(tmp_path), "--configfile", str(config)]
    command += ["--config", "results_dir=~/tv_results"]
    env = {**os.environ, "HOME": str(home)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{home}/tv_results/summary.csv" in result.stdout
    assert "~/tv_results/" not in result.stdout  # (the command line echoes "~/tv_results")


def test_dry_run_refuses_an_unknown_order_task_without_a_traceback(tmp_path):
    text = base_yaml(tmp_path, "analyses:\n  order: {tasks: [nope]}\n")
    assert_refused(dry_run(tmp_path, text), "analyses.order.tasks: ['nope'] are not tasks of")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_dry_run_refuses_an_unreadable_user_task_file_in_one_line(tmp_path):
    pairs = pairs_file(tmp_path / "mine.jsonl", 12)
    pairs.chmod(0)
    text = base_yaml(tmp_path, f"user_tasks:\n  mine: {{file: {pairs}}}\n").replace(
        "tasks: [algorithmic_next_letter]", "tasks: [mine]"
    )
    assert_refused(dry_run(tmp_path, text), f"task mine, {pairs}: cannot read the file")


def test_dry_run_refuses_a_reports_dir_on_the_report_templates_and_leaves_them(tmp_path):
    templates = REPO / "workflow" / "taskvectors" / "report" / "templates"
    before = sorted(path.name for path in templates.iterdir())
    text = base_yaml(tmp_path).replace(str(tmp_path / "reports"), str(templates))
    assert_refused(dry_run(tmp_path, text), "reports_dir: ", "is inside the workflow folder")
    assert sorted(path.name for path in templates.iterdir()) == before


def test_dry_run_refuses_a_300_character_model_alias_in_one_line(tmp_path):
    text = base_yaml(tmp_path).replace(
        "  m: {source: embedded, ", f"  {'m' * 300}: {{source: embedded, "
    )
    assert_refused(dry_run(tmp_path, text), "(300 characters) is not valid: a model alias is")


def test_dry_run_of_a_config_that_is_fine_leaves_no_lock(tmp_path):
    result = dry_run(tmp_path, base_yaml(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "results" / ".taskvectors.lock").exists()


def test_a_config_file_with_a_yaml_error_has_its_line_from_taskvectors_check(tmp_path):
    # Snakemake reads --configfile before the Snakefile and reports YAML errors without a line;
    # `taskvectors check` is the documented way to get it.
    bad = write(tmp_path / "bad.yaml", "models:\n  m: {source: embedded\n")
    result = subprocess.run(
        [sys.executable, "-m", "taskvectors.cli.main", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow")},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"taskvectors check: {bad}, line 3")
    assert "Traceback" not in result.stderr


# --- names that become file names --------------------------------------------------------------


def test_a_model_alias_too_long_for_a_file_name_is_refused(tmp_path):
    alias = "a" * 300
    assert refusal(minimal(tmp_path, models={alias: EMBEDDED})) == (
        f"invalid configuration: models: '{'a' * 58}… (300 characters) is not valid: a model "
        "alias is letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 "
        "characters (it names result files, and a file name has at most 255 bytes)"
    )


def test_a_model_alias_of_100_characters_is_fine(tmp_path):
    startup_config(minimal(tmp_path, models={"a" * 100: EMBEDDED}))


@pytest.mark.parametrize("alias", ["a/b", "..", "a\\b"])
def test_a_model_alias_with_a_path_separator_is_refused(tmp_path, alias):
    assert "is not valid: a model alias is" in refusal(minimal(tmp_path, models={alias: EMBEDDED}))


def test_a_user_task_name_too_long_for_a_file_name_is_refused(tmp_path):
    name = "t" * 300
    pairs = pairs_file(tmp_path / "p.jsonl", 12)
    config = minimal(tmp_path, user_tasks={name: {"file": str(pairs)}}, tasks=[name])
    assert refusal(config) == (
        f"invalid configuration: task {'t' * 40}…, config user_tasks: a task name must be letters, "
        "digits and single underscores, at most 100 characters (it names files, and '__' "
        f"separates task pairs), got '{'t' * 58}… (300 characters)"
    )


@pytest.mark.parametrize("name", ["a/b", "a__b", "../x"])
def test_a_user_task_name_that_is_not_a_file_name_is_refused(tmp_path, name):
    pairs = pairs_file(tmp_path / "p.jsonl", 12)
    config = minimal(tmp_path, user_tasks={name: {"file": str(pairs)}}, tasks=[name])
    assert "a task name must be letters, digits and single underscores" in refusal(config)


def test_a_registry_task_name_too_long_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    entry = "{family: algorithmic, source: {generator: next_letter}, scoring: exact, "
    entry += "filter: none, default: true, description: ''}"
    write(data / "tasks.yaml", f"tasks:\n  {'x' * 101}: {entry}\n")
    assert "at most 100 characters" in refusal(minimal(tmp_path, data_dir=str(data)))


@pytest.mark.parametrize("key", ["results_dir", "reports_dir", "data_dir", "model_cache_dir"])
def test_a_folder_name_longer_than_a_file_system_allows_is_refused(tmp_path, key):
    value = str(tmp_path / ("r" * 256) / "x")
    assert path_problems(minimal(tmp_path, **{key: value})) == [
        f"{key}: the folder name '{'r' * 58}… (256 characters) has 256 bytes; file systems "
        "allow 255"
    ]


# --- quick: true (config/smoke.yaml) sizes every analysis down by its declared quick settings ---

QUICK = [name for name, a in registry().items() if a.quick_settings]


def _nested_keys(settings, prefix=""):
    """The dotted keys of the leaves of ``settings``."""
    for key, value in settings.items():
        if isinstance(value, dict):
            yield from _nested_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.mark.parametrize("name", QUICK)
def test_quick_applies_an_analysis_s_quick_settings_and_keys_written_win(tmp_path, name):
    quick = registry()[name].quick_settings
    plain = validate_config(minimal(tmp_path))["analyses"][name]
    sized = validate_config(minimal(tmp_path, quick=True))["analyses"][name]
    for key in _nested_keys(quick):
        *parents, leaf = key.split(".")
        want, got = quick, sized
        for part in parents:
            want, got = want[part], got[part]
        assert got[leaf] == want[leaf], key
    assert sized != plain  # the quick settings differ from the defaults
    first = next(iter(quick))
    written = validate_config(minimal(tmp_path, quick=True, analyses={name: {first: plain[first]}}))
    assert written["analyses"][name][first] == plain[first]


def test_quick_merges_nested_settings_key_by_key():
    quick = registry()["gd"].quick_settings["order"]
    config = with_quick_settings({"quick": True, "analyses": {"gd": {"order": {"n_examples": 1}}}})
    assert config["analyses"]["gd"]["order"] == {**quick, "n_examples": 1}
    assert with_quick_settings({"analyses": {}}) == {"analyses": {}}


def test_the_smoke_config_names_no_analysis_only_to_size_it_down():
    """config/smoke.yaml takes the analyses' sizes from their declarations (``quick: true``), so
    a new analysis is in the smoke run, sized down, without an edit there."""
    written = read_config_file(REPO / "config" / "smoke.yaml")
    assert written["quick"] is True
    assert all(set(settings) == {"enabled"} for settings in written["analyses"].values())
