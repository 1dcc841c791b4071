"""The recognition-versus-learning conditions (issue 23), built on tiny data without a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import taskvectors
from taskvectors.analyses.recognition_learning import conditions as cond
from taskvectors.analyses.recognition_learning.conditions import (
    CONDITIONS,
    ConditionExample,
    LabelMapping,
    abstract_condition,
    abstract_labels,
    answer_set,
    balance_directions,
    build_conditions,
    english_word_pool,
    gold_condition,
    most_changed,
    random_condition,
    show_query,
    shuffled_condition,
    shuffled_order,
    single_token_predicate,
)
from taskvectors.results.files import Example
from taskvectors.tasks import Pair
from taskvectors.tasks.novel import case_direction, lower_upper_bijection
from taskvectors.tasks.prompts import TEMPLATES
from taskvectors.tasks.splits import make_examples
from tiny_tokenizer import tiny_tokenizer

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
TASK = "tiny_task"
SEED = 41
# 12 inputs onto 4 answers: outputs repeat among the demonstrations, as in a classification task
PAIRS = [Pair(f"w{i:02d}", (f"c{i % 4}",)) for i in range(12)]
# 30 inputs onto 30 answers: an open answer set
OPEN_PAIRS = [Pair(f"x{i:02d}", (f"y{i:02d}", f"alt{i:02d}")) for i in range(30)]


def examples_of(pairs, n_demos=5, n_dev=10, n_test=10) -> list[Example]:
    return make_examples(
        pairs, n_demos=n_demos, n_dev=n_dev, n_test=n_test, n_dummy=2, seed=SEED, task_name=TASK
    )


def with_token_ids(examples: list[Example]) -> list[Example]:
    """The examples as a prompt file holds them: with their answers' first tokens."""
    return [Example.from_dict({**e.to_dict(), "answer_first_token_ids": [7]}) for e in examples]


def everything_is_one_token(label: str) -> bool:
    return True


def demo_outputs(example: Example) -> list[str]:
    return [y for _, y in example.demos]


# --- gold ----------------------------------------------------------------------------------------


def test_gold_keeps_the_examples_and_targets_the_gold_answers() -> None:
    examples = with_token_ids(examples_of(OPEN_PAIRS))
    built = gold_condition(examples)
    assert [c.example for c in built] == examples  # first-token ids kept: nothing changed
    assert all(c.condition == "gold" and c.target_answers == c.gold_answers for c in built)


# --- shuffled ------------------------------------------------------------------------------------


def test_shuffled_keeps_inputs_and_the_output_multiset_and_breaks_every_pair() -> None:
    examples = examples_of(OPEN_PAIRS)
    gold = {p.input: p.output for p in OPEN_PAIRS}
    built = shuffled_condition(examples, seed=SEED, task=TASK)
    for original, shuffled in zip(examples, built, strict=True):
        assert [x for x, _ in shuffled.example.demos] == [x for x, _ in original.demos]
        assert Counter(demo_outputs(shuffled.example)) == Counter(demo_outputs(original))
        # distinct outputs: a derangement, so no demonstration keeps its own output
        assert all(gold[x] != y for x, y in shuffled.example.demos)
        assert shuffled.example.query == original.query
        assert shuffled.target_answers == shuffled.gold_answers == original.answers
        assert shuffled.example.dummies == original.dummies


def test_shuffled_breaks_as_many_pairs_as_repeated_outputs_allow() -> None:
    examples = examples_of(PAIRS, n_demos=6)
    gold = {p.input: p.output for p in PAIRS}
    built = shuffled_condition(examples, seed=1, task=TASK)
    for original, shuffled in zip(examples, built, strict=True):
        outputs = demo_outputs(original)
        broken = sum(gold[x] != y for x, y in shuffled.example.demos)
        assert broken == most_changed(outputs) > 0, (outputs, shuffled.example.demos)
        assert Counter(demo_outputs(shuffled.example)) == Counter(outputs)


@pytest.mark.parametrize(
    ("outputs", "best"),
    [
        (["a", "b", "c", "d", "e"], 5),
        (["a", "a", "b", "b", "c"], 5),
        (["a", "a", "a", "b", "c"], 4),  # three a's: only two of them can move
        (["a", "a", "a", "a", "b"], 2),
        (["a", "a", "a"], 0),
    ],
)
def test_the_fallback_rotation_reaches_the_best_possible_shuffle(monkeypatch, outputs, best):
    assert most_changed(outputs) == best
    monkeypatch.setattr(cond, "MAX_SHUFFLE_DRAWS", 0)  # straight to the rotation construction
    order = shuffled_order(outputs, np.random.default_rng(0))
    assert sorted(order) == list(range(len(outputs)))
    assert sum(outputs[j] != outputs[i] for i, j in enumerate(order)) == best


def test_shuffled_is_seeded_per_example() -> None:
    examples = examples_of(OPEN_PAIRS)
    once = shuffled_condition(examples, seed=SEED, task=TASK)
    assert shuffled_condition(examples, seed=SEED, task=TASK) == once
    other = shuffled_condition(examples, seed=SEED + 1, task=TASK)
    assert [c.example.demos for c in other] != [c.example.demos for c in once]


# --- random --------------------------------------------------------------------------------------


def test_random_draws_every_output_from_the_answer_set_whatever_the_input() -> None:
    examples = examples_of(OPEN_PAIRS, n_dev=15, n_test=15)
    answers = answer_set(OPEN_PAIRS)
    assert answers == tuple(f"y{i:02d}" for i in range(30))  # canonical outputs only
    gold = {p.input: p.output for p in OPEN_PAIRS}
    built = random_condition(examples, answers, seed=SEED, task=TASK)
    drawn = [y for c in built for y in demo_outputs(c.example)]
    assert set(drawn) <= set(answers)
    assert len(set(drawn)) > 20  # drawn across the set, not a fixed few
    assert sum(gold[x] == y for c in built for x, y in c.example.demos) < 10  # ~150/30 = 5
    for original, rand in zip(examples, built, strict=True):
        assert [x for x, _ in rand.example.demos] == [x for x, _ in original.demos]
        assert rand.target_answers == rand.gold_answers == original.answers
    assert random_condition(examples, answers, seed=SEED, task=TASK) == built


def test_random_draws_from_the_given_set_only() -> None:
    built = random_condition(examples_of(PAIRS), ["c1"], seed=SEED, task=TASK)
    assert {y for c in built for y in demo_outputs(c.example)} == {"c1"}
    with pytest.raises(ValueError, match="non-empty answer set"):
        random_condition(examples_of(PAIRS), [], seed=SEED, task=TASK)


# --- abstract ------------------------------------------------------------------------------------


def test_abstract_is_one_bijection_applied_to_demonstrations_and_targets() -> None:
    examples = with_token_ids(examples_of(OPEN_PAIRS))
    answers = answer_set(OPEN_PAIRS)
    words = [f"label{i}" for i in range(100)]
    mapping = abstract_labels(
        answers, everything_is_one_token, seed=SEED, task=TASK, avoid=["x00"], words=words
    )
    labels = mapping.labels
    assert sorted(labels) == sorted(answers)
    assert len(set(labels.values())) == len(labels)  # a bijection
    assert not set(labels.values()) & set(answers)
    built = abstract_condition(examples, mapping)
    for original, abstract in zip(examples, built, strict=True):
        assert abstract.example.demos == tuple((x, labels[y]) for x, y in original.demos)
        assert abstract.target_answers == (labels[original.answers[0]],)  # alternatives: no label
        assert abstract.gold_answers == original.answers
        assert abstract.example.answer_first_token_ids == ()  # the answers changed
    # one mapping for the whole task: the same answer gets the same label in every example
    seen: dict[str, set[str]] = {}
    for original, abstract in zip(examples, built, strict=True):
        for (_, y), (_, label) in zip(original.demos, abstract.example.demos, strict=True):
            seen.setdefault(y, set()).add(label)
    assert all(len(shown) == 1 for shown in seen.values())


def test_abstract_labels_come_from_the_first_pool_unlike_the_task() -> None:
    # four answer classes, none a digit: numbers (Pan et al.'s "number" label space)
    mapping = abstract_labels(["c0", "c1", "c2", "c3"], everything_is_one_token, seed=1, task=TASK)
    assert mapping.pool == "numbers" and all(v.isdigit() for v in mapping.labels.values())
    # letter answers: no letter labels, and digits are taken by the inputs: symbols
    letters = abstract_labels(["a", "b"], everything_is_one_token, seed=1, task=TASK, avoid="12")
    assert letters.pool == "symbols"
    # an open set larger than every small pool: words
    many = [f"ans{i}" for i in range(150)]
    words = [f"word{i}" for i in range(200)]
    assert abstract_labels(many, everything_is_one_token, seed=1, task=TASK, words=words).pool == (
        "words"
    )
    with pytest.raises(ValueError, match="no label pool has 150 single-token labels"):
        abstract_labels(many, everything_is_one_token, seed=1, task=TASK, words=words[:100])


def test_abstract_labels_are_single_tokens_seeded_and_never_a_task_string() -> None:
    def one_token(label: str) -> bool:  # as Gemma: each digit is a token, and two are not
        return not (label.isdigit() and len(label) > 1) and label not in {"3", "7"}

    answers = ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]
    mapping = abstract_labels(answers, one_token, seed=5, task=TASK)
    assert set(mapping.labels.values()) <= set("01245689")
    assert abstract_labels(answers, one_token, seed=5, task=TASK) == mapping
    assert abstract_labels(answers, one_token, seed=6, task=TASK) != mapping
    # an open set: the word pool overlaps the answers (one only by case) and the inputs
    answers = ["Cat", *(f"w{i}" for i in range(199))]
    pool = ["cat", "dog", *(f"w{i}" for i in range(400)), *(f"v{i}" for i in range(300))]
    words = abstract_labels(answers, one_token, seed=5, task=TASK, avoid=["dog"], words=pool)
    assert words.pool == "words"
    taken = {"cat", "dog", *(f"w{i}" for i in range(199))}
    assert not {label.casefold() for label in words.labels.values()} & taken


def test_an_answer_without_a_label_is_refused() -> None:
    mapping = LabelMapping("numbers", {"c0": "0"})
    with pytest.raises(ValueError, match="has no label"):
        abstract_condition(examples_of(PAIRS), mapping)
    with pytest.raises(ValueError, match="its own label"):
        LabelMapping("numbers", {"a": "0", "b": "0"})


def test_labels_are_single_tokens_for_the_tokenizer_and_free_of_template_markers() -> None:
    is_single = single_token_predicate(tiny_tokenizer(), TEMPLATES["paper"])
    assert is_single("be") and is_single("@")
    assert not is_single("xyz")  # three tokens
    assert not is_single("zoo")  # merges with the arrow
    assert not is_single("->") and not is_single("a b") and not is_single("")
    mapping = abstract_labels(["c0", "c1"], is_single, seed=1, task=TASK)
    assert mapping.pool == "numbers"  # every printable character is a token of the tiny BPE


def test_the_english_word_pool_is_the_projects_own_words() -> None:
    pool = english_word_pool(DATA_DIR)
    assert len(pool) > 3000 and list(pool) == sorted(set(pool))
    assert {"house", "going", "mice", "fast"} <= set(pool)  # table, gerund, plural, antonym
    assert all(word.isascii() and word.islower() and len(word) >= 3 for word in pool)


# --- the condition examples ----------------------------------------------------------------------


def test_condition_examples_round_trip_and_say_whether_the_target_is_shown() -> None:
    built = build_conditions(
        examples_of(PAIRS),
        CONDITIONS,
        answers=answer_set(PAIRS),
        seed=SEED,
        task=TASK,
        mapping=abstract_labels(answer_set(PAIRS), everything_is_one_token, seed=1, task=TASK),
    )
    assert list(built) == list(CONDITIONS)
    for condition, items in built.items():
        for item in items:
            assert item.condition == condition
            again = ConditionExample.from_dict(json.loads(json.dumps(item.to_dict())))
            assert again == item
            shown = any(a in demo_outputs(item.example) for a in item.target_answers)
            assert item.target_shown == shown
    # four answers over five demonstrations: the query's answer is usually shown
    assert sum(item.target_shown for item in built["gold"]) > len(built["gold"]) / 2
    with pytest.raises(ValueError, match="needs a label mapping"):
        build_conditions(examples_of(PAIRS), ["abstract"], answers=(), seed=SEED, task=TASK)
    with pytest.raises(ValueError, match="unknown conditions"):
        build_conditions(examples_of(PAIRS), ["flipped"], answers=(), seed=SEED, task=TASK)


def test_changed_conditions_drop_the_first_token_ids() -> None:
    examples = with_token_ids(examples_of(OPEN_PAIRS))
    for built in (
        shuffled_condition(examples, seed=SEED, task=TASK),
        random_condition(examples, answer_set(OPEN_PAIRS), seed=SEED, task=TASK),
    ):
        assert all(c.example.answer_first_token_ids == () for c in built)


# --- demonstration constructions -----------------------------------------------------------------


def test_show_query_puts_the_query_pair_among_the_demonstrations() -> None:
    examples = examples_of(OPEN_PAIRS)
    shown = show_query(examples, seed=SEED, task=TASK)
    positions = set()
    for original, example in zip(examples, shown, strict=True):
        assert len(example.demos) == len(original.demos)
        assert example.demos.count((original.query, original.answers[0])) == 1
        changed = [i for i, d in enumerate(example.demos) if d != original.demos[i]]
        assert len(changed) == 1
        positions.add(changed[0])
    assert len(positions) > 1  # the position is drawn, not fixed
    assert all(ConditionExample("gold", e, e.answers).target_shown for e in shown)


@pytest.mark.parametrize("n_demos", [4, 5, 10])
def test_balance_directions_draws_half_the_demonstrations_each_way(n_demos) -> None:
    pairs = lower_upper_bijection()
    examples = examples_of(pairs, n_demos=n_demos, n_dev=20, n_test=20)
    balanced = balance_directions(examples, pairs, case_direction, seed=SEED, task=TASK)
    answers = {p.input: p.output for p in pairs}
    odd_going = Counter()
    for original, example in zip(examples, balanced, strict=True):
        directions = Counter(case_direction(x) for x, _ in example.demos)
        assert sum(directions.values()) == n_demos
        assert abs(directions["lower"] - directions["upper"]) == n_demos % 2
        odd_going.update(d for d, n in directions.items() if n > n_demos // 2)
        assert all(answers[x] == y for x, y in example.demos)  # true pairs
        inputs = [x for x, _ in example.demos]
        assert len(set(inputs)) == n_demos
        assert not set(inputs) & {original.query, *original.dummies}
        assert (example.query, example.answers, example.dummies) == (
            original.query,
            original.answers,
            original.dummies,
        )
    if n_demos % 2:
        assert set(odd_going) == {"lower", "upper"}  # the odd demonstration's side is drawn


def test_balance_directions_needs_two_directions() -> None:
    with pytest.raises(ValueError, match="two directions"):
        balance_directions(examples_of(PAIRS), PAIRS, lambda x: x, seed=SEED, task=TASK)


# --- the same prompts in every process -----------------------------------------------------------

HASHSEED_SCRIPT = """
import json
from taskvectors.analyses.recognition_learning.conditions import (
    CONDITIONS, abstract_labels, answer_set, build_conditions)
from taskvectors.tasks.splits import make_examples
from taskvectors.tasks import Pair
pairs = [Pair(f"w{i:02d}", (f"c{i % 6}",)) for i in range(40)]
examples = make_examples(pairs, n_demos=5, n_dev=10, n_test=10, n_dummy=2, seed=41,
                         task_name="t")
answers = answer_set(pairs)
mapping = abstract_labels(answers, lambda label: True, seed=41, task="t",
                          words=[f"v{i}" for i in range(50)])
built = build_conditions(examples, CONDITIONS, answers=answers, seed=41, task="t",
                         mapping=mapping)
print(json.dumps({k: [c.to_dict() for c in v] for k, v in built.items()}, sort_keys=True))
"""


def conditions_in_a_fresh_process(hash_seed: str) -> dict:
    package_root = Path(taskvectors.__file__).resolve().parents[1]  # the code under test
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(package_root)}
    result = subprocess.run(
        [sys.executable, "-c", HASHSEED_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_conditions_are_the_same_under_any_pythonhashseed() -> None:
    first, second = conditions_in_a_fresh_process("1"), conditions_in_a_fresh_process("2")
    assert first == second and set(first) == set(CONDITIONS)
