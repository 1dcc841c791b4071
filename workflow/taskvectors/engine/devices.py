"""Devices and dtypes: turn a config's ``device`` and ``dtype`` into what a load will actually use.

Kept apart from the loader so that the rules are explicit and testable without a GPU:

* ``device: auto`` is CUDA when present, else CPU. ``cuda`` / ``cuda:N`` on a machine without that
  device fails at model load with one line naming the model, the device asked and what exists. It
  is never refused when the config is read: submit hosts often have no GPU, compute nodes do.
* ``dtype: auto`` is bfloat16 on CUDA and on CPUs with native bfloat16 arithmetic (the one rule of
  :func:`taskvectors.engine.precision.native_bf16`: CPU flags, or ``TASKVECTORS_CPU_BF16``), float32
  on other CPUs, where bfloat16 runs emulated and about 130x slower.
  On such a CPU, measured on the 18 default tasks with Gemma 3 270M: every task's baseline, ICL and
  task-vector accuracy stays inside its float32 95% interval (largest change 0.06, mean changes
  -0.001 to -0.007), every best layer is the same, and a ``run_task`` job takes 11.9 s instead of
  19.3 s (README, "CPUs with and without native bfloat16"). :data:`AUTO_BF16_ON_NATIVE_CPU` is
  the switch.
* A model too large for one GPU is spread over the available devices by accelerate
  (``device_map="auto"``); a config can also force a device map.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from pathlib import Path

import torch

from taskvectors.engine.precision import capability_record, native_bf16

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_NAMES = {value: key for key, value in DTYPES.items()}
AUTO_BF16_ON_NATIVE_CPU = True  # the one switch: False keeps dtype auto at float32 on every CPU
GPU_FILL_LIMIT = 0.85  # share of a GPU's free memory the weights may take before a device map


class DeviceUnavailableError(RuntimeError):
    """The config asks for a device this machine does not have."""


def resolve_device(device: str = "auto", alias: str | None = None) -> torch.device:
    """The torch device for a config's ``device``; a missing CUDA device is one clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise DeviceUnavailableError(
            f"{_who(alias)}device {device!r} is not a device name; use auto, cpu, cuda or cuda:N"
        ) from error
    if resolved.type == "cuda":
        _require_cuda(resolved, device, alias)
    return resolved


def _who(alias: str | None) -> str:
    return f"model {alias!r}: " if alias else ""


def _require_cuda(resolved: torch.device, asked: str, alias: str | None) -> None:
    if not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"{_who(alias)}device {asked!r} asked, but this machine has no CUDA device "
            "(torch.cuda.is_available() is False); use device: auto or cpu"
        )
    count = torch.cuda.device_count()
    if resolved.index is not None and resolved.index >= count:
        raise DeviceUnavailableError(
            f"{_who(alias)}device {asked!r} asked, but this machine has {count} CUDA device(s) "
            f"(cuda:0 to cuda:{count - 1}); use device: auto or one of those"
        )


def planned_device(device: str = "auto") -> str:
    """The device a load will use, as far as this machine can tell, without failing.

    Used by ``prepare_model``, which may run on a submit host without the GPU the compute nodes
    have: an explicit ``cuda`` is kept as asked, ``auto`` is resolved here.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(
    dtype: str, device: torch.device | str, *, cpu_bf16: bool | None = None
) -> torch.dtype:
    """The torch dtype for a config's ``dtype`` on ``device``.

    ``auto`` is bfloat16 on CUDA; on CPU it is bfloat16 only when ``cpu_bf16`` is true (default:
    :data:`AUTO_BF16_ON_NATIVE_CPU` and :func:`~taskvectors.engine.precision.native_bf16`), float32
    otherwise.
    """
    if dtype == "auto":
        if torch.device(device).type == "cuda":
            return torch.bfloat16
        if cpu_bf16 is None:
            cpu_bf16 = AUTO_BF16_ON_NATIVE_CPU and native_bf16("cpu")
        return torch.bfloat16 if cpu_bf16 else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose auto or one of {sorted(DTYPES)}")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))


def choose_device_map(
    forced: str | Mapping[str, str] | None, device: torch.device, weight_bytes: int
) -> str | dict[str, str] | None:
    """The ``device_map`` to load with: the config's if it forces one, ``"auto"`` when the weights
    (``weight_bytes`` in the load dtype) do not fit the free memory of one CUDA device, else
    ``None`` (load whole, then move to ``device``)."""
    if forced is not None:
        return forced if isinstance(forced, str) else dict(forced)
    if device.type != "cuda" or weight_bytes <= 0:
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return "auto" if weight_bytes > GPU_FILL_LIMIT * free else None


def placement(model: torch.nn.Module) -> str:
    """Where a loaded model's weights are: ``"cpu"``, ``"cuda:0"``, or ``"cuda:0+cuda:1"``."""
    device_map = getattr(model, "hf_device_map", None)
    if device_map and len(set(device_map.values())) > 1:
        return "+".join(sorted({_device_label(value) for value in device_map.values()}))
    return str(next(model.parameters()).device)


def _device_label(value: object) -> str:
    return f"cuda:{value}" if isinstance(value, int) else str(value)


#: The probe product of :func:`cpu_kind`: one thread, (512 × 640) @ (640 × 2048), the shape the
#: issue measured an AVX2-only CPU with (23.5 GFLOP/s float32, 0.1 GFLOP/s bfloat16).
PROBE_SHAPE = (512, 640, 2048)


def matmul_gflops(dtype: torch.dtype, repeats: int = 10) -> float:
    """One-thread GFLOP/s of the probe product in ``dtype`` (best of ``repeats``)."""
    rows, inner, cols = PROBE_SHAPE
    left, right = torch.randn(rows, inner).to(dtype), torch.randn(inner, cols).to(dtype)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        left @ right  # warm-up
        best = min(_timed(lambda: left @ right) for _ in range(repeats))
    finally:
        torch.set_num_threads(threads)
    return 2 * rows * inner * cols / best / 1e9


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def cpu_kind(with_bf16_throughput: bool = False) -> dict[str, object]:
    """What a benchmark prints beside its times: the CPU's model name, whether bfloat16 is native
    (detected, and as used after ``TASKVECTORS_CPU_BF16``), and its float32 throughput (bfloat16's
    too if asked: on a CPU without it the probe takes ~1 s)."""
    kind: dict[str, object] = {"cpu": _cpu_model_name(), **capability_record()}
    kind["float32_gflops_1_thread"] = round(matmul_gflops(torch.float32), 1)
    if with_bf16_throughput:
        kind["bfloat16_gflops_1_thread"] = round(matmul_gflops(torch.bfloat16, repeats=2), 1)
    return kind


def _cpu_model_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def _on_off(flag: object) -> str:
    return "on" if flag else "off"


def describe_cpu_kind(kind: dict[str, object]) -> str:
    """One line: ``CPU: AMD EPYC, native bfloat16 (forced off), float32 82.4 GFLOP/s/thread``."""
    native = "native bfloat16" if kind["cpu_native_bf16_detected"] else "no native bfloat16"
    used = kind["cpu_native_bf16_used"]
    forced = "" if used == kind["cpu_native_bf16_detected"] else f" (forced {_on_off(used)})"
    line = (
        f"CPU: {kind['cpu']}, {native}{forced}, float32 {kind['float32_gflops_1_thread']} GFLOP/s"
    )
    if "bfloat16_gflops_1_thread" in kind:
        line += f", bfloat16 {kind['bfloat16_gflops_1_thread']} GFLOP/s"
    return line + " (one thread, 512×640 @ 640×2048)"
