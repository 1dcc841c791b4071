"""The attached vocabulary head: exact greedy tokens through the bfloat16 screen, and engine results
that do not change when a model has one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from taskvectors.engine import patching, vocab_head
from taskvectors.engine.precision import native_bf16
from taskvectors.engine.vocab_head import VocabHead
from tiny_models import ARCHITECTURES, tiny_model

PROMPTS = ["example:abc->", "example:hello world->", "x->", "example:q->r\nexample:s->"]


@pytest.fixture
def screened(monkeypatch):
    """Screen every vocabulary in bfloat16, however small (the tiny models' is ~100 tokens)."""
    if not native_bf16():
        pytest.skip("this CPU has no native bfloat16: the screen is never used")
    monkeypatch.setattr(vocab_head, "SCREEN_MIN_VOCAB", 0)


@pytest.mark.parametrize("rows_at_a_time", [7, 256])
def test_greedy_equals_the_float32_argmax(screened, monkeypatch, rows_at_a_time):
    monkeypatch.setattr(vocab_head, "SCREEN_ROWS", rows_at_a_time)
    torch.manual_seed(0)
    weight = torch.randn(5000, 64)
    head = VocabHead(weight, softcap=None)
    assert head.screen is not None and head.screen.dtype == torch.bfloat16
    hidden = torch.randn(300, 64) * 3
    assert torch.equal(head.greedy(hidden), (hidden @ weight.T).argmax(-1))


def test_greedy_breaks_ties_by_the_first_token_like_argmax(screened):
    """Equal rows of the weight give equal logits: the lowest id wins, as ``argmax`` says."""
    torch.manual_seed(1)
    weight = torch.randn(2000, 32)
    weight[1500] = weight[7]
    hidden = weight[7:8] * 10  # token 7 (and its twin 1500) far ahead of every other token
    head = VocabHead(weight, softcap=None)
    assert head.greedy(hidden).tolist() == [7] == (hidden @ weight.T).argmax(-1).tolist()


def test_greedy_with_softcap_and_nearly_tied_candidates(screened):
    """Tokens within the screen's error of each other are all rescored in float32."""
    torch.manual_seed(2)
    weight = torch.randn(3000, 48)
    hidden = torch.randn(64, 48)
    # For each row, a token whose logit exceeds the best by 1e-3: invisible to bfloat16 alone.
    best = (hidden @ weight.T).argmax(-1)
    weight[2999] = weight[best[0]] + 1e-3 * hidden[0] / hidden[0].norm() ** 2
    head = VocabHead(weight, softcap=30.0)
    capped = torch.tanh(hidden @ weight.T / 30.0) * 30.0
    assert head.greedy(hidden)[0] == 2999
    assert torch.equal(head.greedy(hidden), capped.argmax(-1))


def test_greedy_is_exact_where_bfloat16_cannot_rank_the_tokens(screened):
    """Rows of the weight differ by far less than bfloat16's rounding, and the hidden states are
    orthogonal to their common direction: the screened order is noise, the answer must not be."""
    torch.manual_seed(4)
    common = torch.randn(256)
    weight = common + 1e-4 * torch.randn(2000, 256)
    hidden = torch.randn(32, 256)
    hidden -= (hidden @ common)[:, None] * common / common.dot(common)
    screened = (hidden.bfloat16() @ weight.bfloat16().T).float().argmax(-1)
    exact = (hidden @ weight.T).argmax(-1)
    assert (screened != exact).float().mean() > 0.5  # the case is hard for bfloat16 alone
    assert torch.equal(VocabHead(weight, softcap=None).greedy(hidden), exact)


def test_screen_follows_in_place_changes_of_the_weight(screened):
    torch.manual_seed(3)
    weight = nn.Parameter(torch.randn(1000, 16), requires_grad=False)
    head = VocabHead(weight.detach(), softcap=None)
    hidden = torch.randn(8, 16)
    with torch.no_grad():
        weight.mul_(-1.0)  # every argmax changes
    assert torch.equal(head.greedy(hidden), (hidden @ weight.T).argmax(-1))


@pytest.mark.parametrize("tile", [64, 2048])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_unscreened_greedy_is_the_argmax_of_the_capped_logits(dtype, tile, monkeypatch):
    """Without a screen (small vocabulary, or a bfloat16 model) the argmax is taken on the raw
    products, in the weight's dtype, by tiles of the vocabulary for float32; the increasing softcap
    cannot change it."""
    monkeypatch.setattr(vocab_head, "ARGMAX_TILE", tile)
    torch.manual_seed(5)
    weight = torch.randn(700, 32).to(dtype)
    head = VocabHead(weight, softcap=30.0)
    assert head.screen is None
    hidden = torch.randn(40, 32) * 4
    raw = (hidden.to(dtype) @ weight.T).float()
    assert torch.equal(head.greedy(hidden), raw.argmax(-1))
    assert torch.equal(head.greedy(hidden), head.logits(hidden).argmax(-1))
    assert head.greedy(hidden[:0]).shape == (0,)
    weight[650] = weight[3]  # a tie with token 3, far ahead of the rest: the first index wins
    assert head.greedy(weight[3:4].float() * 10).tolist() == [3]


@pytest.mark.parametrize("tile", [1, 100, 128, 999, 5000])
def test_tiled_first_argmax_is_the_argmax_of_the_whole_product(tile):
    """Tiles that do and do not divide the vocabulary, one tile, and one token per tile."""
    torch.manual_seed(6)
    weight = torch.randn(1000, 24)
    hidden = torch.randn(37, 24)
    expected = (hidden @ weight.T).argmax(-1)
    assert torch.equal(vocab_head.tiled_first_argmax(hidden, weight, tile), expected)
    assert vocab_head.tiled_first_argmax(hidden[:0], weight, tile).shape == (0,)


def test_tiled_first_argmax_keeps_the_first_of_tied_tokens_across_tiles():
    """Token 5 and its copies 70 and 199 (other tiles of 64) tie far ahead of the rest: 5 wins; a
    NaN score wins wherever it is, at its first token, as ``max`` ranks it."""
    torch.manual_seed(7)
    weight = torch.randn(200, 16)
    weight[70] = weight[199] = weight[5]
    hidden = weight[5:6] * 10
    assert vocab_head.tiled_first_argmax(hidden, weight, 64).tolist() == [5]
    weight[150] = torch.nan
    weight[180] = torch.nan
    expected = (hidden @ weight.T).max(-1).indices.tolist()
    assert vocab_head.tiled_first_argmax(hidden, weight, 64).tolist() == expected == [150]


def test_first_argmax_is_argmax_on_ties():
    scores = torch.randint(0, 4, (50, 300000)).to(torch.bfloat16)  # every row has many ties
    assert torch.equal(vocab_head.first_argmax(scores), scores.argmax(-1))


def test_cast_is_the_current_screen_or_none(screened):
    weight = nn.Parameter(torch.randn(1000, 16), requires_grad=False)
    head = VocabHead(weight.detach(), softcap=None)
    assert head.cast(torch.float16) is None
    assert torch.equal(head.cast(torch.bfloat16), weight.detach().bfloat16())
    with torch.no_grad():
        weight.add_(1.0)
    assert torch.equal(head.cast(torch.bfloat16), weight.detach().bfloat16())
    assert VocabHead(weight.detach().bfloat16(), softcap=None).cast(torch.bfloat16) is None


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_attach_checks_the_head_against_the_models_own_logits(arch):
    """A bias-free linear unembedding (softcap included) is attached; GPT-J's has a bias."""
    model, _ = tiny_model(arch)
    head = vocab_head.attach(model)
    assert (head is None) == (model.get_output_embeddings().bias is not None)
    assert vocab_head.attached(model) is head


def test_attach_refuses_a_model_that_post_processes_its_logits():
    model, _ = tiny_model("llama")
    forward = model.forward

    def scaled(*args, **kwargs):
        out = forward(*args, **kwargs)
        out.logits = out.logits * 0.5
        return out

    model.forward = scaled
    assert vocab_head.attach(model) is None


def _engine_results(model, tokenizer):
    """Greedy answers, the patched layer sweep and ICL answers after a shared prefix."""
    layers = list(range(model.config.get_text_config().num_hidden_layers))
    width = model.config.get_text_config().hidden_size
    seeded = torch.Generator().manual_seed(0)
    vectors = torch.randn(len(PROMPTS), len(layers), width, generator=seeded)
    decoded = patching.decode(
        model, tokenizer, patching.encode(tokenizer, PROMPTS), max_new_tokens=5
    )
    swept = patching.sweep_layers(
        model, tokenizer, PROMPTS, vectors, layers, max_new_tokens=3, keep_first_logits=False
    )
    _, answers = patching.read_out_shared_prefix(
        model, tokenizer, ["example:ab->c\n", "example:q->"], [["x->", "yy->"], ["r\n", "s->"]],
        max_new_tokens=4,
    )  # fmt: skip
    return decoded.tokens, decoded.first_logits, swept.tokens, answers.tokens


@pytest.mark.parametrize("arch", ["gpt2", "gpt_neox", "llama", "qwen2", "gemma3_text"])
def test_engine_results_are_the_same_with_the_head_attached(arch, screened):
    model, tokenizer = tiny_model(arch)
    own = _engine_results(model, tokenizer)
    assert vocab_head.attach(model) is not None and vocab_head.attached(model).screen is not None
    with_head = _engine_results(model, tokenizer)
    for expected, result in zip(own[:1] + own[2:], with_head[:1] + with_head[2:], strict=True):
        assert torch.equal(expected, result)
    torch.testing.assert_close(with_head[1], own[1], atol=1e-5, rtol=0)
