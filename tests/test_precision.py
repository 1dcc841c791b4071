"""The one capability rule for reduced precision (taskvectors.engine.precision): CPU flags, the
``TASKVECTORS_CPU_BF16`` override, and every bfloat16 path asking it. With the capability forced
off, no bfloat16 tensor may reach a matrix product anywhere in the engine or the fine-tuning (on an
AVX2-only CPU such a product runs about 130x slower than float32)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from taskvectors.engine import devices, finetune, patching, vocab_head
from taskvectors.engine.finetune import FinetuneConfig, TrainingJob, finetune_and_answer
from taskvectors.engine.models import ModelSpec, load_model, resolve_dtype, resolve_model
from taskvectors.engine.precision import (
    CPU_BF16_ENV,
    PrecisionError,
    capability_record,
    cpu_has_native_bf16,
    native_bf16,
    reduced_precision_is_slow,
)
from taskvectors.pipeline import preflight
from taskvectors.pipeline.config import validate_config
from taskvectors.results import provenance
from taskvectors.tasks.prompts import get_template
from tiny_models import ARCHITECTURES, save_tiny_model

MATRIX_PRODUCTS = {
    torch.ops.aten.mm.default,
    torch.ops.aten.addmm.default,
    torch.ops.aten.bmm.default,
    torch.ops.aten.baddbmm.default,
    torch.ops.aten.matmul.default,
    torch.ops.aten.linear.default,
}


@pytest.fixture
def forced(monkeypatch):
    """``forced("0")`` / ``forced("1")``: set the override, with ``dtype: auto`` following it
    (conftest pins auto to float32 for the other unit tests)."""
    monkeypatch.setattr(devices, "AUTO_BF16_ON_NATIVE_CPU", True)

    def force(value: str) -> None:
        monkeypatch.setenv(CPU_BF16_ENV, value)

    return force


# --- the rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("fpu avx2 avx512f avx512_bf16 amx_tile", True), ("fpu amx_bf16", True), ("fpu avx2", False)],
)
def test_detection_reads_cpuinfo_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n"
    )
    assert cpu_has_native_bf16(cpuinfo) is expected
    assert cpu_has_native_bf16(tmp_path / "absent") is False


@pytest.mark.parametrize("value", ["0", "1"])
def test_the_override_decides_on_cpu_and_gpus_are_always_native(forced, value):
    forced(value)
    assert native_bf16("cpu") is (value == "1")
    assert native_bf16("cuda") is True
    assert reduced_precision_is_slow("bfloat16", "cpu") is (value == "0")
    assert reduced_precision_is_slow("float32", "cpu") is False
    assert reduced_precision_is_slow("bfloat16", "cuda") is False


def test_unset_override_follows_the_cpu(monkeypatch):
    monkeypatch.delenv(CPU_BF16_ENV, raising=False)
    assert native_bf16("cpu") is cpu_has_native_bf16()
    monkeypatch.setenv(CPU_BF16_ENV, "")
    assert native_bf16("cpu") is cpu_has_native_bf16()


@pytest.mark.parametrize("value", ["yes", "true", "2", "off"])
def test_a_bad_override_is_refused_at_start_up(monkeypatch, value):
    monkeypatch.setenv(CPU_BF16_ENV, value)
    with pytest.raises(PrecisionError, match=CPU_BF16_ENV):
        native_bf16("cpu")
    (problem,) = preflight.precision_problems()
    assert CPU_BF16_ENV in problem and repr(value) in problem


def test_auto_dtype_follows_the_rule(forced):
    cpu = torch.device("cpu")
    forced("0")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    forced("1")
    assert resolve_dtype("auto", cpu) == torch.bfloat16
    assert resolve_dtype("float32", cpu) == torch.float32


def test_gd_training_precision_follows_the_rule(forced):
    forced("0")
    assert finetune.training_dtype("auto", "cpu") is None
    assert finetune.training_dtype("auto", "cuda") == torch.bfloat16
    assert finetune.training_dtype("bfloat16", "cpu") == torch.bfloat16  # asked for explicitly
    forced("1")
    assert finetune.training_dtype("auto", "cpu") == torch.bfloat16
    assert finetune.training_dtype("none", "cpu") is None


def test_vocab_head_screens_in_bfloat16_only_where_native(forced, monkeypatch):
    monkeypatch.setattr(vocab_head, "SCREEN_MIN_VOCAB", 0)
    weight = torch.randn(300, 16)
    forced("0")
    assert vocab_head.VocabHead(weight, softcap=None).cast(torch.bfloat16) is None
    forced("1")
    assert vocab_head.VocabHead(weight, softcap=None).cast(torch.bfloat16) is not None


def test_provenance_records_the_capability_and_the_override(forced, monkeypatch):
    forced("0")
    record = provenance.provenance(seed=1)["cpu"]
    assert record == capability_record()
    assert record[CPU_BF16_ENV] == 0 and record["cpu_native_bf16_used"] is False
    monkeypatch.delenv(CPU_BF16_ENV)
    record = provenance.provenance(seed=1)["cpu"]
    assert record[CPU_BF16_ENV] is None
    assert record["cpu_native_bf16_used"] is record["cpu_native_bf16_detected"]


def _config(dtype: str, device: str = "auto", autocast: str = "auto") -> dict:
    return validate_config(
        {
            "models": {"m": {"source": "embedded", "dtype": dtype, "device": device}},
            "analyses": {"gd": {"autocast": autocast}},
        }
    )


def test_forcing_bfloat16_on_a_cpu_without_it_warns_once_with_the_slowdown(forced):
    forced("0")
    (line,) = preflight.precision_warnings(_config("bfloat16"))
    assert "models.m.dtype" in line and "130x slower" in line
    (line,) = preflight.precision_warnings(_config("auto", autocast="bfloat16"))
    assert "analyses.gd.autocast" in line
    assert preflight.precision_warnings(_config("auto")) == []
    assert preflight.precision_warnings(_config("bfloat16", device="cuda")) == []
    forced("1")
    assert preflight.precision_warnings(_config("bfloat16", autocast="bfloat16")) == []


# --- no bfloat16 product on the forced-off path ------------------------------------------------


class ProductDtypes(TorchDispatchMode):
    """Records the dtypes of the tensor arguments of every matrix product run under it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[torch.dtype] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in MATRIX_PRODUCTS:
            self.seen |= {a.dtype for a in args if isinstance(a, torch.Tensor)}
        return func(*args, **(kwargs or {}))


def _linear_input_dtypes(model: nn.Module) -> tuple[set[torch.dtype], list]:
    """Forward pre-hooks on every linear layer that record the dtypes of its input and weight."""
    seen: set[torch.dtype] = set()

    def hook(module, args):
        seen.update(a.dtype for a in args if isinstance(a, torch.Tensor))
        seen.add(module.weight.dtype)

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if _is_linear(m)]
    return seen, handles


def _is_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def _every_path(model, tokenizer) -> None:
    """θ, ICL, zero-shot, a patched layer sweep, and a GD fine-tune with ``autocast: auto``."""
    template = get_template("paper")
    demos = "example:ab->c\nexample:de->f\n"
    vectors = patching.task_vectors(model, tokenizer, [[demos + "example:gh->"]])
    patching.decode(model, tokenizer, patching.encode(tokenizer, [demos + "example:q->"]))
    layers = list(range(vectors.shape[1]))  # vectors: (1, n_layers, d_model)
    patching.sweep_layers(model, tokenizer, ["example:q->"], vectors, layers, max_new_tokens=2)
    job = TrainingJob(key=("t", 0), demos=(("ab", "c"), ("de", "f")), query="q", learning_rate=1e-2)
    config = FinetuneConfig(optimizer="adam", autocast="auto")
    finetune_and_answer(model, tokenizer, template, [job], config, epochs=[1])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forced_off_no_bfloat16_reaches_a_matrix_product(forced, monkeypatch, tmp_path, arch):
    monkeypatch.setattr(vocab_head, "SCREEN_MIN_VOCAB", 0)  # the screen would run on Gemma's vocab

    def product_dtypes(value: str) -> set[torch.dtype]:
        forced(value)
        folder = save_tiny_model(arch, tmp_path / f"{arch}-{value}")
        spec = ModelSpec.from_config("tiny", {"source": "local", "path": str(folder)})
        model, tokenizer = load_model(resolve_model(spec))
        hooked, handles = _linear_input_dtypes(model)
        with ProductDtypes() as dispatched:
            _every_path(model, tokenizer)
        for handle in handles:
            handle.remove()
        return dispatched.seen | hooked

    assert torch.bfloat16 not in product_dtypes("0")
    # The same check sees bfloat16 when the capability is on: it can fail.
    assert torch.bfloat16 in product_dtypes("1")
