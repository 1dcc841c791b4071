"""Per-model job resources from the parameter count: read without weights, sized by dtype and
device, with a stated default when the model is not on this machine yet."""

from __future__ import annotations

import logging

import pytest

from taskvectors.engine import resources
from taskvectors.engine.models import EMBEDDED_MODELS, ModelSpec, resolve_model
from taskvectors.engine.resources import (
    DEFAULT_RESOURCES,
    estimate_model_memory,
    model_resources,
    model_size,
    parameters_in_folder,
)
from tiny_models import save_tiny_model, tiny_model

SEVEN_B = 7_000_000_000


def test_memory_grows_with_parameters_and_bytes_per_parameter():
    small, large = (
        estimate_model_memory(10**8, "bfloat16"),
        estimate_model_memory(SEVEN_B, "bfloat16"),
    )
    assert small < large
    full = estimate_model_memory(SEVEN_B, "float32")
    weights_bf16 = SEVEN_B * 2 / 2**20
    assert large > weights_bf16 and full > 2 * weights_bf16
    assert full - large == pytest.approx(large - estimate_model_memory(0, "bfloat16"), abs=256)
    assert all(mb % 256 == 0 for mb in (small, large, full))
    assert estimate_model_memory(SEVEN_B, "float16") == large
    with pytest.raises(ValueError, match="float64"):
        estimate_model_memory(10, "float64")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_model("gptj", tmp_path_factory.mktemp("gptj"))


def test_parameters_are_read_from_the_safetensors_headers(tiny_folder):
    model, _ = tiny_model("gptj")
    assert parameters_in_folder(tiny_folder) == sum(p.numel() for p in model.parameters())
    assert parameters_in_folder(tiny_folder.parent / "nowhere") is None


def test_unreadable_weights_give_no_count(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\x01")
    assert parameters_in_folder(tmp_path) is None
    (tmp_path / "model.safetensors").write_bytes((10**9).to_bytes(8, "little") + b"{}")
    assert parameters_in_folder(tmp_path) is None


@pytest.mark.parametrize(
    ("device", "needs_gpu"), [("cpu", False), ("cuda", True), ("cuda:1", True), ("auto", True)]
)
def test_resources_follow_the_device(tiny_folder, device, needs_gpu):
    entry = {"source": "local", "path": str(tiny_folder), "device": device}
    result = model_resources(entry)
    assert set(result) == {"mem_mb", "gpu_mem_mb"}
    assert all(isinstance(value, int) for value in result.values())
    assert (result["gpu_mem_mb"] > 0) is needs_gpu
    assert result["mem_mb"] > 0


def test_resources_of_a_record_use_the_requested_dtype(tiny_folder, monkeypatch):
    monkeypatch.setattr(resources, "parameters_in_folder", lambda folder: SEVEN_B)
    record = resolve_model(
        ModelSpec.from_config("m", {"source": "local", "path": str(tiny_folder)})
    )
    auto = model_resources(record.to_dict())
    assert auto["gpu_mem_mb"] == estimate_model_memory(SEVEN_B, "bfloat16")
    assert auto["mem_mb"] >= estimate_model_memory(SEVEN_B, "float32")  # a CPU run is possible
    pinned = model_resources(
        {**record.to_dict(), "requested_dtype": "float32", "requested_device": "cpu"}
    )
    assert pinned == {"mem_mb": estimate_model_memory(SEVEN_B, "float32"), "gpu_mem_mb": 0}


def test_hub_model_not_downloaded_gets_the_default_and_says_so(monkeypatch, tmp_path, caplog):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    entry = {"source": "hub", "name": "EleutherAI/pythia-12b", "revision": "main"}
    with caplog.at_level(logging.WARNING, logger="taskvectors.engine.resources"):
        assert model_resources(entry) == DEFAULT_RESOURCES
    assert "not on this machine yet" in caplog.text and "prepare_model" in caplog.text
    assert model_size(entry).n_params is None


def test_hub_model_with_only_its_config_cached_is_counted_on_meta(monkeypatch, tmp_path):
    from huggingface_hub import constants

    commit = "f" * 40
    snapshot = tmp_path / "models--acme--tiny" / "snapshots" / commit
    model, _ = tiny_model("llama")
    model.config.save_pretrained(snapshot)
    (tmp_path / "models--acme--tiny" / "refs").mkdir()
    (tmp_path / "models--acme--tiny" / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    size = model_size({"source": "hub", "name": "acme/tiny", "revision": "main"})
    assert size.n_params == sum(p.numel() for p in model.parameters())
    assert size.basis.startswith("config ")


def test_embedded_model_not_converted_yet_uses_its_known_size(tmp_path):
    size = model_size({"source": "embedded", "alias": "gemma-3-270m"}, cache_dir=tmp_path)
    assert size.n_params == EMBEDDED_MODELS["gemma-3-270m"].n_params
    result = model_resources(
        {"source": "embedded", "name": "gemma-3-270m", "device": "cpu"}, tmp_path
    )
    assert result["mem_mb"] == estimate_model_memory(size.n_params, "float32")
