"""Model problems found at start-up without weights, network or torch (issue 21, item 8): each is
one line from ``taskvectors check`` and ``snakemake -n`` instead of a traceback in the first job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from taskvectors.engine import model_files
from taskvectors.pipeline.config import ConfigError
from taskvectors.pipeline.preflight import startup_config
from tiny_models import save_tiny_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return save_tiny_model("llama", tmp_path_factory.mktemp("models") / "llama")


def config(tmp_path: Path, entry: dict, **overrides) -> dict:
    return {
        "results_dir": str(tmp_path / "results"),
        "reports_dir": str(tmp_path / "reports"),
        "data_dir": str(REPO / "data"),
        "models": {"m": entry},
        "tasks": ["algorithmic_next_letter"],
        **overrides,
    }


def refusal(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        startup_config(config)
    return str(error.value)


def copy_of(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def test_a_complete_local_folder_passes(tmp_path, tiny_folder):
    startup_config(config(tmp_path, {"source": "local", "path": str(tiny_folder)}))


def test_an_unknown_embedded_name_is_refused(tmp_path):
    assert refusal(config(tmp_path, {"source": "embedded", "name": "gemma-9"})) == (
        "the run cannot start: models.m: no embedded model 'gemma-9'; embedded models: "
        "gemma-3-270m (set `name`, or use source hub or local)"
    )


def test_the_embedded_names_are_the_models_module_s(tmp_path):
    from taskvectors.engine.models import EMBEDDED_MODELS

    assert tuple(EMBEDDED_MODELS) == model_files.EMBEDDED_NAMES


def test_a_local_model_without_path_is_refused(tmp_path):
    assert refusal(config(tmp_path, {"source": "local"})) == (
        "the run cannot start: models.m: a local model needs `path`, the folder holding it"
    )


def test_a_missing_local_folder_is_refused(tmp_path):
    missing = str(tmp_path / "nope")
    assert refusal(config(tmp_path, {"source": "local", "path": missing})) == (
        f"the run cannot start: models.m.path: {missing!r} does not exist"
    )


def test_an_empty_local_folder_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert refusal(config(tmp_path, {"source": "local", "path": str(empty)})) == (
        f"the run cannot start: models.m.path: {empty} is not a complete model folder: no "
        "config.json; no *.safetensors weights (weights load from safetensors only); no tokenizer "
        "file (one of tokenizer.json, tokenizer.model, vocab.json, tiktoken.model)"
    )


def test_a_truncated_safetensors_file_is_refused(tmp_path, tiny_folder):
    folder = copy_of(tiny_folder, tmp_path)
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.truncate(size - 100)
    assert refusal(config(tmp_path, {"source": "local", "path": str(folder)})) == (
        f"the run cannot start: models.m.path: {folder}: model.safetensors is truncated: "
        f"{size - 100} bytes, its tensors need {size}"
    )


def test_a_safetensors_file_cut_inside_its_header_is_refused(tmp_path, tiny_folder):
    folder = copy_of(tiny_folder, tmp_path)
    with open(folder / "model.safetensors", "r+b") as handle:
        handle.truncate(20)
    assert "model.safetensors is truncated (its header alone needs" in refusal(
        config(tmp_path, {"source": "local", "path": str(folder)})
    )


def test_a_folder_needing_its_own_code_is_refused_without_trust_remote_code(tmp_path, tiny_folder):
    folder = copy_of(tiny_folder, tmp_path)
    settings = json.loads((folder / "config.json").read_text())
    settings["model_type"] = "my_own_llama"
    settings["auto_map"] = {"AutoModelForCausalLM": "modeling_mine.MyModel"}
    (folder / "config.json").write_text(json.dumps(settings))
    entry = {"source": "local", "path": str(folder)}
    assert refusal(config(tmp_path, entry)) == (
        f"the run cannot start: models.m: {folder} needs its own code (config.json has auto_map, "
        "and transformers does not know model type 'my_own_llama'); set trust_remote_code: true "
        "if you trust it"
    )
    startup_config(config(tmp_path, {**entry, "trust_remote_code": True}))


def test_a_hub_model_missing_from_the_cache_offline_is_refused(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    entry = {"source": "hub", "name": "org/model", "revision": "abc"}
    assert refusal(config(tmp_path, entry)) == (
        "the run cannot start: models.m: HF_HUB_OFFLINE=1 is set and org/model@abc is not in the "
        f"Hugging Face cache ({tmp_path / 'hub'}); prepare it where the hub is reachable, or "
        "unset HF_HUB_OFFLINE"
    )


def test_a_hub_model_without_name_is_refused(tmp_path):
    assert refusal(config(tmp_path, {"source": "hub"})) == (
        "the run cannot start: models.m: a hub model needs `name`, its hub id (org/name)"
    )


def test_a_model_cache_that_cannot_be_created_is_refused(tmp_path):
    entry = {"source": "embedded", "name": "gemma-3-270m"}
    assert refusal(config(tmp_path, entry, model_cache_dir="/proc/taskvectors")) == (
        "the run cannot start: model_cache_dir: '/proc/taskvectors' cannot be created (No such "
        "file or directory in /proc)"
    )


def test_an_output_folder_below_a_file_is_refused(tmp_path):
    (tmp_path / "a_file").write_text("")
    entry = {"source": "embedded", "name": "gemma-3-270m"}
    results = str(tmp_path / "a_file" / "results")
    assert refusal(config(tmp_path, entry, results_dir=results)) == (
        f"the run cannot start: results_dir: {results!r} cannot be created ({tmp_path / 'a_file'} "
        "is a file)"
    )


def test_a_task_whose_prompts_cannot_fit_the_context_is_refused_at_start_up(tmp_path, tiny_folder):
    """Issue 21: a huge user-task input is refused before any job, from the model folder's own
    tokenizer and context (256 positions for the tiny models)."""
    lines = [json.dumps({"input": f"w{i}", "output": f"v{i}"}) for i in range(20)]
    lines.append(json.dumps({"input": " ".join(["long"] * 400), "output": "x"}))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    entry = {"source": "local", "path": str(tiny_folder)}
    user = {"huge": {"file": str(pairs), "filter": "none"}}
    message = refusal(config(tmp_path, entry, user_tasks=user, tasks=["huge"]))
    assert message.startswith("the run cannot start: task huge: its prompts can reach ")
    assert "but model m reads 256 (max_position_embeddings)" in message
    small = {"small": {"file": str(pairs), "filter": "none"}}
    lines.pop()
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    startup_config(config(tmp_path, entry, user_tasks=small, tasks=["small"]))


def test_the_context_check_counts_the_worst_case_prompt(tiny_folder):
    from taskvectors.pipeline.context_preflight import (
        context_length,
        folder_tokenizer,
        task_prompt_tokens,
    )
    from taskvectors.tasks.pairs import Pair
    from taskvectors.tasks.prompts import get_template

    tokenizer, template = folder_tokenizer(tiny_folder), get_template("paper")
    assert context_length(tiny_folder) == 256
    pairs = [Pair("a", ("b",)), Pair("ccc ccc ccc", ("ddd",)), Pair("e", ("f",))]
    worst = template.icl_prompt([("ccc ccc ccc", "ddd"), ("a", "b")], "ccc ccc ccc")
    # the two longest pairs as demonstrations, the longest input as the query, plus BOS
    assert task_prompt_tokens(tokenizer, template, pairs, 2) == len(tokenizer.encode(worst).ids) + 1
    assert task_prompt_tokens(tokenizer, template, [], 2) == 0
