"""The model pre-flight: supported architectures, an unsupported config, and the memory figures,
all from config files alone (tiny configs saved to temporary folders, no weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import BertConfig, T5Config

from taskvectors.cli.main import main
from taskvectors.engine.model_check import check_model, format_check, looks_like_a_path
from taskvectors.engine.resources import estimate_model_memory, parameters_in_folder
from tiny_models import ARCHITECTURES, save_tiny_model, tiny_model

EXPECTED = {
    "gpt2": ("transformer.h", 3, "transformer.ln_f", "lm_head"),
    "gptj": ("transformer.h", 3, "transformer.ln_f", "lm_head"),
    "gpt_neox": ("gpt_neox.layers", 4, "gpt_neox.final_layer_norm", "lm_head"),
    "llama": ("model.layers", 4, "model.norm", "lm_head"),
    "qwen2": ("model.layers", 4, "model.norm", "lm_head"),
    "gemma3_text": ("model.layers", 4, "model.norm", "lm_head"),
}


def config_folder(arch: str, folder: Path) -> Path:
    """A folder holding only the config.json of a tiny ``arch`` model."""
    model, _ = tiny_model(arch)
    model.config.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_tiny_architecture_is_supported_from_its_config_alone(arch, tmp_path):
    folder = config_folder(arch, tmp_path / arch)
    assert [path.name for path in folder.iterdir()] == ["config.json"]
    check = check_model(str(folder))
    blocks, n_layers, norm, head = EXPECTED[arch]
    assert check.supported, check.problems
    assert (check.model_type, check.blocks_path, check.blocks_found_by) == (arch, blocks, "table")
    assert (check.n_layers, check.final_norm, check.unembedding) == (n_layers, norm, head)
    model, _ = tiny_model(arch)
    assert check.n_params == sum(parameter.numel() for parameter in model.parameters())
    assert check.memory_mb == {
        dtype: estimate_model_memory(check.n_params, dtype)
        for dtype in ("float32", "bfloat16", "float16")
    }
    text = format_check(check)
    assert text.startswith(f"{folder}: supported\n") and blocks in text


@pytest.mark.parametrize("arch", ["gpt2", "gptj"])  # tied and untied unembedding
def test_meta_count_equals_the_safetensors_headers(arch, tmp_path):
    folder = save_tiny_model(arch, tmp_path / arch)
    assert check_model(str(folder)).n_params == parameters_in_folder(folder)


def test_unknown_model_type_uses_the_fallback_and_says_so(tmp_path):
    folder = config_folder("llama", tmp_path / "llama")
    from taskvectors.engine import layers

    check_table = check_model(str(folder))
    layers.BLOCK_PATHS.pop("llama")
    try:
        check = check_model(str(folder))
    finally:
        layers.BLOCK_PATHS["llama"] = "model.layers"
    assert check.supported
    assert (check.blocks_path, check.blocks_found_by) == ("model.layers", "fallback")
    assert any("fallback" in note for note in check.notes)
    assert check_table.blocks_found_by == "table" and not check_table.notes


def test_encoder_decoder_config_is_refused_clearly(tmp_path):
    T5Config(d_model=32, num_layers=2, num_heads=4, d_ff=64).save_pretrained(tmp_path)
    check = check_model(str(tmp_path))
    assert not check.supported
    assert check.model_type == "t5" and check.n_layers == 2
    assert len(check.problems) == 1
    assert check.problems[0].startswith("not a causal language model transformers can build: ")
    assert "T5Config" in check.problems[0] and "\n" not in check.problems[0]
    assert format_check(check).startswith(f"{tmp_path}: NOT supported\n  model type t5")


def test_post_norm_encoder_with_an_lm_head_lacks_the_final_norm(tmp_path):
    """BERT has a causal-LM head class, but no final norm before it: the top-token projection of
    task vectors would be wrong, so it is refused with that reason."""
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4).save_pretrained(tmp_path)
    check = check_model(str(tmp_path))
    assert not check.supported
    assert check.blocks_path == "bert.encoder.layer"
    assert check.problems == ("no final norm: BertLMHeadModel: no final norm found",)


def test_folder_without_config_is_refused_clearly(tmp_path):
    check = check_model(str(tmp_path))
    assert not check.supported
    assert check.problems == (f"cannot read its config: {tmp_path} has no config.json",)
    assert "problem: cannot read its config" in format_check(check)


def test_hub_id_not_reachable_is_a_problem_not_a_crash(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    check = check_model("EleutherAI/pythia-2.8b", revision="main")
    assert not check.supported
    assert check.problems[0].startswith("cannot read its config: ")


@pytest.mark.parametrize("source", ["models/nope", "./nope", "nope/", "a/b/c", "~/no_such_model"])
def test_a_missing_path_is_refused_as_a_missing_folder_not_a_hub_id(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    check = check_model(source)
    assert check.problems == (
        f"cannot read its config: no local folder {source} (it reads as a path, not as a hub id "
        "such as org/name)",
    )


def test_hub_ids_do_not_read_as_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not looks_like_a_path("Qwen/Qwen2.5-1.5B") and not looks_like_a_path("gpt2")
    (tmp_path / "Qwen").mkdir()
    assert looks_like_a_path("Qwen/Qwen2.5-1.5B")  # a folder of that name is here


def test_check_model_command_names_the_missing_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    assert main(["check-model", "models/nope"]) == 1
    assert capsys.readouterr().out == (
        "models/nope: NOT supported\n  problem: cannot read its config: no local folder "
        "models/nope (it reads as a path, not as a hub id such as org/name)\n"
    )
