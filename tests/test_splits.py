"""Token filtering and the seeded dev/test split, on a tiny tokenizer built in the test."""

from __future__ import annotations

import pytest

from taskvectors.results.files import Example
from taskvectors.tasks import Pair
from taskvectors.tasks.prompts import TEMPLATES, get_template
from taskvectors.tasks.splits import (
    NO_TOKEN,
    answer_first_token_ids,
    answer_token_ids,
    continuations,
    encode,
    encode_batch,
    filter_pairs,
    make_examples,
    split_summary,
)
from tiny_tokenizer import tiny_tokenizer

PAPER = TEMPLATES["paper"]
SIZES = {"n_demos": 5, "n_dev": 20, "n_test": 30, "n_dummy": 2}


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def letters_pairs(n: int) -> list[Pair]:
    return [Pair(f"w{i:03d}", (f"a{i}", f"b{i}")) for i in range(n)]


# --- answer tokens and filtering -------------------------------------------------------------


def test_answer_token_ids_are_the_tokens_after_the_query(tokenizer) -> None:
    be, x, y, z = (tokenizer.convert_tokens_to_ids(t) for t in ("be", "x", "y", "z"))
    assert answer_token_ids(tokenizer, PAPER, "be") == [be]
    assert answer_token_ids(tokenizer, PAPER, "xyz") == [x, y, z]
    # "->" + "z" merges into one token: the query's tokens are no prefix of the full tokenization
    assert answer_token_ids(tokenizer, PAPER, "zoo") is None


def test_answer_tokens_carry_the_templates_leading_space(tokenizer) -> None:
    space_be = tokenizer.convert_tokens_to_ids(" be")
    assert answer_token_ids(tokenizer, TEMPLATES["arrow"], "be") == [space_be]
    # a template whose query ended in a space would merge " " with the answer: nothing survives
    assert tokenizer.encode("a -> ")[-1] == tokenizer.convert_tokens_to_ids(" ")


def test_single_token_filter_keeps_pairs_with_a_one_token_answer(tokenizer) -> None:
    pairs = [
        Pair("a", ("be",)),  # one token: kept
        Pair("b", ("xyz", "go")),  # an alternative is one token: kept, and it becomes canonical
        Pair("c", ("xyz",)),  # three tokens: dropped
        Pair("d", ("zoo", "q")),  # "zoo" merges with "->"; "q" is one token
        Pair("e", ("zz",)),  # merges: dropped
    ]
    kept, report = filter_pairs(pairs, tokenizer, PAPER, "single_token")
    assert kept == [Pair("a", ("be",)), Pair("b", ("go", "xyz")), Pair("d", ("q", "zoo"))]
    assert report == {"policy": "single_token", "n_pairs": 5, "n_kept": 3}


def test_first_token_filter_needs_a_well_defined_first_token(tokenizer) -> None:
    pairs = [Pair("a", ("xyz",)), Pair("b", ("zoo", "q")), Pair("c", ("be",))]
    kept, report = filter_pairs(pairs, tokenizer, PAPER, "first_token")
    assert kept == [Pair("a", ("xyz",)), Pair("c", ("be",))]
    assert report == {"policy": "first_token", "n_pairs": 3, "n_kept": 2}


def test_no_filter_keeps_everything_without_a_tokenizer() -> None:
    pairs = [Pair("a", ("zoo",))]
    assert filter_pairs(pairs, None, PAPER, "none") == (
        pairs,
        {"policy": "none", "n_pairs": 1, "n_kept": 1},
    )
    with pytest.raises(ValueError, match="unknown filter policy 'two'"):
        filter_pairs(pairs, None, PAPER, "two")


def test_filtering_depends_on_the_template(tokenizer) -> None:
    pairs = [Pair("a", ("zoo",)), Pair("b", ("be",))]
    custom = get_template({"demonstration": "{x}={y}", "separator": "\n"})
    assert len(filter_pairs(pairs, tokenizer, PAPER, "single_token")[0]) == 1
    assert len(filter_pairs(pairs, tokenizer, custom, "single_token")[0]) == 1
    assert len(filter_pairs(pairs, tokenizer, custom, "first_token")[0]) == 2


def test_batched_encoding_matches_one_text_at_a_time(tokenizer) -> None:
    texts = ["example:a->be", "xyz", " be go", "->zoo"]
    expected = [encode(tokenizer, text) for text in texts]
    assert encode_batch(tokenizer, texts) == expected
    assert encode_batch(tokenizer.backend_tokenizer, texts) == expected  # tokenizers.Tokenizer

    class EncodeOnly:  # neither callable nor batched
        def encode(self, text: str) -> list[int]:
            return tokenizer.encode(text)

    assert encode_batch(EncodeOnly(), texts) == expected
    assert encode_batch(tokenizer, []) == []


def test_continuations_are_none_where_the_completion_merges(tokenizer) -> None:
    be, x = tokenizer.convert_tokens_to_ids("be"), tokenizer.convert_tokens_to_ids("x")
    assert continuations(tokenizer, ["q->", "q->", "q->"], ["be", "zoo", "x"]) == [
        [be], None, [x]
    ]  # fmt: skip


def test_answer_first_tokens_are_taken_in_each_examples_prompt(tokenizer) -> None:
    example = Example(0, "test", "q", ("be", "xyz", "zoo"), (("a", "go"),), ("d",))
    ids = answer_first_token_ids(tokenizer, PAPER, [example, example])
    first = [tokenizer.convert_tokens_to_ids(t) for t in ("be", "x")]
    assert ids == [[*first, NO_TOKEN]] * 2  # "zoo" merges with "->": no token of its own
    spaced = answer_first_token_ids(tokenizer, PAPER.spaced(), [example])
    assert spaced[0][0] == tokenizer.convert_tokens_to_ids(" be")  # the space is in the token
    assert answer_first_token_ids(tokenizer, PAPER, []) == []


# --- splits ----------------------------------------------------------------------------------


def check_examples(examples: list[Example], pairs: list[Pair], sizes: dict) -> None:
    answers = {p.input: p.answers for p in pairs}
    n_dev, n_test = sizes["n_dev"], sizes["n_test"]
    assert [e.example_id for e in examples] == list(range(n_dev + n_test))
    assert [e.split for e in examples] == ["dev"] * n_dev + ["test"] * n_test
    dev = {e.query for e in examples if e.split == "dev"}
    test = {e.query for e in examples if e.split == "test"}
    assert not dev & test
    for example in examples:
        demo_inputs = [x for x, _ in example.demos]
        assert len(example.demos) == sizes["n_demos"] and len(example.dummies) == sizes["n_dummy"]
        assert example.query not in demo_inputs
        assert example.query not in example.dummies
        assert not set(example.dummies) & set(demo_inputs)
        assert len(set(demo_inputs)) == len(demo_inputs)
        assert len(set(example.dummies)) == len(example.dummies)
        assert example.answers == answers[example.query]
        assert all(y == answers[x][0] for x, y in example.demos)


def test_examples_respect_every_split_rule() -> None:
    pairs = letters_pairs(60)
    examples = make_examples(pairs, **SIZES, seed=41, task_name="t")
    check_examples(examples, pairs, SIZES)
    assert len({e.query for e in examples}) == 50  # enough pairs: every query distinct


def test_examples_do_not_depend_on_input_order_but_on_seed_and_task() -> None:
    pairs = letters_pairs(60)
    first = make_examples(pairs, **SIZES, seed=41, task_name="t")
    assert make_examples(list(reversed(pairs)), **SIZES, seed=41, task_name="t") == first
    assert make_examples(pairs, **SIZES, seed=42, task_name="t") != first
    assert make_examples(pairs, **SIZES, seed=41, task_name="u") != first


def test_small_tasks_cycle_disjoint_query_pools() -> None:
    pairs = letters_pairs(25)  # like next_letter, with the paper's 50 + 50 prompts
    sizes = {"n_demos": 5, "n_dev": 50, "n_test": 50, "n_dummy": 2}
    examples = make_examples(pairs, **sizes, seed=41, task_name="t")
    check_examples(examples, pairs, sizes)
    summary = split_summary(examples)
    assert summary == {
        "dev": {"n_examples": 50, "n_queries": 12},
        "test": {"n_examples": 50, "n_queries": 13},
    }
    test_queries = [e.query for e in examples if e.split == "test"]
    counts = {q: test_queries.count(q) for q in set(test_queries)}
    assert max(counts.values()) - min(counts.values()) <= 1  # every query used about as often


def test_zero_sized_splits_and_zero_demos() -> None:
    pairs = letters_pairs(10)
    sizes = {"n_demos": 0, "n_dev": 0, "n_test": 12, "n_dummy": 0}
    examples = make_examples(pairs, **sizes, seed=0, task_name="t")
    check_examples(examples, pairs, sizes)
    assert (
        make_examples(pairs, n_demos=5, n_dev=0, n_test=0, n_dummy=2, seed=0, task_name="t") == []
    )


def test_too_few_pairs_is_a_clear_error() -> None:
    with pytest.raises(ValueError) as caught:
        make_examples(letters_pairs(7), **SIZES, seed=41, task_name="antonyms", model="gemma")
    assert str(caught.value).startswith(
        "task antonyms: 7 pairs survive filtering for model gemma, but each example needs "
        "1 query + n_demos (5) + n_dummy (2) = 8 distinct pairs"
    )
    with pytest.raises(ValueError, match="task t: 1 pairs survive filtering, but dev and test"):
        make_examples(
            letters_pairs(1), n_demos=0, n_dev=1, n_test=1, n_dummy=0, seed=0, task_name="t"
        )


def test_bad_sizes_and_duplicate_inputs_are_errors() -> None:
    with pytest.raises(ValueError, match="task t: n_dev must be a non-negative integer"):
        make_examples(letters_pairs(60), **{**SIZES, "n_dev": -1}, seed=0, task_name="t")
    with pytest.raises(ValueError, match="distinct inputs"):
        make_examples([Pair("a", ("b",))] * 10, **SIZES, seed=0, task_name="t")


def test_example_to_dict_is_the_prompt_file_record() -> None:
    example = make_examples(letters_pairs(10), n_demos=2, n_dev=1, n_test=0, n_dummy=1, seed=0,
                            task_name="t")[0]  # fmt: skip
    record = example.to_dict()
    assert set(record) == {
        "example_id", "split", "query", "answers", "demos", "dummies", "answer_first_token_ids"
    }  # fmt: skip
    assert isinstance(record["answers"], list) and isinstance(record["demos"][0], list)
    assert record["answer_first_token_ids"] == []  # set with the tokenizer, when the file is built
    assert Example.from_dict(record) == example
