"""Shared test fixtures: deterministic torch settings and one tiny model per architecture."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from snakemake_command import smoke_command
from taskvectors.engine import devices
from tiny_models import ARCHITECTURES, tiny_model

torch.set_num_threads(2)


def pytest_report_header(config) -> str:
    """The CPU kind and its measured throughput head the log: the suite's time depends on them
    (about 4x between a Zen 4 and an AVX2-only CPU), so a CI log says which kind it timed."""
    return devices.describe_cpu_kind(devices.cpu_kind())


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _float32_auto_dtype():
    """In-process loads resolve ``dtype: auto`` to float32 whatever the CPU, so that the unit
    tests' numbers do not depend on the machine's bfloat16 support. Tests of the CPU switch set it
    themselves; workflow runs (subprocesses) and the embedded-model tests use the real default."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(devices, "AUTO_BF16_ON_NATIVE_CPU", False)
        yield


@pytest.fixture(params=ARCHITECTURES)
def tiny(request):
    """``(model, tokenizer)``: a random-init tiny model of each architecture in turn."""
    return tiny_model(request.param)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """config/smoke.yaml run once per session in a private working directory (the smoke test
    and the SLURM test, which compares its summary with this one, share it)."""
    workdir = tmp_path_factory.mktemp("smoke")
    command = smoke_command(workdir, "--cores", "2")
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return workdir
