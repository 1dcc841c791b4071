"""Model resolution and loading: config entries, devices and dtypes, local folders, clear errors,
and the atomic conversion of embedded models (tested with fake converters, no real download)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from taskvectors.engine import devices, models
from taskvectors.engine.models import (
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
    assert resolve_dtype("auto", cpu) == torch.float32  # the tests' default (conftest)
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


def test_folder_without_weights_is_refused_when_prepared(local_folder, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((local_folder / name).read_bytes())
    spec = ModelSpec.from_config("broken", {"source": "local", "path": str(broken)})
    with pytest.raises(ModelLoadError, match="'broken'.*no \\*.safetensors weights") as error:
        resolve_model(spec)
    assert str(broken) in str(error.value)


def test_failing_load_names_alias_and_cause(local_folder, tmp_path):
    """Garbage weights of the right size pass the manifest check; the load itself fails."""
    broken = tmp_path / "broken"
    shutil.copytree(local_folder, broken)
    record = resolve_model(
        ModelSpec.from_config("broken", {"source": "local", "path": str(broken)})
    )
    weights = broken / "model.safetensors"
    weights.write_bytes(b"\xff" * weights.stat().st_size)
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

    monkeypatch.setattr(
        models, "EMBEDDED_MODELS", {"fake": models.EmbeddedModel(recording, "a test converter")}
    )
    return calls


def visible(folder: Path) -> list[str]:
    """Entries of ``folder`` other than hidden ones (the conversion lock file)."""
    return sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))


def test_failed_conversion_leaves_nothing(monkeypatch, tmp_path):
    def convert(target: Path) -> None:
        (target / "config.json").write_text("{}")
        raise OSError("disk on fire")

    calls = fake_embedded(monkeypatch, convert)
    spec = ModelSpec.from_config("fake", {"source": "embedded"})
    with pytest.raises(ModelLoadError, match="'fake'.*disk on fire"):
        resolve_model(spec, cache_dir=tmp_path)
    assert len(calls) == 1
    assert visible(tmp_path) == []  # no target folder
    assert [p.name for p in tmp_path.iterdir()] == [".fake.lock"]  # and no staging folder


def test_successful_conversion_is_marked_and_not_repeated(monkeypatch, tmp_path):
    calls = fake_embedded(monkeypatch, lambda target: save_tiny_model("gpt2", target))
    spec = ModelSpec.from_config("fake", {"source": "embedded"})
    record = resolve_model(spec, cache_dir=tmp_path)
    target = tmp_path / "fake"
    assert record.local_path == str(target)
    assert (target / COMPLETE_MARKER).exists()
    marker = json.loads((target / COMPLETE_MARKER).read_text())
    assert marker["origin"] == "a test converter"
    assert marker["files"] == {
        path.name: path.stat().st_size for path in target.iterdir() if path.name != COMPLETE_MARKER
    }
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(marker["files"])
    assert visible(tmp_path) == ["fake"]
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


# --- resolved dtype and device in the record -----------------------------------------------------


def test_record_holds_the_resolved_dtype_and_device(local_folder):
    record = resolve_model(
        ModelSpec.from_config("tiny", {"source": "local", "path": str(local_folder)})
    )
    if not torch.cuda.is_available():
        assert (record.dtype, record.device) == ("float32", "cpu")
    assert (record.requested_dtype, record.requested_device) == ("auto", "auto")
    half = resolve_model(
        ModelSpec.from_config(
            "tiny", {"source": "local", "path": str(local_folder), "dtype": "bfloat16"}
        )
    )
    assert half.dtype == "bfloat16"


def test_explicit_cuda_is_recorded_but_not_refused_when_prepared(local_folder, monkeypatch):
    """A submit host without a GPU prepares a cuda model: recorded as asked, bf16 for auto."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    entry = {"source": "local", "path": str(local_folder), "device": "cuda"}
    record = resolve_model(ModelSpec.from_config("gpu-model", entry))
    assert (record.device, record.dtype) == ("cuda", "bfloat16")
    with pytest.raises(ModelLoadError) as error:
        load_model(record)
    message = str(error.value)
    assert "\n" not in message
    assert "model 'gpu-model': device 'cuda' asked, but this machine has no CUDA device" in message
    assert "use device: auto or cpu" in message


def test_missing_cuda_index_names_what_exists(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(devices.DeviceUnavailableError, match="'big'.*'cuda:3'.*2 CUDA.*cuda:1"):
        devices.resolve_device("cuda:3", "big")
    with pytest.raises(devices.DeviceUnavailableError, match="not a device name"):
        devices.resolve_device("gpu0", "big")


def test_record_from_an_older_run_reads_with_defaults(local_folder):
    record = resolve_model(
        ModelSpec.from_config("tiny", {"source": "local", "path": str(local_folder)})
    )
    old = {key: value for key, value in record.to_dict().items() if key not in OLD_MISSING}
    old |= {"dtype": "auto", "device": "auto"}
    read = ModelRecord.from_dict(old)
    assert (read.requested_dtype, read.files, read.device_map) == ("auto", {}, None)
    model, _ = load_model(read)
    assert next(model.parameters()).dtype == torch.float32


OLD_MISSING = {"requested_dtype", "requested_device", "device_map", "files"}


# --- completeness of prepared folders (issue 10, item 7) ------------------------------------------


def copy_of(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "model"))


def prepared(folder: Path, alias: str = "mine") -> ModelRecord:
    return resolve_model(ModelSpec.from_config(alias, {"source": "local", "path": str(folder)}))


def test_record_lists_every_file_with_its_size(local_folder):
    record = prepared(local_folder)
    assert record.files == {
        path.name: path.stat().st_size for path in local_folder.iterdir() if path.is_file()
    }


@pytest.mark.parametrize("damage", ["delete", "truncate"])
@pytest.mark.parametrize("name", ["tokenizer.json", "model.safetensors"])
def test_damaged_local_folder_is_refused_with_the_fix(local_folder, tmp_path, damage, name):
    folder = copy_of(local_folder, tmp_path)
    record = prepared(folder)
    target = folder / name
    if damage == "delete":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    for load in (load_model, models.load_tokenizer):
        with pytest.raises(ModelLoadError) as error:
            load(record)
        message = str(error.value)
        assert message.startswith(f"model 'mine': {folder} is incomplete: {name} ")
        assert ("is missing" if damage == "delete" else "bytes") in message
        assert "--forcerun prepare_model" in message


def test_folder_without_tokenizer_files_is_refused_when_prepared(local_folder, tmp_path):
    folder = copy_of(local_folder, tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="'mine'.*no tokenizer file"):
        prepared(folder)


def test_tokenizer_much_smaller_than_the_vocabulary_is_refused(local_folder, tmp_path):
    """What a Gemma cache without tokenizer.json gave: a 5-token tokenizer, silently."""
    record = prepared(local_folder)
    inflated = ModelRecord.from_dict({**record.to_dict(), "vocab_size": 262144})
    with pytest.raises(
        ModelLoadError, match="has 101 tokens but the model's vocabulary has 262144"
    ):
        models.load_tokenizer(inflated)


def test_sharded_folder_with_a_missing_shard_is_refused(tmp_path):
    model, tokenizer = tiny_model("llama")
    folder = tmp_path / "sharded"
    model.save_pretrained(folder, max_shard_size="40KB")
    tokenizer.save_pretrained(folder)
    shards = sorted(folder.glob("model-*.safetensors"))
    assert len(shards) > 1
    record = prepared(folder)
    assert set(record.files) >= {shard.name for shard in shards}
    loaded, _ = load_model(record)
    assert len(loaded.model.layers) == 4
    shards[-1].unlink()
    with pytest.raises(ModelLoadError, match=f"weight shard {shards[-1].name} is missing"):
        prepared(folder)


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_incomplete_embedded_cache_is_reconverted(monkeypatch, tmp_path, caplog, damage):
    calls = fake_embedded(monkeypatch, lambda target: save_tiny_model("gpt2", target))
    spec = ModelSpec.from_config("fake", {"source": "embedded"})
    record = resolve_model(spec, cache_dir=tmp_path)
    tokenizer_json = tmp_path / "fake" / "tokenizer.json"
    size = tokenizer_json.stat().st_size
    if damage == "delete":
        tokenizer_json.unlink()
    else:
        tokenizer_json.write_text("{}")
    with caplog.at_level("WARNING", logger="taskvectors.engine.models"):
        model, tokenizer = load_model(record)
    assert len(calls) == 2
    assert tokenizer_json.stat().st_size == size
    assert len(tokenizer) == record.vocab_size
    assert "reconverted" in caplog.text and "tokenizer.json" in caplog.text


def test_old_marker_without_file_list_is_reconverted(monkeypatch, tmp_path):
    calls = fake_embedded(monkeypatch, lambda target: save_tiny_model("gpt2", target))
    spec = ModelSpec.from_config("fake", {"source": "embedded"})
    resolve_model(spec, cache_dir=tmp_path)
    (tmp_path / "fake" / COMPLETE_MARKER).write_text(json.dumps({"origin": "older"}))
    resolve_model(spec, cache_dir=tmp_path)
    assert len(calls) == 2
    assert "files" in json.loads((tmp_path / "fake" / COMPLETE_MARKER).read_text())


def test_embedded_tokenizer_fast_path_is_verified_and_equal(monkeypatch, tmp_path):
    """The conversion checks that building the tokenizer from tokenizer.json equals AutoTokenizer
    and records it; the load then takes the fast path and gives the same tokens."""
    from transformers import AutoTokenizer

    fake_embedded(monkeypatch, lambda target: save_tiny_model("llama", target))
    record = resolve_model(ModelSpec.from_config("fake", {"source": "embedded"}), tmp_path)
    marker = json.loads((tmp_path / "fake" / COMPLETE_MARKER).read_text())
    assert marker["tokenizer_loader"] == "tokenizers"
    fast = models.load_tokenizer(record)
    reference = AutoTokenizer.from_pretrained(record.local_path)
    text = "example:a b->B\n\tx~"
    assert fast(text)["input_ids"] == reference(text)["input_ids"]
    assert (fast.pad_token_id, fast.eos_token_id) == (
        reference.pad_token_id,
        reference.eos_token_id,
    )


# --- hub downloads -------------------------------------------------------------------------------


def test_remote_code_files_are_downloaded_only_when_trusted():
    assert "*.py" not in models.hub_patterns(False)
    assert "*.py" in models.hub_patterns(True)
    assert {"*.json", "*.safetensors"} <= set(models.hub_patterns(False))


COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(monkeypatch, tmp_path) -> Path:
    """An offline Hugging Face cache (``HF_HUB_CACHE``) holding ``acme/tiny`` at ``main``."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny"
    save_tiny_model("llama", repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_hub_model_resolves_offline_from_the_cache_at_its_commit(hub_cache):
    spec = ModelSpec.from_config("tiny", {"name": "acme/tiny", "revision": "main"})
    record = resolve_model(spec)
    assert record.revision == COMMIT
    assert record.local_path == str(hub_cache / "models--acme--tiny" / "snapshots" / COMMIT)
    model, tokenizer = load_model(record)
    assert len(model.model.layers) == 4 and len(tokenizer) == record.vocab_size


def test_hub_snapshot_is_found_in_this_machines_cache(hub_cache, tmp_path):
    """A compute node whose HF cache lives elsewhere than the preparing host's."""
    record = resolve_model(ModelSpec.from_config("tiny", {"name": "acme/tiny"}))
    elsewhere = ModelRecord.from_dict({**record.to_dict(), "local_path": str(tmp_path / "gone")})
    model, _ = load_model(elsewhere)
    assert len(model.model.layers) == 4


def test_hub_model_missing_offline_says_where_to_prepare(hub_cache):
    spec = ModelSpec.from_config("pythia", {"name": "EleutherAI/pythia-160m", "revision": "main"})
    with pytest.raises(ModelLoadError) as error:
        resolve_model(spec)
    message = str(error.value)
    assert message.startswith("model 'pythia' (EleutherAI/pythia-160m@main): HF_HUB_OFFLINE=1")
    assert f"not in the Hugging Face cache ({hub_cache})" in message
    assert "run prepare_model where the hub is reachable" in message
