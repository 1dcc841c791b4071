"""Models placed by accelerate (``device_map``): hooks and patching stay exact.

A machine without GPUs cannot split a model over two CUDA devices, so two things are tested:

* a tiny model loaded through :func:`taskvectors.engine.models.load_model` with a forced device map
  that keeps the first half of the blocks on ``cpu`` and offloads the second half to ``disk``: every
  block then carries accelerate's ``AlignDevicesHook`` (the offloaded ones keep their weights on
  the meta device and receive them at each forward), which is the machinery a multi-GPU split uses.
  Read-out, decoding and the patched layer sweep must equal the same model loaded whole;
* the hooks of :mod:`taskvectors.engine.layers` with block outputs on two real devices (``meta`` and
  ``cpu``): recorded states are gathered on one device, patches move to the output's device.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from taskvectors.engine import patching
from taskvectors.engine.layers import find_decoder_blocks, patch_last_position, record_last_position
from taskvectors.engine.models import ModelSpec, load_model, resolve_model
from tiny_models import save_tiny_model

PROMPTS = ["example:ab->AB\nexample:cd->", "example:x->X\nexample:yz->"]


def split_device_map(model: nn.Module) -> dict[str, str]:
    """All modules but the blocks on ``cpu``; the first half of the blocks ``cpu``, the rest
    ``disk``."""
    path, _ = find_decoder_blocks(model)
    parts = path.split(".")
    device_map = {}
    for depth, child_on_path in enumerate(parts):
        prefix = ".".join(parts[:depth])
        for name, _ in model.get_submodule(prefix).named_children():
            if name != child_on_path:
                device_map[f"{prefix}.{name}" if prefix else name] = "cpu"
    n_blocks = len(model.get_submodule(path))
    for index in range(n_blocks):
        device_map[f"{path}.{index}"] = "cpu" if index < n_blocks // 2 else "disk"
    return device_map


@pytest.fixture(params=["llama", "gptj", "gemma3_text"])
def whole_and_split(request, tmp_path: Path):
    """The same tiny model loaded whole and loaded split by accelerate, with the tokenizer."""
    folder = save_tiny_model(request.param, tmp_path / request.param)
    entry = {"source": "local", "path": str(folder), "device": "cpu"}
    whole, tokenizer = load_model(resolve_model(ModelSpec.from_config("whole", entry)))
    entry["device_map"] = split_device_map(whole)
    split, _ = load_model(resolve_model(ModelSpec.from_config("split", entry)))
    return whole, split, tokenizer


def test_split_model_really_is_dispatched(whole_and_split):
    whole, split, _ = whole_and_split
    blocks = split.get_submodule(find_decoder_blocks(split)[0])
    assert all(type(block._hf_hook).__name__ == "AlignDevicesHook" for block in blocks)
    devices = {parameter.device.type for parameter in blocks[-1].parameters()}
    assert devices == {"meta"}  # the offloaded half gets its weights only during its forward
    assert set(split.hf_device_map.values()) == {"cpu", "disk"}
    assert not hasattr(whole, "hf_device_map") or set(whole.hf_device_map.values()) <= {"cpu"}


def test_read_out_is_exact_on_a_split_model(whole_and_split):
    whole, split, tokenizer = whole_and_split
    batch = patching.encode(tokenizer, PROMPTS)
    hidden, logits = patching.read_out(whole, batch)
    split_hidden, split_logits = patching.read_out(split, batch)
    torch.testing.assert_close(split_hidden, hidden)
    torch.testing.assert_close(split_logits, logits)


def test_patched_sweep_is_exact_on_a_split_model(whole_and_split):
    whole, split, tokenizer = whole_and_split
    vectors = patching.task_vectors(whole, tokenizer, [[p + "q"] for p in PROMPTS]) * 3
    layers = list(range(vectors.shape[1]))
    reference = patching.sweep_layers(whole, tokenizer, ["example:q->"] * 2, vectors, layers)
    result = patching.sweep_layers(split, tokenizer, ["example:q->"] * 2, vectors, layers)
    torch.testing.assert_close(result.first_logits, reference.first_logits)
    assert torch.equal(result.tokens, reference.tokens)
    unpatched = reference.first_logits[0]
    assert any(not torch.allclose(row, unpatched) for row in reference.first_logits[1:])


def test_greedy_decoding_with_a_patch_is_exact_on_a_split_model(whole_and_split):
    whole, split, tokenizer = whole_and_split
    batch = patching.encode(tokenizer, PROMPTS)
    vectors = torch.randn(len(PROMPTS), whole.config.get_text_config().hidden_size) * 4
    patch = patching.Patch(torch.tensor([1, 2]), vectors)
    reference = patching.decode(whole, tokenizer, batch, max_new_tokens=4, patch=patch)
    result = patching.decode(split, tokenizer, batch, max_new_tokens=4, patch=patch)
    assert torch.equal(result.tokens, reference.tokens)
    torch.testing.assert_close(result.first_logits, reference.first_logits)


# --- hooks with block outputs on two devices -----------------------------------------------------


class ToDevice(nn.Module):
    """A stand-in block that adds one and moves its output to ``device``."""

    def __init__(self, device: str) -> None:
        super().__init__()
        self.device = torch.device(device)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return (hidden + 1).to(self.device)


def test_recorded_states_are_gathered_on_the_first_blocks_device():
    blocks = nn.ModuleList([ToDevice("meta"), ToDevice("cpu")])
    with record_last_position(blocks) as recorded:
        for block in blocks:  # in order, as a forward pass runs them
            block(torch.zeros(2, 3, 4))
    assert [state.device.type for state in recorded] == ["meta", "meta"]
    assert torch.stack(recorded).shape == (2, 2, 4)  # would fail across devices


def test_patch_is_moved_to_the_device_of_the_output_it_replaces():
    blocks = nn.ModuleList([ToDevice("cpu"), ToDevice("meta")])
    vectors = torch.full((2, 4), 7.0)
    with patch_last_position(blocks, torch.tensor([1, -1]), vectors):
        out = blocks[1](blocks[0](torch.zeros(2, 3, 4)))
    assert out.device.type == "meta" and out.shape == (2, 3, 4)  # a cpu vector into a meta output
