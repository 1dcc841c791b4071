"""The prompt conditions that tell task recognition from task learning, built without a model.

Pan, Gao, Chen and Chen (2023) split in-context learning into *recognition* (the demonstrations
name a task the model already knows, even when their pairs are wrong) and *learning* (the model
picks up a mapping it can only get from the demonstrations). Each condition here keeps the run's
examples (same queries, same number of demonstrations, same dummy queries x′) and changes only
what the demonstrations show and which answer counts:

* ``gold``: the examples unchanged (the reference);
* ``shuffled``: the demonstrations' outputs permuted among them: inputs and the multiset of
  outputs kept, the pairing broken (a value-derangement when the outputs allow one, as in the
  function-vector paper's corrupted prompts but never leaving every pair intact by chance);
* ``random``: each demonstration's output drawn uniformly, with replacement, from the task's
  answer set, independently of its input (Pan et al.'s RANDOM);
* ``abstract``: a fixed random bijection from the task's answers to unrelated single-token labels
  (numbers, letters or symbols for small answer sets; English words for open ones), applied to the
  demonstrations and to the expected answer (Pan et al.'s ABSTRACT): a consistent mapping that the
  model can only learn from S.

Each builder returns :class:`ConditionExample`: the :class:`~taskvectors.results.files.Example` the
model sees, whose ``answers`` are the condition's target, and the gold answers beside it, so one
prediction is scored against both ("does the model follow S or its prior?"). A changed example
has no ``answer_first_token_ids`` (its prompt or its answers changed): recompute them with
``taskvectors.tasks.splits.answer_first_token_ids`` on the condition's examples.

All draws are seeded per example with ``derived_seed(condition, seed, task, example_id)``
(SHA-256), so a condition's prompts are the same in every process whatever ``PYTHONHASHSEED`` is.

What the protocol implies: a query is never among its own demonstrations. Under ``abstract`` the
query's label is therefore given by S only when the query's answer is also some demonstration's
answer (:attr:`ConditionExample.target_shown`): nearly always for a three-answer task, almost
never for translation, so report abstract accuracy on the shown examples too. The same holds for
a random permutation (``novel_letter_permutation``): :func:`show_query` puts the query's own pair
among the demonstrations, turning it into an associative look-up. Dong et al.'s bijection tasks
mix both directions in a random draw; :func:`balance_directions` redraws exactly half each way.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from taskvectors.results.files import Example
from taskvectors.seeding import derived_seed
from taskvectors.tasks.files import read_table_pairs
from taskvectors.tasks.pairs import Pair
from taskvectors.tasks.prompts import PromptTemplate
from taskvectors.tasks.registry import load_pairs, load_registry
from taskvectors.tasks.splits import answer_token_ids

CONDITIONS = ("gold", "shuffled", "random", "abstract")

#: Label pools for ``abstract``, tried in this order; each is filtered by the tokenizer. Gemma 3
#: writes every digit as its own token, so only 0-9 are single tokens there (GPT-2's BPE has
#: 0-99); symbols avoid the paper template's own ``:``, ``-`` and ``>`` and quotes and brackets.
NUMBER_LABELS: tuple[str, ...] = tuple(str(number) for number in range(100))
LETTER_LABELS: tuple[str, ...] = tuple(string.ascii_uppercase + string.ascii_lowercase)
SYMBOL_LABELS: tuple[str, ...] = tuple("@#%&*+=~^!?;|/$§¶©®°±µ¥£€¢¤¬×÷†‡•¿¡«»")
WORD_POOL = "words"
#: Where :func:`english_word_pool` finds English words: a column of the translation table, and
#: the inputs and answers of every task of this family.
WORD_TABLE = ("translation/words.tsv", "en")
WORD_FAMILY = "linguistic"
MIN_WORD_LENGTH = 3
MAX_SHUFFLE_DRAWS = 1000


@dataclass(frozen=True)
class ConditionExample:
    """One example under a condition: the prompt as shown, its target and the gold answers.

    ``example.answers`` is the condition's target (the gold answers except under ``abstract``,
    where they are the gold answers' labels); ``gold_answers`` are the task's own answers.
    """

    condition: str
    example: Example
    gold_answers: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"unknown condition {self.condition!r}; known: {CONDITIONS}")
        if not self.gold_answers or not self.example.answers:
            raise ValueError(f"example {self.example.example_id}: empty target or gold answers")

    @property
    def target_answers(self) -> tuple[str, ...]:
        return self.example.answers

    @property
    def target_shown(self) -> bool:
        """Whether some demonstration shows a target answer (a query's own pair never is)."""
        shown = {output for _, output in self.example.demos}
        return any(answer in shown for answer in self.target_answers)

    def to_dict(self) -> dict[str, Any]:
        """The example's own fields plus ``condition`` and ``gold_answers`` (JSON-ready)."""
        return {
            "condition": self.condition,
            "gold_answers": list(self.gold_answers),
            **self.example.to_dict(),
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> ConditionExample:
        example = {k: v for k, v in entry.items() if k not in ("condition", "gold_answers")}
        return cls(
            condition=str(entry["condition"]),
            example=Example.from_dict(example),
            gold_answers=tuple(entry["gold_answers"]),
        )


@dataclass(frozen=True)
class LabelMapping:
    """The ``abstract`` condition's bijection: each answer of the task → its label."""

    pool: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.labels.values())) != len(self.labels):
            raise ValueError("a label mapping must give every answer its own label")

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "labels": dict(self.labels)}


def answer_set(pairs: Iterable[Pair]) -> tuple[str, ...]:
    """The task's answer set: each pair's canonical output (what demonstrations show), sorted."""
    return tuple(sorted({pair.output for pair in pairs}))


def example_rng(condition: str, seed: int, task: str, example_id: int) -> np.random.Generator:
    """The generator of one example's draws under ``condition`` (independent of the process)."""
    return np.random.default_rng(derived_seed(condition, seed, task, example_id))


def _changed(example: Example, **fields: Any) -> Example:
    """``example`` with ``fields`` replaced and its in-context first tokens dropped."""
    return replace(example, answer_first_token_ids=(), **fields)


# --- gold and shuffled --------------------------------------------------------------------------


def gold_condition(examples: Sequence[Example]) -> list[ConditionExample]:
    """The examples as they are: the target is the gold answer."""
    return [ConditionExample("gold", example, example.answers) for example in examples]


def shuffled_condition(
    examples: Sequence[Example], *, seed: int, task: str
) -> list[ConditionExample]:
    """Each example's demonstration outputs permuted among its demonstrations (see
    :func:`shuffled_order`); inputs, query and target unchanged."""
    result = []
    for example in examples:
        outputs = [output for _, output in example.demos]
        rng = example_rng("shuffled", seed, task, example.example_id)
        order = shuffled_order(outputs, rng)
        demos = tuple((x, outputs[j]) for (x, _), j in zip(example.demos, order, strict=True))
        result.append(ConditionExample("shuffled", _changed(example, demos=demos), example.answers))
    return result


def most_changed(outputs: Sequence[str]) -> int:
    """How many positions a permutation of ``outputs`` can give a different value at most.

    ``n`` when no value fills more than half the positions, else ``2 * (n - largest count)``.
    """
    if not outputs:
        return 0
    n, largest = len(outputs), max(Counter(outputs).values())
    return min(n, 2 * (n - largest))


def shuffled_order(outputs: Sequence[str], rng: np.random.Generator) -> list[int]:
    """A permutation ``order`` (position ``i`` gets ``outputs[order[i]]``) that changes as many
    values as possible: a value-derangement whenever one exists.

    Uniform permutations are drawn until one reaches :func:`most_changed` (uniform among those);
    after ``MAX_SHUFFLE_DRAWS`` draws the rotation construction below reaches it for certain.
    """
    n, target = len(outputs), most_changed(outputs)
    for _ in range(MAX_SHUFFLE_DRAWS):
        order = [int(j) for j in rng.permutation(n)]
        if _n_changed(outputs, order) == target:
            return order
    return _rotation_order(outputs, rng)


def _n_changed(outputs: Sequence[str], order: Sequence[int]) -> int:
    return sum(outputs[j] != outputs[i] for i, j in enumerate(order))


def _rotation_order(outputs: Sequence[str], rng: np.random.Generator) -> list[int]:
    """Positions grouped by value (largest group first, random order within a group), each
    taking the value of the position ``largest count`` places further round: every position
    changes value when no value fills more than half, else ``2 * (n - largest count)`` do."""
    counts = Counter(outputs)
    tie = rng.permutation(len(outputs))
    ranked = sorted(
        range(len(outputs)), key=lambda i: (-counts[outputs[i]], outputs[i], int(tie[i]))
    )
    shift = max(counts.values())
    order = [0] * len(outputs)
    for k, position in enumerate(ranked):
        order[position] = ranked[(k + shift) % len(outputs)]
    return order


# --- random -------------------------------------------------------------------------------------


def random_condition(
    examples: Sequence[Example], answers: Sequence[str], *, seed: int, task: str
) -> list[ConditionExample]:
    """Each demonstration's output drawn uniformly (with replacement) from ``answers``, the task's
    answer set (:func:`answer_set`), whatever its input; query and target unchanged."""
    pool = sorted(set(answers))
    if not pool:
        raise ValueError(f"task {task}: the random condition needs a non-empty answer set")
    result = []
    for example in examples:
        rng = example_rng("random", seed, task, example.example_id)
        drawn = rng.integers(0, len(pool), size=len(example.demos))
        demos = tuple((x, pool[int(i)]) for (x, _), i in zip(example.demos, drawn, strict=True))
        result.append(ConditionExample("random", _changed(example, demos=demos), example.answers))
    return result


# --- abstract -----------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_letter(text: str) -> bool:
    return len(text) == 1 and text in string.ascii_letters


def _is_symbol(text: str) -> bool:
    return not any(char.isalnum() for char in text)


#: (name, labels, kind): a pool is skipped for a task with any input or answer of its kind, so
#: that a label never reads as an answer of the task (letters for a letter task, digits for
#: ``list_length``); the word pool has no kind and only leaves out the task's own strings.
LABEL_POOLS: tuple[tuple[str, tuple[str, ...], Callable[[str], bool]], ...] = (
    ("numbers", NUMBER_LABELS, _is_number),
    ("letters", LETTER_LABELS, _is_letter),
    ("symbols", SYMBOL_LABELS, _is_symbol),
)


def abstract_labels(
    answers: Sequence[str],
    is_single_token: Callable[[str], bool],
    *,
    seed: int,
    task: str,
    avoid: Iterable[str] = (),
    words: Sequence[str] = (),
) -> LabelMapping:
    """A fixed random bijection from ``answers`` to single-token labels of the first pool that fits.

    Pools, in order: ``NUMBER_LABELS``, ``LETTER_LABELS``, ``SYMBOL_LABELS``, then ``words``
    (e.g. :func:`english_word_pool`). A pool fits when no answer or ``avoid`` string (pass the
    task's inputs) is of its kind and it holds enough labels that are single tokens
    (``is_single_token``, e.g. :func:`single_token_predicate`) and are not, case-insensitively,
    one of the task's strings. Within the pool the labels are the first that qualify in a seeded
    shuffle (``derived_seed("abstract", seed, task, pool)``), given to the answers in sorted order.
    """
    ordered = sorted(set(answers))
    avoid = tuple(avoid)
    taken = {text.casefold() for text in (*ordered, *avoid)}
    pools = [*LABEL_POOLS, (WORD_POOL, tuple(dict.fromkeys(words)), None)]
    for name, pool, kind in pools:
        if kind is not None and any(kind(text) for text in (*ordered, *avoid)):
            continue
        rng = np.random.default_rng(derived_seed("abstract", seed, task, name))
        labels = _first_labels(pool, rng, len(ordered), taken, is_single_token)
        if labels is not None:
            return LabelMapping(name, dict(zip(ordered, labels, strict=True)))
    raise ValueError(
        f"task {task}: no label pool has {len(ordered)} single-token labels unlike the task's "
        f"strings (pools: {', '.join(name for name, _, _ in pools)}; the word pool has "
        f"{len(words)} words); pass more words, or only the answers the examples use"
    )


def _first_labels(
    pool: Sequence[str],
    rng: np.random.Generator,
    count: int,
    taken: set[str],
    is_single_token: Callable[[str], bool],
) -> list[str] | None:
    labels: list[str] = []
    for index in rng.permutation(len(pool)):
        if len(labels) == count:
            break
        label = pool[int(index)]
        if label.casefold() not in taken and is_single_token(label):
            labels.append(label)
    return labels if len(labels) == count else None


def abstract_condition(
    examples: Sequence[Example], mapping: LabelMapping
) -> list[ConditionExample]:
    """Demonstration outputs and the expected answers replaced by their labels; gold kept."""
    labels = mapping.labels
    result = []
    for example in examples:
        missing = [y for _, y in example.demos if y not in labels]
        if missing or example.answers[0] not in labels:
            shown = missing[0] if missing else example.answers[0]
            raise ValueError(
                f"example {example.example_id}: answer {shown!r} has no label; build the "
                "mapping from the task's answer set"
            )
        demos = tuple((x, labels[y]) for x, y in example.demos)
        target = tuple(dict.fromkeys(labels[a] for a in example.answers if a in labels))
        changed = _changed(example, demos=demos, answers=target)
        result.append(ConditionExample("abstract", changed, example.answers))
    return result


def single_token_predicate(tokenizer: Any, template: PromptTemplate) -> Callable[[str], bool]:
    """Whether a label is one token right after a query of ``template`` (as the single-token
    filter tests answers) and holds neither whitespace nor a piece of the template."""
    markers = template.markers()

    @cache
    def is_single_token(label: str) -> bool:
        if not label or any(char.isspace() for char in label):
            return False
        if any(marker in label for marker in markers):
            return False
        tokens = answer_token_ids(tokenizer, template, label)
        return tokens is not None and len(tokens) == 1

    return is_single_token


def english_word_pool(data_dir: Path) -> tuple[str, ...]:
    """English words of the project's own data: the translation table's English column (every
    alternative) and the inputs and answers of the linguistic tasks; lowercase ASCII words of at
    least ``MIN_WORD_LENGTH`` letters, sorted. The pool for ``abstract`` on open answer sets."""
    data_dir = Path(data_dir)
    table, column = WORD_TABLE
    pairs = list(read_table_pairs(data_dir / table, column, column))
    for spec in load_registry(data_dir).values():
        if spec.family == WORD_FAMILY:
            pairs += load_pairs(spec, data_dir)
    texts = {text for pair in pairs for text in (pair.input, *pair.answers)}
    return tuple(sorted(word for word in texts if _is_plain_english(word)))


def _is_plain_english(word: str) -> bool:
    return len(word) >= MIN_WORD_LENGTH and all(char in string.ascii_lowercase for char in word)


# --- demonstration constructions ----------------------------------------------------------------


def show_query(examples: Sequence[Example], *, seed: int, task: str) -> list[Example]:
    """Each example with one demonstration (at a seeded position) replaced by the query's own
    pair (query, canonical answer): a look-up the model can answer from S, for mappings such as a
    random permutation whose value at an unseen input S cannot determine."""
    result = []
    for example in examples:
        if not example.demos:
            raise ValueError(f"example {example.example_id}: no demonstration to replace")
        rng = example_rng("show_query", seed, task, example.example_id)
        position = int(rng.integers(0, len(example.demos)))
        demos = list(example.demos)
        demos[position] = (example.query, example.answers[0])
        result.append(_changed(example, demos=tuple(demos)))
    return result


def balance_directions(
    examples: Sequence[Example],
    pairs: Sequence[Pair],
    direction: Callable[[str], str],
    *,
    seed: int,
    task: str,
) -> list[Example]:
    """Each example's demonstrations redrawn with half in each direction of a bijection task.

    ``direction`` names an input's direction (e.g. ``taskvectors.tasks.novel.case_direction``);
    the pairs must have exactly two. Demonstrations are drawn without replacement from the pairs
    that are neither the query nor a dummy, ``n // 2`` per direction, the odd one's direction
    drawn too, then shuffled. Query, dummies and answers are kept.
    """
    groups: dict[str, list[Pair]] = {}
    for pair in sorted(pairs, key=lambda p: p.input):
        groups.setdefault(direction(pair.input), []).append(pair)
    if len(groups) != 2:
        raise ValueError(f"task {task}: a bijection has two directions, got {sorted(groups)}")
    names = sorted(groups)
    result = []
    for example in examples:
        rng = example_rng("balance_directions", seed, task, example.example_id)
        n = len(example.demos)
        counts = {name: n // 2 for name in names}
        if n % 2:
            counts[names[int(rng.integers(0, 2))]] += 1
        excluded = {example.query, *example.dummies}
        demos: list[tuple[str, str]] = []
        for name in names:
            available = [p for p in groups[name] if p.input not in excluded]
            if len(available) < counts[name]:
                raise ValueError(
                    f"task {task}, example {example.example_id}: {counts[name]} {name} "
                    f"demonstrations needed, {len(available)} available"
                )
            chosen = rng.choice(len(available), size=counts[name], replace=False)
            demos += [(available[int(i)].input, available[int(i)].output) for i in chosen]
        shuffled = [demos[int(i)] for i in rng.permutation(len(demos))]
        result.append(_changed(example, demos=tuple(shuffled)))
    return result


def build_conditions(
    examples: Sequence[Example],
    conditions: Sequence[str],
    *,
    answers: Sequence[str],
    seed: int,
    task: str,
    mapping: LabelMapping | None = None,
) -> dict[str, list[ConditionExample]]:
    """``{condition: examples}`` for each named condition; ``mapping`` is needed for abstract."""
    unknown = [name for name in conditions if name not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown conditions {unknown}; known: {', '.join(CONDITIONS)}")
    if "abstract" in conditions and mapping is None:
        raise ValueError("the abstract condition needs a label mapping (abstract_labels)")
    builders: dict[str, Callable[[], list[ConditionExample]]] = {
        "gold": lambda: gold_condition(examples),
        "shuffled": lambda: shuffled_condition(examples, seed=seed, task=task),
        "random": lambda: random_condition(examples, answers, seed=seed, task=task),
        "abstract": lambda: abstract_condition(examples, mapping),  # type: ignore[arg-type]
    }
    return {name: builders[name]() for name in conditions}
