"""Devices and dtypes: turn a config's ``device`` and ``dtype`` into what a load will actually use.

Kept apart from the loader so that the rules are explicit and testable without a GPU:

* ``device: auto`` is CUDA when present, else CPU. ``cuda`` / ``cuda:N`` on a machine without that
  device fails at model load with one line naming the model, the device asked and what exists. It
  is never refused when the config is read: submit hosts often have no GPU, compute nodes do.
* ``dtype: auto`` is bfloat16 on CUDA and on CPUs with native bfloat16 arithmetic (the one rule of
  :func:`taskvectors.precision.native_bf16`: CPU flags, or ``TASKVECTORS_CPU_BF16``), float32 on
  other CPUs, where bfloat16 runs emulated and about 130x slower.
  On such a CPU, measured on the 18 default tasks with Gemma 3 270M: every task's baseline, ICL and
  task-vector accuracy stays inside its float32 95% interval (largest change 0.06, mean changes
  -0.001 to -0.007), every best layer is the same, and a ``run_task`` job takes 11.9 s instead of
  19.3 s (README, "CPU bfloat16"). :data:`AUTO_BF16_ON_NATIVE_CPU` is the switch.
* A model too large for one GPU is spread over the available devices by accelerate
  (``device_map="auto"``); a config can also force a device map.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from taskvectors.precision import native_bf16

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
    :data:`AUTO_BF16_ON_NATIVE_CPU` and :func:`~taskvectors.precision.native_bf16`), float32
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
