"""The ``taskvectors tasks`` command: the registry and a config's user tasks, or a clear error."""

from __future__ import annotations

from pathlib import Path

import yaml

from taskvectors.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_tasks_lists_every_registry_task_with_its_pairs(capsys):
    assert main(["tasks", "--data-dir", str(REPO / "data")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 27
    next_letter = next(line for line in lines if line.startswith("algorithmic_next_letter "))
    assert next_letter.split()[-2:] == ["yes", "25"]


def test_tasks_validates_a_configs_user_task(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"input": "a", "output": "b"}\n{"input": "a", "output": "c"}\n')
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {"m": {"source": "embedded"}},
                "data_dir": str(REPO / "data"),
                "user_tasks": {"mine": {"file": str(pairs)}},
            }
        )
    )
    assert main(["tasks", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "pairs.jsonl" in error and "line 2" in error
