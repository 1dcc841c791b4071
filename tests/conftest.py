"""Shared test fixtures: deterministic torch settings and one tiny model per architecture."""

from __future__ import annotations

import pytest
import torch

from tiny_models import ARCHITECTURES, tiny_model

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(params=ARCHITECTURES)
def tiny(request):
    """``(model, tokenizer)``: a random-init tiny model of each architecture in turn."""
    return tiny_model(request.param)
