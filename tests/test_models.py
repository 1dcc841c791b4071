"""Model resolution and loading: config entries, devices and dtypes, local folders, clear errors,
and the atomic conversion of embedded models (tested with fake converters, no real download)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from taskvectors import models
from taskvectors.models import (
    COMPLETE_MARKER,
    ModelLoadError,
    ModelRecord,
    ModelSpec,
    load_model,
    resolve_dtype,
    resolve_model,
)
from tiny_models import ARCHITECTURES, save_tiny_model, tiny_model

# --- config entries ------------------------------------------------------------------------------


def test_spec_from_config_defaults():
    spec = ModelSpec.from_config("gemma-3-270m", {"source": "embedded"})
    assert spec == ModelSpec("gemma-3-270m", "embedded", "gemma-3-270m")
    assert (spec.revision, spec.dtype, spec.device, spec.trust_remote_code) == (
        None,
        "auto",
        "auto",
        False,
    )


def test_spec_from_config_hub_and_local():
    hub = ModelSpec.from_config(
        "pythia", {"name": "EleutherAI/pythia-160m", "revision": "abc123", "dtype": "float16"}
    )
    assert (hub.source, hub.name_or_path, hub.revision, hub.dtype) == (
        "hub",
        "EleutherAI/pythia-160m",
        "abc123",
        "float16",
    )
    local = ModelSpec.from_config(
        "mine", {"source": "local", "path": "/models/mine", "device": "cpu"}
    )
    assert (local.source, local.name_or_path, local.device) == ("local", "/models/mine", "cpu")


def test_spec_without_name_names_the_alias():
    with pytest.raises(ModelLoadError, match="'pythia'.*'name' or 'path'"):
        ModelSpec.from_config("pythia", {"source": "hub"})


def test_resolve_device_and_dtype():
    assert models.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert models.resolve_device("auto") == torch.device("cpu")
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_dtype("float16", cpu) == torch.float16
    with pytest.raises(ValueError, match="float64"):
        resolve_dtype("float64", cpu)


# --- local folders -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_folder(tmp_path_factory) -> Path:
    return save_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama"))


def test_local_model_resolves_and_loads(local_folder):
    spec = ModelSpec.from_config("tiny", {"source": "local", "path": str(local_folder)})
    record = resolve_model(spec)
    assert record.local_path == str(local_folder)
    assert (record.alias, record.source, record.model_type) == ("tiny", "local", "llama")
    assert (record.n_layers, record.d_model, record.vocab_size) == (4, 32, 101)
    assert ModelRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    model, tokenizer = load_model(record)
    assert not model.training
    assert next(model.parameters()).dtype == torch.float32
    assert not any(parameter.requires_grad for parameter in model.parameters())
    assert tokenizer.padding_side == "left" and tokenizer.pad_token_id is not None
    assert tokenizer.decode(tokenizer("example:a->b\n")["input_ids"]) == "example:a->b\n"


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_tiny_architecture_round_trips_through_a_local_folder(arch, tmp_path):
    """Same logits and the same character tokenization after save and load (AutoTokenizer swaps
    in Qwen2Tokenizer for qwen2 folders; the byte-level vocabulary keeps it character-level)."""
    model, tokenizer = tiny_model(arch)
    spec = ModelSpec.from_config(arch, {"source": "local", "path": str(tmp_path / arch)})
    save_tiny_model(arch, spec.name_or_path)
    loaded, loaded_tokenizer = load_model(resolve_model(spec))
    text = "example:a b->B\n\tx~"
    ids = tokenizer(text)["input_ids"]
    assert len(ids) == len(text)
    assert loaded_tokenizer(text)["input_ids"] == ids
    assert loaded_tokenizer.decode(ids) == tokenizer.decode(ids) == text
    batch = tokenizer([text, "ab"], return_tensors="pt", padding=True)
    torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


def test_local_model_dtype_from_config(local_folder):
    spec = ModelSpec.from_config(
        "tiny", {"source": "local", "path": str(local_folder), "dtype": "bfloat16"}
    )
    model, _ = load_model(resolve_model(spec))
    assert next(model.parameters()).dtype == torch.bfloat16


def test_missing_folder_names_alias_and_cause(tmp_path):
    spec = ModelSpec.from_config("ghost", {"source": "local", "path": str(tmp_path / "nowhere")})
    with pytest.raises(ModelLoadError, match="'ghost'.*no config.json"):
        resolve_model(spec)


def test_unknown_source_names_alias_and_cause(tmp_path):
    spec = ModelSpec.from_config("odd", {"source": "ftp", "path": str(tmp_path)})
    with pytest.raises(ModelLoadError, match="'odd'.*unknown source 'ftp'"):
        resolve_model(spec, cache_dir=tmp_path)


def test_unknown_embedded_model_lists_the_known_ones(tmp_path):
    spec = ModelSpec.from_config("nope", {"source": "embedded"})
    with pytest.raises(ModelLoadError, match="'nope'.*gemma-3-270m"):
        resolve_model(spec, cache_dir=tmp_path)


def test_failing_load_names_alias_and_cause(local_folder, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((local_folder / name).read_bytes())
    record = resolve_model(
        ModelSpec.from_config("broken", {"source": "local", "path": str(broken)})
    )
    with pytest.raises(ModelLoadError, match="'broken'") as error:
        load_model(record)
    assert str(broken) in str(error.value)
    assert error.value.__cause__ is not None


def test_unreadable_config_names_alias_and_cause(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    spec = ModelSpec.from_config("garbled", {"source": "local", "path": str(tmp_path)})
    with pytest.raises(ModelLoadError, match="'garbled'") as error:
        resolve_model(spec)
    assert error.value.__cause__ is not None


# --- atomic conversion of embedded models --------------------------------------------------------


def fake_embedded(monkeypatch, convert) -> list[Path]:
    """Register ``convert`` as the embedded model ``fake``; returns the list of folders it got."""
    calls: list[Path] = []

    def recording(target: Path) -> None:
        calls.append(target)
        convert(target)

    monkeypatch.setattr(models, "EMBEDDED_MODELS", {"fake": (recording, "a test converter")})
    return calls


def test_failed_conversion_leaves_nothing(monkeypatch, tmp_path):
    def convert(target: Path) -> None:
        (target / "config.json").write_text("{}")
        raise OSError("disk on fire")

    calls = fake_embedded(monkeypatch, convert)
    spec = ModelSpec.from_config("fake", {"source": "embedded"})
    with pytest.raises(ModelLoadError, match="'fake'.*disk on fire"):
        resolve_model(spec, cache_dir=tmp_path)
    assert len(calls) == 1
    assert list(tmp_path.iterdir()) == []  # no target folder and no leftover staging folder


def test_successful_conversion_is_marked_and_not_repeated(monkeypatch, tmp_path):
    calls = fake_embedded(monkeypatch, lambda target: save_tiny_model("gpt2", target))
    spec = ModelSpec.from_config("fake", {"source": "embedded"})
    record = resolve_model(spec, cache_dir=tmp_path)
    target = tmp_path / "fake"
    assert record.local_path == str(target)
    assert (target / COMPLETE_MARKER).exists()
    assert json.loads((target / COMPLETE_MARKER).read_text()) == {"origin": "a test converter"}
    assert [path.name for path in tmp_path.iterdir()] == ["fake"]
    assert (record.model_type, record.n_layers) == ("gpt2", 3)
    assert resolve_model(spec, cache_dir=tmp_path) == record
    assert len(calls) == 1  # the second call found the marker and did not reconvert
    model, _ = load_model(record)
    assert len(model.transformer.h) == 3


def test_incomplete_leftover_is_replaced(monkeypatch, tmp_path):
    calls = fake_embedded(monkeypatch, lambda target: save_tiny_model("gpt2", target))
    leftover = tmp_path / "fake"
    leftover.mkdir()
    (leftover / "config.json").write_text("{}")  # looks like a model, but has no marker
    record = resolve_model(
        ModelSpec.from_config("fake", {"source": "embedded"}), cache_dir=tmp_path
    )
    assert len(calls) == 1
    assert (leftover / COMPLETE_MARKER).exists()
    assert record.model_type == "gpt2"


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TASKVECTORS_CACHE", str(tmp_path))
    assert models.default_cache_dir() == tmp_path / "models"
