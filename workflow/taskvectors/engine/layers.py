"""Decoder blocks and the two hooks the method needs: read the residual stream, overwrite it.

The paper's task vector is the output of decoder block ``L`` (the residual stream after the block)
at the last position of the prompt; patching replaces that same hidden state in another run (a
function vector is added to it instead: ``patch_last_position(..., add=True)``). This module
finds the blocks of any causal LM and wraps forward hooks in context managers that always remove
their handles, even when the forward pass raises.

Blocks are found by a table of known architectures (GPT-2, GPT-J, GPT-NeoX/Pythia, LLaMA, Mistral,
Qwen2, Gemma 3, ...). The documented fallback for an unknown architecture is the longest
``torch.nn.ModuleList`` in the model whose length equals ``config.num_hidden_layers`` (or simply
the longest one), which is where every Hugging Face decoder keeps its blocks.

transformers 5 differs by architecture in what a block returns: most return the hidden-state
tensor, GPT-J returns a tuple ``(hidden_states, ...)``. :func:`block_hidden` and
:func:`with_block_hidden` read and write both forms.

Models spread over several devices by accelerate (``device_map``) keep working: accelerate wraps
each block's ``forward`` (its hooks move the inputs to the block's device), and the forward hooks
here run on the block's output, wherever it is. Recorded states are gathered on the device of the
first block's output, and a patched vector is moved to the device of the output it replaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import torch
from torch import nn

BLOCK_PATHS = {
    "gpt2": "transformer.h",
    "gptj": "transformer.h",
    "gpt_neo": "transformer.h",
    "gpt_neox": "gpt_neox.layers",
    "llama": "model.layers",
    "mistral": "model.layers",
    "qwen2": "model.layers",
    "qwen3": "model.layers",
    "gemma": "model.layers",
    "gemma2": "model.layers",
    "gemma3_text": "model.layers",
    "gemma3": "model.language_model.layers",
    "phi3": "model.layers",
    "olmo2": "model.layers",
    "opt": "model.decoder.layers",
    "falcon": "transformer.h",
    "bloom": "transformer.h",
}


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The model's decoder blocks, in order (block ``l`` produces hidden state ``l``)."""
    return model.get_submodule(find_decoder_blocks(model)[0])


def find_decoder_blocks(model: nn.Module) -> tuple[str, str]:
    """Where the decoder blocks are: their dotted module path, and ``"table"`` when the
    architecture table gave it or ``"fallback"`` when the ModuleList search did."""
    path = BLOCK_PATHS.get(getattr(model.config, "model_type", ""))
    if path is not None:
        module = model
        for name in path.split("."):
            module = getattr(module, name, None)
        if isinstance(module, nn.ModuleList):
            return path, "table"
    return _longest_module_list(model), "fallback"


def _longest_module_list(model: nn.Module) -> str:
    """Fallback: the ModuleList whose length is the config's layer count, else the longest one."""
    lists = [
        (name, m) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m)
    ]
    if not lists:
        raise ValueError(f"{type(model).__name__}: no decoder blocks (no nn.ModuleList) found")
    n_layers = getattr(model.config.get_text_config(), "num_hidden_layers", None)
    matching = [item for item in lists if len(item[1]) == n_layers]
    return max(matching or lists, key=lambda item: len(item[1]))[0]


def block_hidden(output: torch.Tensor | tuple) -> torch.Tensor:
    """The hidden states ``(batch, pos, d_model)`` in a block's output, tensor or tuple."""
    return output[0] if isinstance(output, tuple) else output


def with_block_hidden(output: torch.Tensor | tuple, hidden: torch.Tensor) -> torch.Tensor | tuple:
    """A block output of the same form as ``output`` whose hidden states are ``hidden``."""
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


@contextmanager
def hooks(blocks: Sequence[nn.Module], make_hook, *, pre: bool = False) -> Iterator[None]:
    """Register ``make_hook(layer)`` as a forward hook on every module (with ``pre``, a forward
    pre-hook called with ``(module, args, kwargs)``: a module's input); always remove them."""
    with ExitStack() as stack:
        for layer, block in enumerate(blocks):
            hook = make_hook(layer)
            if hook is None:
                continue
            if pre:
                handle = block.register_forward_pre_hook(hook, with_kwargs=True)
            else:
                handle = block.register_forward_hook(hook)
            stack.callback(handle.remove)
        yield


@contextmanager
def record_last_position(blocks: Sequence[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Record every block's output at the last position.

    Yields a list that, after a forward pass, holds one ``(batch, d_model)`` tensor per block, all
    on the device of the first block's output (blocks may sit on several devices).
    """
    recorded: list[torch.Tensor] = []

    def make_hook(layer: int):
        def hook(module, args, output):
            state = block_hidden(output)[:, -1, :].detach()
            recorded.append(state.to(recorded[0].device) if recorded else state)

        return hook

    with hooks(blocks, make_hook):
        yield recorded


@contextmanager
def patch_last_position(
    blocks: Sequence[nn.Module],
    layer_of_row: torch.Tensor,
    vectors: torch.Tensor,
    *,
    add: bool = False,
) -> Iterator[None]:
    """Replace the output of block ``layer_of_row[i]`` at the last position of row ``i``, or, with
    ``add``, add to it (a function vector is added to the residual stream, a task vector replaces
    it).

    Args:
        blocks: the decoder blocks.
        layer_of_row: ``(batch,)`` long; the block to patch in each row, ``-1`` for no patch.
        vectors: ``(batch, d_model)``; the hidden state written into (or added to) each patched row.
        add: add ``vectors`` to the hidden state instead of replacing it.

    Several layers can be patched in one batch (one row each), which is what batched layer sweeps
    use. The patch applies to every forward pass inside the context, so keep the context around
    the single forward pass that should be patched.
    """
    layer_of_row = layer_of_row.to(torch.long)

    def make_hook(layer: int):
        rows = (layer_of_row == layer).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return None

        def hook(module, args, output):
            hidden = block_hidden(output).clone()
            at = rows.to(hidden.device)
            value = vectors[rows].to(hidden.device, hidden.dtype)
            hidden[at, -1, :] = hidden[at, -1, :] + value if add else value
            return with_block_hidden(output, hidden)

        return hook

    with hooks(blocks, make_hook):
        yield
