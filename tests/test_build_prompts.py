"""The prompt file (built by run_task): its contents, and byte-identical output in any process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskvectors.results.storage import read_json, write_json
from taskvectors.tasks import load_pairs, load_registry
from taskvectors.tasks.prompt_files import build_prompt_document
from taskvectors.tasks.prompts import get_template
from tiny_tokenizer import tiny_tokenizer

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR.parent / "data"
SETTINGS = {"n_demos": 5, "n_dev": 10, "n_test": 20, "n_dummy": 2, "seed": 41}
MODEL = {"alias": "tiny", "source": "test", "revision": "none", "dtype": "float32"}

# The same build, run by a fresh interpreter (under a chosen PYTHONHASHSEED).
SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from tiny_tokenizer import tiny_tokenizer
from taskvectors.tasks.prompts import get_template
from taskvectors.tasks.prompt_files import build_prompt_document
from taskvectors.results.storage import write_json
from taskvectors.tasks import load_pairs, load_registry

def build_prompts(spec, data_dir, tokenizer, template, settings, model, out):
    document = build_prompt_document(spec, data_dir, tokenizer, template, settings, model)
    write_json(out, document)
    return document

registry = load_registry(Path({data!r}), {user_tasks!r})
build_prompts(registry[{task!r}], Path({data!r}), tiny_tokenizer(), get_template("paper"),
              {settings!r}, {model!r}, Path(sys.argv[1]))
"""


def build_prompts(spec, data_dir, tokenizer, template, settings, model, out: Path) -> dict:
    """Build the prompt document and write it, as run_task does."""
    document = build_prompt_document(spec, data_dir, tokenizer, template, settings, model)
    write_json(out, document)
    return document


def build_in_process(task: str, out: Path, user_tasks: dict | None = None) -> dict:
    registry = load_registry(DATA_DIR, user_tasks)
    return build_prompts(
        registry[task], DATA_DIR, tiny_tokenizer(), get_template("paper"), SETTINGS, MODEL, out
    )


def build_in_subprocess(task: str, out: Path, hash_seed: str, user_tasks: dict | None) -> bytes:
    script = SCRIPT.format(
        tests=str(TESTS_DIR),
        data=str(DATA_DIR),
        user_tasks=user_tasks,
        task=task,
        settings=SETTINGS,
        model=MODEL,
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True, timeout=300)
    return out.read_bytes()


@pytest.fixture
def user_tasks(tmp_path) -> dict:
    # a user task from a JSON object, whose key order differs from sorted order
    lines = ",".join(f'"w{i:02d}{c}": "{c}"' for i in range(30, 0, -1) for c in "abz")
    (tmp_path / "mine.json").write_text("{" + lines + "}", encoding="utf-8")
    return {"my_task": {"file": str(tmp_path / "mine.json")}}


def test_prompt_file_contents(tmp_path) -> None:
    out = tmp_path / "prompts" / "tiny" / "algorithmic_list_first.json"
    document = build_in_process("algorithmic_list_first", out)
    assert read_json(out) == document
    assert set(document) == {"provenance", "task", "template", "settings", "spacing", "filter",
                             "splits", "examples"}  # fmt: skip
    assert document["task"]["name"] == "algorithmic_list_first"
    assert document["task"]["source"] == {"generator": "list_first"}
    assert document["template"] == {
        "name": "paper", "demonstration": "example:{x}->{y}", "separator": "\n",
    }  # fmt: skip
    assert document["settings"] == SETTINGS
    # answers "z" merge with "->" in the tiny tokenizer, so those lists are filtered out
    pairs = load_pairs(load_registry(DATA_DIR)["algorithmic_list_first"], DATA_DIR)
    n_z = sum(1 for pair in pairs if pair.answers == ("z",))
    n_b = sum(1 for pair in pairs if pair.answers == ("b",))
    assert n_z > 0 and n_b > 0
    assert document["filter"] == {"policy": "single_token", "n_pairs": 1000, "n_kept": 1000 - n_z}
    # algorithmic tasks stay unspaced; the spaced form would keep only " b" (one tiny token)
    assert document["spacing"]["setting"] == "none" and document["spacing"]["chosen"] == "none"
    assert document["spacing"]["n_kept"] == {"none": 1000 - n_z, "leading": n_b}
    assert document["spacing"]["templates"]["leading"]["demonstration"] == "example: {x}-> {y}"
    examples = document["examples"]
    assert len(examples) == 30 and all(e["answers"][0] != "z" for e in examples)
    assert all(isinstance(e["demos"][0], list) for e in examples)
    assert document["splits"] == {
        "dev": {"n_examples": 10, "n_queries": 10},
        "test": {"n_examples": 20, "n_queries": 20},
    }
    tokenizer = tiny_tokenizer()
    for example in examples:  # the answer's first token, tokenized after its own prompt
        (first_id,) = example["answer_first_token_ids"]
        assert first_id == tokenizer.convert_tokens_to_ids(example["answers"][0])
    settings = document["provenance"]["settings"]
    assert settings == {**SETTINGS, "task": "algorithmic_list_first", "spacing": "none",
                        "template": document["template"]}  # fmt: skip
    assert document["provenance"]["model"]["alias"] == "tiny"


def test_missing_settings_are_reported(tmp_path) -> None:
    task = load_registry(DATA_DIR)["algorithmic_next_letter"]
    settings = {key: value for key, value in SETTINGS.items() if key != "n_dummy"}
    with pytest.raises(ValueError, match=r"miss \['n_dummy'\]"):
        build_prompts(task, DATA_DIR, None, get_template("paper"), settings, MODEL, tmp_path / "x")
    with pytest.raises(ValueError, match="seed must be an integer"):
        build_prompts(task, DATA_DIR, None, get_template("paper"), {**SETTINGS, "seed": "41"},
                      MODEL, tmp_path / "x")  # fmt: skip
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("task", ["algorithmic_list_first", "my_task"])
def test_prompt_files_are_byte_identical_across_processes(tmp_path, user_tasks, task) -> None:
    reference = build_in_process(task, tmp_path / "in_process.json", user_tasks)
    assert reference["examples"]
    expected = (tmp_path / "in_process.json").read_bytes()
    for hash_seed in ("0", "123"):
        out = tmp_path / f"hashseed_{hash_seed}.json"
        assert build_in_subprocess(task, out, hash_seed, user_tasks) == expected, hash_seed
