"""Token filtering on the embedded model's real tokenizer (Gemma 3 270M, 262k SentencePiece vocab).

Slow: loading the tokenizer takes seconds. The tokenizer comes from the converted model folder
that the pipeline's prepare_model stage writes (``$TASKVECTORS_CACHE`` or ``~/.cache/taskvectors``,
then ``models/gemma-3-270m``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taskvectors.prompts import TEMPLATES
from taskvectors.splits import answer_token_ids, filter_pairs, make_examples
from taskvectors.tasks import DEFAULT_TASKS, load_pairs, load_registry

pytestmark = pytest.mark.slow

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CACHE = Path(os.environ.get("TASKVECTORS_CACHE") or Path.home() / ".cache" / "taskvectors")
GEMMA_DIR = CACHE / "models" / "gemma-3-270m"
PAPER_SIZES = {"n_demos": 5, "n_dev": 50, "n_test": 50, "n_dummy": 2}


@pytest.fixture(scope="module")
def gemma_tokenizer():
    if not (GEMMA_DIR / "tokenizer_config.json").is_file():
        pytest.fail(
            f"the embedded model's tokenizer is missing: no {GEMMA_DIR}/tokenizer_config.json. "
            "Convert the model first (the prepare_model stage, or taskvectors.models)."
        )
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(GEMMA_DIR)


@pytest.fixture(scope="module")
def registry():
    return load_registry(DATA_DIR)


DIGIT_ANSWERS = {"list_min", "list_max", "list_length", "char_to_int"}


def test_algorithmic_answers_are_all_single_tokens_in_the_paper_template(
    gemma_tokenizer, registry
) -> None:
    for name, spec in registry.items():
        if spec.family == "algorithmic":
            pairs = load_pairs(spec, DATA_DIR)
            _, report = filter_pairs(pairs, gemma_tokenizer, TEMPLATES["paper"], spec.filter)
            assert report["n_kept"] == report["n_pairs"], (name, report)


@pytest.mark.parametrize("template", ["arrow", "qa"])
def test_spaced_templates_lose_digit_answers(gemma_tokenizer, registry, template) -> None:
    """Gemma writes " 7" as two tokens ("▁", "7"), so digit answers after a space are dropped."""
    assert len(gemma_tokenizer.encode(" 7", add_special_tokens=False)) == 2
    for name, spec in registry.items():
        if spec.family == "algorithmic":
            pairs = load_pairs(spec, DATA_DIR)
            _, report = filter_pairs(pairs, gemma_tokenizer, TEMPLATES[template], spec.filter)
            expected = 0 if spec.source["generator"] in DIGIT_ANSWERS else report["n_pairs"]
            assert report["n_kept"] == expected, (name, report)


def test_answers_after_a_spaced_arrow_are_one_token_with_their_space(gemma_tokenizer) -> None:
    arrow = TEMPLATES["arrow"]
    ids = answer_token_ids(gemma_tokenizer, arrow, "Paris")
    assert ids is not None and len(ids) == 1
    assert gemma_tokenizer.decode(ids) == " Paris"
    # a prompt ending in a space would put the space in its own token and break the answer
    spaced = gemma_tokenizer.encode("a -> Paris")
    assert gemma_tokenizer.encode("a -> ") != spaced[: len(gemma_tokenizer.encode("a -> "))]


def test_paper_template_answers_follow_the_arrow_directly(gemma_tokenizer) -> None:
    ids = answer_token_ids(gemma_tokenizer, TEMPLATES["paper"], "going")
    assert ids is not None and gemma_tokenizer.decode(ids) == "going"


@pytest.mark.parametrize("name", DEFAULT_TASKS)
def test_default_tasks_survive_filtering_with_paper_sizes(gemma_tokenizer, registry, name) -> None:
    spec = registry[name]
    pairs = load_pairs(spec, DATA_DIR)
    kept, report = filter_pairs(pairs, gemma_tokenizer, TEMPLATES["paper"], spec.filter)
    if spec.family != "algorithmic":
        # data tasks should give every dev and test example its own query
        n_queries = PAPER_SIZES["n_dev"] + PAPER_SIZES["n_test"]
        assert report["n_kept"] >= n_queries, report
    examples = make_examples(kept, **PAPER_SIZES, seed=41, task_name=name, model="gemma-3-270m")
    assert len(examples) == 100
