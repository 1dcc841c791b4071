"""Tiny random-init causal LMs and a character tokenizer, built offline for fast tests.

The engine must work on any Hugging Face decoder, and its hooks depend on details that differ by
architecture (where the blocks live, tuple or tensor block outputs, final norms, rotary position
ids, sliding windows, logit soft-capping). These helpers build one small model per architecture the
project names, from a config and a character-level tokenizer made in-process with ``tokenizers``,
so the tests need no network and no downloaded weights. ``save_tiny_model`` writes a folder that
``taskvectors.engine.models`` loads as a ``local`` source.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPTJConfig,
    GPTNeoXConfig,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

ARCHITECTURES = ("gpt2", "gptj", "gpt_neox", "llama", "qwen2", "gemma3_text")
SPECIAL_TOKENS = ("<pad>", "<eos>", "<unk>", "<bos>")
CHARACTERS = "\n\t" + "".join(chr(code) for code in range(32, 127))
HIDDEN, HEADS, FFN, MAX_POSITIONS = 32, 4, 64, 256


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per character (printable ASCII, space, tab, newline); decode round-trips exactly.

    A BPE model with no merges splits its input into characters. The vocabulary is written in the
    GPT-2 byte-level alphabet (space is ``Ġ``, newline ``Ċ``) with byte-level pre-tokenizer and
    decoder: ``AutoTokenizer`` replaces the saved tokenizer class by ``Qwen2Tokenizer`` for
    ``qwen2`` models, and that class rebuilds a byte-level tokenizer from the vocabulary, which then
    still tokenizes character by character. Special tokens take ids 0–3; none is added on encoding.
    """
    assert set(string.printable) - set("\r\x0b\x0c") <= set(CHARACTERS)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokens = SPECIAL_TOKENS + tuple(byte_level.pre_tokenize_str(char)[0][0] for char in CHARACTERS)
    vocab = {token: index for index, token in enumerate(tokens)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        bos_token="<bos>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def _config(arch: str, vocab_size: int, ids: dict[str, int]) -> PretrainedConfig:
    """A small config: hidden 32, 4 heads, 3–4 layers, plus each family's distinctive options."""
    gpt = {"vocab_size": vocab_size, "n_positions": MAX_POSITIONS, "n_embd": HIDDEN, "n_layer": 3}
    gpt |= {"n_head": HEADS, **ids}
    modern = {"vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": 4}
    modern |= {"num_attention_heads": HEADS, "intermediate_size": FFN, **ids}
    modern |= {"max_position_embeddings": MAX_POSITIONS}
    if arch == "gpt2":
        return GPT2Config(**gpt)
    if arch == "gptj":  # partial rotary, parallel attention/MLP, untied head with a bias
        return GPTJConfig(**gpt, rotary_dim=4, tie_word_embeddings=False)
    if arch == "gpt_neox":  # partial rotary, parallel residual
        return GPTNeoXConfig(**modern, rotary_pct=0.5)
    if arch == "llama":  # grouped-query attention
        return LlamaConfig(**modern, num_key_value_heads=2)
    if arch == "qwen2":  # grouped-query attention, biased q/k/v projections
        return Qwen2Config(**modern, num_key_value_heads=2)
    if arch == "gemma3_text":  # sliding-window layers with a tiny window, logit soft-capping
        return Gemma3TextConfig(
            **modern,
            num_key_value_heads=1,
            head_dim=HIDDEN // HEADS,
            query_pre_attn_scalar=HIDDEN // HEADS,
            sliding_window=6,
            layer_types=["sliding_attention"] * 2 + ["full_attention", "sliding_attention"],
            final_logit_softcapping=30.0,
        )
    raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {ARCHITECTURES}")


def tiny_model(
    arch: str, seed: int = 0, **config_overrides: Any
) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """A random-init float32 model of ``arch`` in eval mode, with the character tokenizer.

    ``config_overrides`` set config attributes before the model is built (``sliding_window=64``).
    """
    tokenizer = char_tokenizer()
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = _config(arch, len(tokenizer), ids)
    config.initializer_range = 0.2  # larger weights: well-separated logits, stable argmax in tests
    for name, value in config_overrides.items():
        setattr(config, name, value)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.eval()
    model.requires_grad_(False)
    return model, tokenizer


def save_tiny_model(arch: str, folder: str | Path, seed: int = 0) -> Path:
    """Save a tiny model (safetensors) and its tokenizer to ``folder``; a ``local`` model source."""
    folder = Path(folder)
    model, tokenizer = tiny_model(arch, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def paper_with_llama_folders(folder: Path) -> Path:
    """config/paper.yaml with its LLaMA placeholders pointing at one tiny LLaMA model folder
    (start-up refuses a local model folder that does not exist), written into ``folder``. The
    folder declares LLaMA's own context (2048 positions; rotary, so no weight depends on it):
    start-up checks that the paper's prompts fit it."""
    model = save_tiny_model("llama", Path(folder) / "llama")
    config_file = model / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["max_position_embeddings"] = 2048
    config_file.write_text(json.dumps(config), encoding="utf-8")
    paper = Path(__file__).resolve().parents[1] / "config" / "paper.yaml"
    text = paper.read_text(encoding="utf-8")
    for size in ("7B", "13B", "30B"):
        text = text.replace(f"/path/to/llama/huggingface/{size}", str(model))
    path = Path(folder) / "paper.yaml"
    path.write_text(text, encoding="utf-8")
    return path
