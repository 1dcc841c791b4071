"""The patching engine and its hooks, checked against plain Hugging Face forward passes.

Every test runs on each tiny architecture (``tiny`` fixture): the hooks depend on where the blocks
live, on what a block returns, on rotary position ids under left padding, on sliding windows and on
logit soft-capping, and any of these can break one architecture while the others pass.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from taskvectors.engine import patching
from taskvectors.engine.layers import decoder_blocks, patch_last_position, record_last_position
from taskvectors.engine.patching import (
    Patch,
    decode,
    encode,
    read_out,
    sweep_layers,
    sweep_layers_naive,
)
from tiny_models import tiny_model

# Different lengths, so that the batch is left-padded.
PROMPTS = ["example:abc->", "x->", "example:hello world->", "ab->", "example:q->r\nexample:s->"]
DUMMY_PROMPTS = [
    ["example:q->r\nexample:a->", "example:q->r\nexample:b->"],
    ["s->t\nu->"],
    ["k->", "kk->", "kkk->"],
    ["zz->y\nw->", "abc->"],
    ["m->n\no->", "p->"],
]
ATOL = 1e-4


def n_layers(model) -> int:
    return model.config.get_text_config().num_hidden_layers


def hf_forward(model, batch: patching.Batch, **kwargs):
    """A plain forward pass with mask-aware position ids (what the engine must reproduce)."""
    positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    return model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions,
        **kwargs,
    )


def test_batch_is_left_padded(tiny):
    model, tokenizer = tiny
    batch = encode(tokenizer, PROMPTS)
    assert (batch.attention_mask[:, -1] == 1).all()
    assert (batch.attention_mask == 0).any()


# --- decoder blocks ------------------------------------------------------------------------------


def test_decoder_blocks_are_the_layers(tiny):
    model, _ = tiny
    blocks = decoder_blocks(model)
    assert isinstance(blocks, nn.ModuleList)
    assert len(blocks) == n_layers(model)
    assert all(type(block) is type(blocks[0]) for block in blocks)
    assert "Attention" not in type(blocks[0]).__name__


def test_decoder_blocks_fallback_for_unknown_model_type(tiny):
    model, _ = tiny  # a fresh model per test: changing its config is harmless
    expected = decoder_blocks(model)
    model.config.model_type = "mystery_lm"
    model.decoy = nn.ModuleList(nn.Identity() for _ in range(n_layers(model) + 3))
    assert decoder_blocks(model) is expected  # the list whose length is num_hidden_layers
    model.config.num_hidden_layers = 99
    assert decoder_blocks(model) is model.decoy  # no list matches: the longest one


# --- read-out ------------------------------------------------------------------------------------


def test_read_out_equals_hidden_states(tiny):
    model, tokenizer = tiny
    batch = encode(tokenizer, PROMPTS)
    hidden, logits = read_out(model, batch)
    out = hf_forward(model, batch, output_hidden_states=True)
    layers = n_layers(model)
    assert hidden.shape == (layers, len(PROMPTS), model.config.get_text_config().hidden_size)
    for layer in range(layers - 1):  # HF's last entry has the final norm applied
        torch.testing.assert_close(
            hidden[layer], out.hidden_states[layer + 1][:, -1], atol=ATOL, rtol=0
        )
    torch.testing.assert_close(logits, out.logits[:, -1], atol=ATOL, rtol=0)


def test_padded_batch_equals_one_prompt_at_a_time(tiny):
    model, tokenizer = tiny
    hidden, logits = read_out(model, encode(tokenizer, PROMPTS))
    decoded = decode(model, tokenizer, encode(tokenizer, PROMPTS), max_new_tokens=3)
    for row, prompt in enumerate(PROMPTS):
        single = encode(tokenizer, [prompt])
        hidden_one, logits_one = read_out(model, single)
        torch.testing.assert_close(hidden[:, row], hidden_one[:, 0], atol=ATOL, rtol=0)
        torch.testing.assert_close(logits[row], logits_one[0], atol=ATOL, rtol=0)
        one = decode(model, tokenizer, single, max_new_tokens=3)
        assert decoded.tokens[row].tolist() == one.tokens[0].tolist()
        assert decoded.answers[row] == one.answers[0]


def test_decode_matches_generate(tiny):
    model, tokenizer = tiny
    batch = encode(tokenizer, PROMPTS)
    decoded = decode(model, tokenizer, batch, max_new_tokens=3)
    generated = model.generate(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        max_new_tokens=3,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )[:, batch.input_ids.shape[1] :]
    for row, tokens in enumerate(decoded.tokens.tolist()):
        kept = [token for token in tokens if token >= 0]
        assert kept == generated[row, : len(kept)].tolist()


# --- patching ------------------------------------------------------------------------------------


def test_patching_own_state_changes_nothing(tiny):
    model, tokenizer = tiny
    batch = encode(tokenizer, PROMPTS)
    hidden, logits = read_out(model, batch)
    for layer in range(n_layers(model)):
        patch = Patch(torch.full((len(PROMPTS),), layer), hidden[layer])
        patched = decode(model, tokenizer, batch, patch=patch)
        torch.testing.assert_close(patched.first_logits, logits, atol=ATOL, rtol=0)
    mixed = torch.arange(len(PROMPTS)) % n_layers(model)  # a different layer in each row
    patch = Patch(mixed, hidden[mixed, torch.arange(len(PROMPTS))])
    torch.testing.assert_close(
        decode(model, tokenizer, batch, patch=patch).first_logits, logits, atol=ATOL, rtol=0
    )


def test_patching_last_block_sets_the_logits(tiny):
    """A vector patched into the last block's output is exactly what the head reads."""
    model, tokenizer = tiny
    batch = encode(tokenizer, PROMPTS)
    vectors = torch.randn(len(PROMPTS), model.config.get_text_config().hidden_size)
    patch = Patch(torch.tensor([n_layers(model) - 1, -1, n_layers(model) - 1, -1, -1]), vectors)
    patched = decode(model, tokenizer, batch, patch=patch)
    _, logits = read_out(model, batch)
    expected = patching.project_to_vocab(model, vectors)
    for row in (0, 2):
        torch.testing.assert_close(patched.first_logits[row], expected[row], atol=ATOL, rtol=0)
    for row in (1, 3, 4):  # layer -1: untouched
        torch.testing.assert_close(patched.first_logits[row], logits[row], atol=ATOL, rtol=0)


def test_project_to_vocab_of_last_block_equals_logits(tiny):
    model, tokenizer = tiny
    hidden, logits = read_out(model, encode(tokenizer, PROMPTS))
    torch.testing.assert_close(
        patching.project_to_vocab(model, hidden[-1]), logits, atol=ATOL, rtol=0
    )


# Contexts of different lengths, suffixes of different lengths (padding between prefix and suffix).
CONTEXTS = ["example:q->r\nexample:s->t\n", "a->b\n", "example:hello->world\nexample:"]
SUFFIXES = [["example:a->", "example:bcd->"], ["c->", "dddd->"], ["x->", "y->"]]
WHOLE = [
    context + suffix for context, group in zip(CONTEXTS, SUFFIXES, strict=True) for suffix in group
]


def test_read_out_shared_prefix_equals_read_out(tiny):
    model, tokenizer = tiny
    hidden, answers = patching.read_out_shared_prefix(model, tokenizer, CONTEXTS, SUFFIXES)
    assert hidden.shape == (len(WHOLE), n_layers(model), model.config.get_text_config().hidden_size)
    for row, prompt in enumerate(WHOLE):
        hidden_one, logits_one = read_out(model, encode(tokenizer, [prompt]))
        torch.testing.assert_close(hidden[row], hidden_one[:, 0], atol=ATOL, rtol=0)
        if row % 2 == 0:  # answer_of=0: the first suffix of each context is answered
            assert answers.tokens[row // 2, 0] == logits_one[0].argmax()
    assert answers.first_logits.numel() == 0


@pytest.mark.parametrize("window", [None, 6])
def test_read_out_shared_prefix_answers_equal_decoding_the_whole_prompt(tiny, window):
    """The answer of suffix ``answer_of``, decoded on from the shared cache, equals greedy decoding
    of the whole prompt (also when a short sliding window makes the prompts run whole)."""
    model, tokenizer = tiny
    if window is not None:
        model, tokenizer = tiny_model("gemma3_text", sliding_window=window)
    hidden_all, _ = patching.read_out_shared_prefix(model, tokenizer, CONTEXTS, SUFFIXES)
    hidden, answers = patching.read_out_shared_prefix(
        model, tokenizer, CONTEXTS, SUFFIXES, answer_of=1, max_new_tokens=4
    )
    torch.testing.assert_close(hidden, hidden_all, atol=ATOL, rtol=0)
    whole = patching.decode(model, tokenizer, encode(tokenizer, WHOLE[1::2]), max_new_tokens=4)
    assert answers.answers == whole.answers
    assert torch.equal(answers.tokens, whole.tokens)


@pytest.mark.parametrize("window", [6, 64])
def test_read_out_shared_prefix_with_sliding_window(window):
    """Padding between prefix and suffix must not eat sliding-window slots (window 6 is shorter
    than the prompts; 64 is longer, so the cached path runs on sliding-window layers)."""
    model, tokenizer = tiny_model("gemma3_text", sliding_window=window)
    hidden, _ = patching.read_out_shared_prefix(model, tokenizer, CONTEXTS, SUFFIXES)
    for row, prompt in enumerate(WHOLE):
        hidden_one, _ = read_out(model, encode(tokenizer, [prompt]))
        torch.testing.assert_close(hidden[row], hidden_one[:, 0], atol=ATOL, rtol=0)


# --- task vectors and sweeps ---------------------------------------------------------------------


def test_task_vectors_average_over_dummy_prompts(tiny):
    model, tokenizer = tiny
    vectors = patching.task_vectors(model, tokenizer, DUMMY_PROMPTS)
    assert vectors.shape == (
        len(DUMMY_PROMPTS),
        n_layers(model),
        model.config.get_text_config().hidden_size,
    )
    assert vectors.dtype == torch.float32
    for row, prompts in enumerate(DUMMY_PROMPTS):
        each = [read_out(model, encode(tokenizer, [prompt]))[0][:, 0] for prompt in prompts]
        torch.testing.assert_close(vectors[row], torch.stack(each).mean(0), atol=ATOL, rtol=0)


@pytest.mark.parametrize("max_new_tokens", [1, 3])
@pytest.mark.parametrize("include_unpatched", [True, False])
def test_sweep_layers_equals_naive_loop(tiny, max_new_tokens, include_unpatched):
    model, tokenizer = tiny
    vectors = patching.task_vectors(model, tokenizer, DUMMY_PROMPTS)
    layers = list(range(n_layers(model)))
    kwargs = {"include_unpatched": include_unpatched, "max_new_tokens": max_new_tokens}
    fast = sweep_layers(model, tokenizer, PROMPTS, vectors, layers, **kwargs)
    naive = sweep_layers_naive(model, tokenizer, PROMPTS, vectors, layers, **kwargs)
    n_variants = len(layers) + include_unpatched
    assert fast.tokens.shape[0] == len(PROMPTS) * n_variants
    assert fast.tokens.tolist() == naive.tokens.tolist()
    torch.testing.assert_close(fast.first_logits, naive.first_logits, atol=ATOL, rtol=0)
    assert fast.first_tokens == naive.first_tokens
    assert fast.answers == naive.answers
    # Not vacuous: the patched variants of a prompt do differ from each other.
    per_prompt = fast.first_logits.reshape(len(PROMPTS), n_variants, -1)
    assert (per_prompt - per_prompt[:, :1]).abs().amax() > 1e-2


def test_sweep_layers_subset_of_layers(tiny):
    model, tokenizer = tiny
    vectors = patching.task_vectors(model, tokenizer, DUMMY_PROMPTS)
    layers = [n_layers(model) - 1, 1]
    fast = sweep_layers(model, tokenizer, PROMPTS, vectors, layers)
    naive = sweep_layers_naive(model, tokenizer, PROMPTS, vectors, layers)
    assert fast.tokens.tolist() == naive.tokens.tolist()
    torch.testing.assert_close(fast.first_logits, naive.first_logits, atol=ATOL, rtol=0)
    unpatched = decode(model, tokenizer, encode(tokenizer, PROMPTS))
    torch.testing.assert_close(fast.first_logits[::3], unpatched.first_logits, atol=ATOL, rtol=0)


# --- hooks are always removed --------------------------------------------------------------------


def assert_no_hooks(model) -> None:
    assert all(not block._forward_hooks for block in decoder_blocks(model))


def test_hooks_removed_after_exception(tiny):
    model, tokenizer = tiny
    blocks = decoder_blocks(model)
    batch = encode(tokenizer, PROMPTS)
    with pytest.raises(RuntimeError, match="boom"), record_last_position(blocks) as recorded:
        hf_forward(model, batch)
        assert len(recorded) == len(blocks)
        assert all(block._forward_hooks for block in blocks)
        raise RuntimeError("boom")
    assert_no_hooks(model)
    vectors = torch.zeros(len(PROMPTS), model.config.get_text_config().hidden_size)
    with (
        pytest.raises(RuntimeError, match="boom"),
        patch_last_position(blocks, torch.zeros(len(PROMPTS)), vectors),
    ):
        assert blocks[0]._forward_hooks and not blocks[1]._forward_hooks
        raise RuntimeError("boom")
    assert_no_hooks(model)


def test_hooks_removed_after_failing_forward(tiny, monkeypatch):
    model, tokenizer = tiny
    batch = encode(tokenizer, PROMPTS)

    def fail(*args, **kwargs):
        raise RuntimeError("forward failed")

    monkeypatch.setattr(model.get_output_embeddings(), "forward", fail)
    with pytest.raises(RuntimeError, match="forward failed"):
        read_out(model, batch)
    assert_no_hooks(model)
    patch = Patch(
        torch.ones(len(PROMPTS)),
        torch.zeros(len(PROMPTS), model.config.get_text_config().hidden_size),
    )
    with pytest.raises(RuntimeError, match="forward failed"):
        decode(model, tokenizer, batch, patch=patch)
    assert_no_hooks(model)


# --- decoding stops at a newline -----------------------------------------------------------------


def force_tokens(model, forced: dict[tuple[int, int], int]):
    """A forward hook on the unembedding making token ``forced[(step, row)]`` win at that step."""
    calls = []

    def hook(module, args, output):
        step = len(calls)
        calls.append(step)
        output = output.clone()
        for (at, row), token in forced.items():
            if at == step:
                output[row, -1, token] = output[row, -1].max() + 100.0
        return output

    return model.get_output_embeddings().register_forward_hook(hook)


def test_decode_stops_rows_at_newline_or_eos(tiny):
    model, tokenizer = tiny
    newline = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("\n"))[0]
    a, space = (tokenizer.convert_tokens_to_ids(tokenizer.tokenize(c))[0] for c in ("a", " "))
    # row 0: newline first -> empty answer; row 1: " a" then newline; row 2: "a" then EOS;
    # rows 3, 4: never stop. Keys are (step, position in the batch that step runs): stopped rows
    # leave the batch, so after step 0 row 1 is at position 0 and row 2 at position 1.
    forced = {
        (0, 0): newline,
        (0, 1): space, (1, 0): a, (2, 0): newline,
        (0, 2): a, (1, 1): tokenizer.eos_token_id,
    }  # fmt: skip
    handle = force_tokens(model, forced)
    try:
        decoded = decode(model, tokenizer, encode(tokenizer, PROMPTS), max_new_tokens=5)
    finally:
        handle.remove()
    tokens = decoded.tokens.tolist()
    assert tokens[0] == [newline, -1, -1, -1, -1]
    assert tokens[1][:3] == [space, a, newline] and tokens[1][3:] == [-1, -1]
    assert tokens[2][:2] == [a, tokenizer.eos_token_id] and tokens[2][2:] == [-1, -1, -1]
    assert all(token >= 0 for row in tokens[3:] for token in row)
    assert decoded.answers[:2] == ["", "a"]
    assert decoded.first_tokens[:2] == ["\n", " "]
    for row in (3, 4):
        text = tokenizer.decode(tokens[row])
        assert decoded.answers[row] == text.split("\n")[0].strip()


def test_decode_stops_when_every_row_is_done(tiny):
    model, tokenizer = tiny
    newline = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("\n"))[0]
    handle = force_tokens(model, {(0, row): newline for row in range(len(PROMPTS))})
    try:
        decoded = decode(model, tokenizer, encode(tokenizer, PROMPTS), max_new_tokens=4)
    finally:
        handle.remove()
    assert decoded.tokens.shape == (len(PROMPTS), 1)
    assert decoded.answers == [""] * len(PROMPTS)


def test_answers_are_first_line_stripped(tiny):
    _, tokenizer = tiny
    texts = [" Paris\nexample:", "  Rome  ", "\nx", "a b\n"]
    width = max(len(text) for text in texts)
    rows = [tokenizer(text)["input_ids"] for text in texts]
    tokens = torch.tensor([row + [-1] * (width - len(row)) for row in rows])
    first, answers = patching.answer_texts(tokenizer, tokens)
    assert answers == ["Paris", "Rome", "", "a b"]
    assert first == [" ", " ", "\n", "a"]


def test_models_without_logits_to_keep_still_give_last_position_logits(tiny, monkeypatch):
    model, tokenizer = tiny
    batch = patching.encode(tokenizer, ["ab", "abc d"])
    expected = patching.decode(model, tokenizer, batch).first_logits
    monkeypatch.setattr(patching, "_keeps_logits", lambda model_class: False)
    assert torch.allclose(
        patching.decode(model, tokenizer, batch).first_logits, expected, atol=1e-5
    )


def test_decode_can_keep_stopped_rows_in_the_batch(tiny):
    """``drop_stopped_rows=False`` (hooks that address rows by position) decodes the same tokens:
    row ``i`` stays at position ``i`` at every step, stopped rows yield -1."""
    model, tokenizer = tiny
    newline = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("\n"))[0]
    a = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("a"))[0]
    forced = {(0, 0): newline, (0, 1): a, (1, 1): newline}  # (step, row in the full batch)
    handle = force_tokens(model, forced)
    try:
        kept = decode(
            model, tokenizer, encode(tokenizer, PROMPTS), max_new_tokens=4, drop_stopped_rows=False
        )
    finally:
        handle.remove()
    assert kept.tokens[0].tolist() == [newline, -1, -1, -1]
    assert kept.tokens[1].tolist()[:3] == [a, newline, -1]
    dropped = decode(model, tokenizer, encode(tokenizer, PROMPTS), max_new_tokens=4)
    unforced = decode(
        model, tokenizer, encode(tokenizer, PROMPTS), max_new_tokens=4, drop_stopped_rows=False
    )
    assert torch.equal(dropped.tokens, unforced.tokens)


def test_first_token_accepted_checks_each_row_against_its_own_set():
    tokens = torch.tensor([5, 7, 7])
    assert patching.first_token_accepted(tokens, [{5, 6}, {5}, {7}]) == [True, False, True]
    with pytest.raises(ValueError, match="3 tokens but 2 sets"):
        patching.first_token_accepted(tokens, [{5}, {7}])
