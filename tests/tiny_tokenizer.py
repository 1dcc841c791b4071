"""A tiny BPE tokenizer built in code, so token filtering is tested without downloading a model.

Every printable ASCII character is a token; a few merges make known multi-character tokens:
``->`` (the paper's arrow), ``be`` and ``go`` (single-token answers), `` be`` (an answer carrying
its leading space), and ``->z``, which merges the arrow with an answer starting with ``z`` (the
boundary case where the query's tokens are not a prefix of query + answer). A BOS ``<s>`` is added
by default, like LLaMA and Gemma tokenizers do.
"""

from __future__ import annotations

import string

from tokenizers import Tokenizer, models, processors
from transformers import PreTrainedTokenizerFast

BOS = "<s>"
MERGES = [("-", ">"), (" ", "b"), (" b", "e"), ("b", "e"), ("g", "o"), ("->", "z")]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """The tokenizer described in the module docstring."""
    symbols = [BOS, "<unk>", *dict.fromkeys(string.printable)]
    symbols += ["".join(merge) for merge in MERGES]
    vocab = {symbol: index for index, symbol in enumerate(dict.fromkeys(symbols))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=MERGES, unk_token="<unk>"))
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, vocab[BOS])]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, unk_token="<unk>")
