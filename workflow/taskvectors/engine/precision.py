"""One rule for every reduced-precision path: compute in bfloat16 only where it is native.

On a CPU without native bfloat16 (AVX2 only: most laptops, many servers) a bfloat16 matrix
product is emulated. Measured on a 2-core AVX2-only AMD EPYC, one thread, 512×640 by 640×2048:
0.1 GFLOP/s in bfloat16 against 23.5 GFLOP/s in float32 (about 130x slower). On this project's
Zen 4 machines with ``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN barred from its bfloat16 kernels) the same
product runs at 0.7 against 77-91 GFLOP/s. Every place that would compute in bfloat16 or float16
(``dtype: auto``, the vocabulary head's screen, GD's training passes) asks :func:`native_bf16`.

The CPU's answer comes from its flags (``avx512_bf16``, ``amx_bf16`` in ``/proc/cpuinfo``; where
that file does not exist, oneDNN's own check). ``TASKVECTORS_CPU_BF16=0`` or ``=1`` overrides it:
``0`` shows a Zen 4 the float32 path an AVX2 laptop runs (benchmarks, tests), ``1`` serves a CPU
that is misdetected. The override is recorded in every result's provenance
(:func:`capability_record`). This module imports no torch, so start-up checks can use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

CPU_BF16_ENV = "TASKVECTORS_CPU_BF16"
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
#: The measured cost, said in the warning to a user who forces bfloat16 on such a CPU.
EMULATED_BF16_SLOWDOWN = (
    "about 130x slower than float32 (0.1 against 23.5 GFLOP/s, measured on an AVX2-only CPU)"
)
_OVERRIDES = {"0": False, "1": True}


class PrecisionError(ValueError):
    """``TASKVECTORS_CPU_BF16`` holds something other than ``0`` or ``1``."""


def cpu_bf16_override(environ: Mapping[str, str] | None = None) -> bool | None:
    """``TASKVECTORS_CPU_BF16`` as a bool, or None when unset (or empty)."""
    value = (os.environ if environ is None else environ).get(CPU_BF16_ENV, "").strip()
    if not value:
        return None
    if value not in _OVERRIDES:
        raise PrecisionError(
            f"{CPU_BF16_ENV}={value!r}: use 0 (no native bfloat16: compute in float32) or 1 "
            "(native bfloat16), or unset it to detect the CPU"
        )
    return _OVERRIDES[value]


@cache
def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU advertises native bfloat16 instructions (its flags; no override)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return _onednn_bf16() if cpuinfo == Path("/proc/cpuinfo") else False
    flags = {
        flag
        for line in text.splitlines()
        if line.startswith("flags")
        for flag in line.partition(":")[2].split()
    }
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def _onednn_bf16() -> bool:
    """oneDNN's own answer, for systems without ``/proc/cpuinfo`` (imports torch)."""
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):
        return False


def native_bf16(device_type: str = "cpu") -> bool:
    """Whether ``device_type`` (``cpu``, ``cuda``, …) computes bfloat16 natively: always on a GPU
    (the loader refuses none; old GPUs emulate it at float32 speed, never 100x slower), on a CPU
    as :data:`CPU_BF16_ENV` says, else as its flags say."""
    if device_type != "cpu":
        return True
    override = cpu_bf16_override()
    return cpu_has_native_bf16() if override is None else override


def reduced_precision_is_slow(dtype_name: str, device_type: str) -> bool:
    """Whether computing in ``dtype_name`` on ``device_type`` is emulated (100x slower): bfloat16
    on a CPU without it, float16 on any CPU (no x86 CPU these suites run on multiplies it
    natively)."""
    if device_type != "cpu":
        return False
    if dtype_name == "bfloat16":
        return not native_bf16("cpu")
    return dtype_name == "float16"


def slow_precision_warning(what: str, dtype_name: str, device_type: str) -> str | None:
    """One start-up line for a config that forces emulated reduced precision, else None."""
    if not reduced_precision_is_slow(dtype_name, device_type):
        return None
    return (
        f"{what}: {dtype_name} on a CPU without native {dtype_name} runs emulated, "
        f"{EMULATED_BF16_SLOWDOWN}; use auto (float32 here) unless you mean to measure it"
    )


def capability_record() -> dict[str, Any]:
    """What provenance says of the CPU: detected capability, override, and what was used."""
    override = cpu_bf16_override()
    detected = cpu_has_native_bf16()
    return {
        "cpu_native_bf16_detected": detected,
        CPU_BF16_ENV: None if override is None else int(override),
        "cpu_native_bf16_used": detected if override is None else override,
    }
