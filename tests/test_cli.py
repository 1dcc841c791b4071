"""The ``taskvectors tasks`` command: the registry and a config's user tasks, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from taskvectors.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def test_tasks_lists_every_registry_task_with_its_pairs(capsys):
    assert main(["tasks", "--data-dir", str(REPO / "data")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 27 + 4  # the paper's tasks and the novel ones
    assert sum(line.split()[1] == "novel" for line in lines[1:]) == 4
    next_letter = next(line for line in lines if line.startswith("algorithmic_next_letter "))
    assert next_letter.split()[-2:] == ["yes", "25"]


def test_tasks_validates_a_configs_user_task(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"input": "a", "output": "b"}\n{"input": "a", "output": "c"}\n')
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {"m": {"source": "embedded", "name": "gemma-3-270m"}},
                "data_dir": str(REPO / "data"),
                "user_tasks": {"mine": {"file": str(pairs)}},
            }
        )
    )
    assert main(["tasks", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "pairs.jsonl" in error and "line 2" in error


def test_tasks_names_file_and_line_of_a_yaml_error_without_a_traceback(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("models:\n  m: {source: embedded}\nprompts:\n  n_demos: [1, 2\n")
    assert main(["tasks", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"taskvectors tasks: {config}, line 5")
    assert error.count("\n") == 1


def test_tasks_refuses_a_config_the_schema_rejects_in_one_line(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("models: {m: {source: embedded}}\nevaluation: {answer: greddy}\n")
    assert main(["tasks", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"taskvectors tasks: {config}: invalid configuration: evaluation.answer: 'greddy' is not "
        "one of ['first_token', 'greedy']\n"
    )


def test_check_passes_a_shipped_config(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["check", "--config", "config/smoke.yaml"]) == 0
    assert capsys.readouterr().out.startswith("config/smoke.yaml: ok (1 model(s)")


def test_check_show_prints_the_resolved_config_which_resolves_to_itself(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.chdir(REPO)
    assert main(["check", "--config", "config/config.yaml", "--show"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("config/config.yaml: ok")
    shown = yaml.safe_load(out)
    assert shown["prompts"]["n_dev"] == 50 and shown["analyses"]["gd"]["order"]["n_permutations"]
    monkeypatch.setenv("TASKVECTORS_CACHE", str(tmp_path / "cache"))
    assert main(["check", "--config", "config/config.yaml", "--show"]) == 0
    out = capsys.readouterr().out
    cache_line = f"model_cache_dir: ''  # empty: the default, here {tmp_path / 'cache' / 'models'}"
    assert cache_line in out.splitlines()
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(out)
    assert main(["check", "--config", str(resolved), "--show"]) == 0
    assert capsys.readouterr().out == out


def test_check_lists_every_start_up_problem_of_a_config(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(f'{{"input": "i{n}", "output": "o{n}"}}\n' for n in range(4)))
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {"m": {"source": "embedded", "name": "gemma-3-270m"}},
                "data_dir": str(REPO / "data"),
                "results_dir": str(pairs),
                "user_tasks": {"mine": {"file": str(pairs)}},
                "tasks": ["mine"],
            }
        )
    )
    assert main(["check", "--config", str(config)]) == 2
    assert "results_dir" in capsys.readouterr().err
    config.write_text(config.read_text().replace(f"results_dir: {pairs}", "results_dir: out"))
    assert main(["check", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"taskvectors check: {config}: the run cannot start: task mine: 4 pairs"
    )


def test_bench_refuses_a_config_with_a_duplicated_model_alias(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("models:\n  m: {source: embedded}\n  m: {source: hub}\n")
    assert main(["bench", "--model", "m", "--config", str(config)]) == 2
    assert "duplicate key 'm'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "option"),
    [("pipeline", "--keep"), ("gd", "--model-record"), ("fv", "--help"), ("load", "--reference")],
)
def test_bench_runs_every_benchmark_by_name(name, option, capsys):
    """``taskvectors bench pipeline|gd|fv|load`` hand their arguments to that benchmark."""
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"taskvectors bench {name}" in out and option in out


def test_bench_sweep_is_the_default_benchmark(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "sweep", "--examples", "0"])
    assert "--examples" in capsys.readouterr().err
