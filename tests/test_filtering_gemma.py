"""Token filtering on the embedded model's real tokenizer (Gemma 3 270M, 262k SentencePiece vocab).

Slow: loading the tokenizer takes seconds. The tokenizer comes from the converted model folder
that the pipeline's prepare_model stage writes (``$TASKVECTORS_CACHE`` or ``~/.cache/taskvectors``,
then ``models/gemma-3-270m``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taskvectors.tasks import DEFAULT_TASKS, load_pairs, load_registry
from taskvectors.tasks.prompt_files import build_prompt_document, prompt_format
from taskvectors.tasks.prompts import TEMPLATES
from taskvectors.tasks.splits import answer_token_ids, filter_pairs, make_examples

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
            "Convert the model first (the prepare_model stage, or taskvectors.engine.models)."
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
    choice = prompt_format(spec, DATA_DIR, gemma_tokenizer, TEMPLATES["paper"], spec.spacing)
    if spec.family != "algorithmic":
        # data tasks should give every dev and test example its own query
        n_queries = PAPER_SIZES["n_dev"] + PAPER_SIZES["n_test"]
        assert choice.filter_report["n_kept"] >= n_queries, choice
    examples = make_examples(
        choice.pairs, **PAPER_SIZES, seed=41, task_name=name, model="gemma-3-270m"
    )
    assert len(examples) == 100


def test_the_papers_rule_spaces_translation_and_linguistic_on_gemma(gemma_tokenizer, registry):
    """Gemma writes most words as one token after a space: en->es keeps 201 pairs unspaced."""
    for name in DEFAULT_TASKS:
        spec = registry[name]
        choice = prompt_format(spec, DATA_DIR, gemma_tokenizer, TEMPLATES["paper"], spec.spacing)
        if spec.family in ("translation", "linguistic"):
            assert choice.chosen == "leading", (name, choice.n_kept)
            assert choice.n_kept["leading"] >= choice.n_kept["none"], (name, choice.n_kept)
        else:
            assert choice.chosen == "none", (name, choice.n_kept)


def test_first_answer_tokens_carry_the_space_in_spaced_prompts(gemma_tokenizer, registry) -> None:
    spec = registry["translation_fr_en"]
    sizes = {**PAPER_SIZES, "n_dev": 5, "n_test": 5, "seed": 41}
    model = {"alias": "gemma-3-270m"}
    document = build_prompt_document(
        spec, DATA_DIR, gemma_tokenizer, TEMPLATES["paper"], sizes, model
    )
    assert document["template"]["demonstration"] == "example: {x}-> {y}"
    for example in document["examples"]:
        ids = example["answer_first_token_ids"]
        assert len(ids) == len(example["answers"])
        canonical = gemma_tokenizer.decode([ids[0]])
        assert canonical == " " + example["answers"][0], (example["query"], canonical)


def test_strict_first_token_differs_from_the_prefix_rule_on_capitals(gemma_tokenizer) -> None:
    """The first token of a capital in context is the answer's own piece, not any prefix."""
    first = answer_token_ids(gemma_tokenizer, TEMPLATES["paper"], "Belmopan")[0]
    piece = gemma_tokenizer.decode([first])
    assert piece != "B" and first != gemma_tokenizer.convert_tokens_to_ids("B")
    assert "Belmopan".startswith(piece)


def test_novel_answers_are_all_single_tokens_with_and_without_a_space(
    gemma_tokenizer, registry
) -> None:
    """The novel tasks' letters lose nothing to the filter, whichever spacing a config picks."""
    paper = TEMPLATES["paper"]
    for name, spec in registry.items():
        if spec.family == "novel":
            pairs = load_pairs(spec, DATA_DIR)
            for template in (paper, paper.spaced()):
                _, report = filter_pairs(pairs, gemma_tokenizer, template, spec.filter)
                assert report["n_kept"] == report["n_pairs"], (name, template.name, report)


@pytest.mark.parametrize(
    ("task", "pool"),
    [
        ("knowledge_location_religion", "numbers"),  # 3 answers: digits
        ("algorithmic_next_letter", "symbols"),  # letters are the task's; 10 digits are too few
        ("translation_fr_en", "words"),  # an open set
    ],
)
def test_abstract_labels_on_gemma_are_single_tokens_from_the_expected_pool(
    gemma_tokenizer, registry, task, pool
) -> None:
    from taskvectors.analyses.recognition_learning.conditions import (
        abstract_labels,
        answer_set,
        english_word_pool,
        single_token_predicate,
    )

    pairs = load_pairs(registry[task], DATA_DIR)
    is_single = single_token_predicate(gemma_tokenizer, TEMPLATES["paper"])
    mapping = abstract_labels(
        answer_set(pairs),
        is_single,
        seed=41,
        task=task,
        avoid=[p.input for p in pairs],
        words=english_word_pool(DATA_DIR),
    )
    assert mapping.pool == pool
    assert all(
        len(answer_token_ids(gemma_tokenizer, TEMPLATES["paper"], label)) == 1
        for label in mapping.labels.values()
    )
