"""The paper's effect on the embedded model (Gemma 3 270M), through the engine API only.

Tiny random models check that the engine computes the right numbers; only a real model can check
that those numbers mean something: few-shot prompts answer, zero-shot prompts do not, and a task
vector from the demonstrations patched into the zero-shot prompt at a middle layer brings the
answers back (the embedded-model notes measured 7–8 of 8 at layers 9–11 of 18).
"""

from __future__ import annotations

import pytest
import torch

from taskvectors.engine import patching, vocab_head
from taskvectors.engine.models import ModelSpec, load_model, resolve_model
from taskvectors.engine.precision import native_bf16

pytestmark = pytest.mark.slow

DEMOS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Spain", "Madrid"),
]
QUERIES = [
    ("Russia", "Moscow"), ("Egypt", "Cairo"), ("Greece", "Athens"), ("Poland", "Warsaw"),
    ("Austria", "Vienna"), ("Ireland", "Dublin"), ("Sweden", "Stockholm"), ("Thailand", "Bangkok"),
]  # fmt: skip
DUMMIES = ["Belgium", "Peru", "Netherlands"]
LAYERS = range(8, 13)
MAX_NEW_TOKENS = 3


def prompt(demos: list[tuple[str, str]], query: str) -> str:
    return "\n".join([*(f"example:{x}->{y}" for x, y in demos), f"example:{query}->"])


def n_correct(answers: list[str], expected: list[str]) -> int:
    return sum(
        answer.startswith(capital) for answer, capital in zip(answers, expected, strict=True)
    )


def load_gemma(dtype: str):
    spec = ModelSpec.from_config("gemma-3-270m", {"source": "embedded", "dtype": dtype})
    return load_model(resolve_model(spec))


@pytest.fixture(scope="module")
def gemma():
    """In the dtype of the default run on this machine (``auto``: bfloat16 on native CPUs)."""
    return load_gemma("bfloat16" if native_bf16() else "float32")


@pytest.fixture(scope="module")
def gemma_float32():
    return load_gemma("float32")


def answers_of(model, tokenizer, prompts: list[str]) -> list[str]:
    batch = patching.encode(tokenizer, prompts, model.device)
    return patching.decode(model, tokenizer, batch, max_new_tokens=MAX_NEW_TOKENS).answers


def test_few_shot_prompts_answer(gemma):
    model, tokenizer = gemma
    answers = answers_of(model, tokenizer, [prompt(DEMOS, x) for x, _ in QUERIES])
    assert n_correct(answers, [y for _, y in QUERIES]) >= 6, answers


def test_zero_shot_prompts_mostly_fail(gemma):
    model, tokenizer = gemma
    answers = answers_of(model, tokenizer, [prompt([], x) for x, _ in QUERIES])
    assert n_correct(answers, [y for _, y in QUERIES]) <= 2, answers


def test_task_vector_recovers_the_answers(gemma):
    model, tokenizer = gemma
    dummy_prompts = [
        [prompt(DEMOS, DUMMIES[(i + k) % len(DUMMIES)]) for k in range(2)]
        for i in range(len(QUERIES))
    ]
    vectors = patching.task_vectors(model, tokenizer, dummy_prompts)
    swept = patching.sweep_layers(
        model,
        tokenizer,
        [prompt([], x) for x, _ in QUERIES],
        vectors,
        list(LAYERS),
        include_unpatched=False,
        max_new_tokens=MAX_NEW_TOKENS,
    )
    by_layer = {
        layer: [swept.answers[i * len(LAYERS) + j] for i in range(len(QUERIES))]
        for j, layer in enumerate(LAYERS)
    }
    scores = {
        layer: n_correct(answers, [y for _, y in QUERIES]) for layer, answers in by_layer.items()
    }
    best = max(scores, key=scores.get)
    assert scores[best] > len(QUERIES) / 2, (scores, by_layer[best])


def assert_greedy_tokens_are_the_models_argmax(model, tokenizer, layers) -> None:
    """Greedy tokens without kept logits (the attached head) equal the argmax of the model's own
    logits: few-shot and zero-shot prompts unpatched, zero-shot prompts patched at ``layers``."""
    prompts = [prompt(DEMOS, x) for x, _ in QUERIES] + [prompt([], x) for x, _ in QUERIES]
    _, own_logits = patching.read_out(model, patching.encode(tokenizer, prompts, model.device))
    fast = patching.decode(
        model, tokenizer, patching.encode(tokenizer, prompts, model.device), keep_first_logits=False
    )
    assert torch.equal(fast.tokens[:, 0], own_logits.argmax(-1).cpu())
    zero_shot = [prompt([], x) for x, _ in QUERIES]
    vectors = patching.task_vectors(model, tokenizer, [[prompt(DEMOS, d)] for d in DUMMIES[:1] * 8])
    full = patching.sweep_layers(model, tokenizer, zero_shot, vectors, layers)
    greedy = patching.sweep_layers(
        model, tokenizer, zero_shot, vectors, layers, keep_first_logits=False
    )
    assert torch.equal(greedy.tokens, full.first_logits.argmax(-1, keepdim=True))


def test_screened_greedy_tokens_equal_the_float32_argmax(gemma_float32):
    """In float32 the head screens in bfloat16 and rescores in float32; every layer is patched."""
    model, tokenizer = gemma_float32
    head = vocab_head.attached(model)
    assert head is not None and (head.screen is not None) == native_bf16()
    layers = list(range(model.config.get_text_config().num_hidden_layers))
    assert_greedy_tokens_are_the_models_argmax(model, tokenizer, layers)


def test_greedy_tokens_of_the_default_dtype_equal_the_models_own_argmax(gemma):
    """In the default run's dtype (bfloat16 here) the head is attached without a screen."""
    model, tokenizer = gemma
    assert vocab_head.attached(model) is not None
    assert_greedy_tokens_are_the_models_argmax(model, tokenizer, list(LAYERS))
