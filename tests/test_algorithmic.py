"""The algorithmic generators produce exactly the pairs their task names promise."""

from __future__ import annotations

import string

import pytest

from taskvectors.tasks.algorithmic import (
    DEFAULT_N_LISTS,
    GENERATORS,
    derived_seed,
    generate_pairs,
    sample_lists,
)
from taskvectors.tasks.novel import case_direction, letter_image

LETTERS = string.ascii_lowercase


def parse_list(text: str) -> list[str]:
    items = text.split(",")
    assert all(len(item) == 1 for item in items), (
        f"list {text!r} has an element that is not one char"
    )
    return items


def test_next_letter_is_the_following_letter() -> None:
    pairs = generate_pairs("next_letter")
    assert [p.input for p in pairs] == list(LETTERS[:-1])
    assert all(ord(p.answers[0]) == ord(p.input) + 1 and len(p.answers) == 1 for p in pairs)


def test_prev_letter_is_the_preceding_letter() -> None:
    pairs = generate_pairs("prev_letter")
    assert [p.input for p in pairs] == list(LETTERS[1:])
    assert all(ord(p.answers[0]) == ord(p.input) - 1 for p in pairs)


def test_case_tasks_cover_the_alphabet() -> None:
    upper = generate_pairs("to_upper")
    lower = generate_pairs("to_lower")
    assert [(p.input, p.answers) for p in upper] == [(c, (c.upper(),)) for c in LETTERS]
    assert [(p.input, p.answers) for p in lower] == [(c.upper(), (c,)) for c in LETTERS]


def test_char_int_tasks_are_inverse_over_a_to_i() -> None:
    to_int = {p.input: p.answers[0] for p in generate_pairs("char_to_int")}
    to_char = {p.input: p.answers[0] for p in generate_pairs("int_to_char")}
    assert to_int == {c: str(i) for i, c in enumerate("abcdefghi", start=1)}
    assert {v: k for k, v in to_int.items()} == to_char


@pytest.mark.parametrize(
    ("generator", "alphabet", "lengths", "operation"),
    [
        ("list_first", LETTERS, (2, 4), lambda items: items[0]),
        ("list_last", LETTERS, (2, 4), lambda items: items[-1]),
        ("list_min", string.digits, (2, 4), min),
        ("list_max", string.digits, (2, 4), max),
        ("list_length", LETTERS, (1, 3), lambda items: str(len(items))),
    ],
)
def test_list_tasks_parse_and_check(generator, alphabet, lengths, operation) -> None:
    pairs = generate_pairs(generator)
    assert len(pairs) == DEFAULT_N_LISTS
    assert len({p.input for p in pairs}) == len(pairs)
    assert [p.input for p in pairs] == sorted(p.input for p in pairs)
    seen_lengths = set()
    for pair in pairs:
        assert " " not in pair.input
        items = parse_list(pair.input)
        assert set(items) <= set(alphabet)
        seen_lengths.add(len(items))
        assert pair.answers == (operation(items),)
    assert seen_lengths == set(range(lengths[0], lengths[1] + 1))


def test_list_samples_allow_repeated_elements() -> None:
    pairs = generate_pairs("list_first")
    assert any(len(set(parse_list(p.input))) < len(parse_list(p.input)) for p in pairs)


def test_generators_are_deterministic_and_seeded_by_sha256() -> None:
    assert generate_pairs("list_last") == generate_pairs("list_last")
    assert generate_pairs("list_last", sample_seed=1) != generate_pairs("list_last")
    assert derived_seed("list_last", 0) == derived_seed("list_last", 0)
    # the seed is a documented function of the name, not of hash(): pin its value
    assert derived_seed(41, "algorithmic_list_first") == int.from_bytes(
        __import__("hashlib").sha256(b"41:algorithmic_list_first").digest()[:8], "big"
    )


def test_list_sample_size_is_bounded_by_the_number_of_lists() -> None:
    assert len(sample_lists("t", "ab", 1, 2, n_lists=6, sample_seed=0)) == 6
    with pytest.raises(ValueError, match="between 1 and 6"):
        sample_lists("t", "ab", 1, 2, n_lists=7, sample_seed=0)


def test_unknown_generator_and_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown generator 'nope'"):
        generate_pairs("nope")
    with pytest.raises(ValueError, match="bad parameters"):
        generate_pairs("next_letter", n_lists=5)


def test_every_generator_is_covered() -> None:
    assert set(GENERATORS) == {
        "next_letter", "prev_letter", "list_first", "list_last", "to_upper", "to_lower",
        "list_min", "list_max", "list_length", "char_to_int", "int_to_char",
        "letter_permutation", "letter_shift", "second_letter_upper", "lower_upper_bijection",
    }  # fmt: skip


def test_list_tasks_over_the_same_lists_share_their_inputs():
    first = {pair.input for pair in generate_pairs("list_first")}
    last = {pair.input for pair in generate_pairs("list_last")}
    assert first == last
    assert len(first) == 1000


# --- the novel generators --------------------------------------------------------------------


def offsets(pairs) -> set[int]:
    """``(answer - input) mod 26`` over letter pairs."""
    return {(ord(p.output) - ord(p.input)) % 26 for p in pairs}


def test_letter_permutation_is_a_seeded_permutation_far_from_familiar_maps() -> None:
    pairs = generate_pairs("letter_permutation", sample_seed=0)
    assert [p.input for p in pairs] == list(LETTERS)
    assert sorted(p.output for p in pairs) == list(LETTERS)  # a bijection of a..z
    assert not offsets(pairs) & {0, 1, 25}  # never copy, next_letter or prev_letter
    assert generate_pairs("letter_permutation", sample_seed=0) == pairs
    assert letter_image(0) == "".join(p.output for p in pairs)


def test_letter_permutations_differ_by_seed_and_are_spread_out() -> None:
    images = {letter_image(seed) for seed in range(20)}
    assert len(images) == 20
    # a uniform draw among the allowed permutations: every letter has several images over 20 seeds
    assert all(len({image[i] for image in images}) >= 5 for i in range(26))
    assert all(not {(ord(y) - ord(x)) % 26 for x, y in zip(LETTERS, image, strict=True)}
               & {0, 1, 25} for image in images)  # fmt: skip


def test_letter_shift_moves_every_letter_by_the_shift_with_wrapping() -> None:
    pairs = generate_pairs("letter_shift", shift=3)
    answers = {p.input: p.output for p in pairs}
    assert (answers["a"], answers["w"], answers["x"], answers["z"]) == ("d", "z", "a", "c")
    assert offsets(pairs) == {3}
    assert offsets(generate_pairs("letter_shift", shift=-3)) == {23}
    assert generate_pairs("letter_shift") == pairs  # 3 is the default


@pytest.mark.parametrize("shift", [0, 1, 25, 26, 27, -1])
def test_letter_shift_refuses_the_familiar_shifts(shift) -> None:
    with pytest.raises(ValueError, match="a familiar task"):
        generate_pairs("letter_shift", shift=shift)


def test_second_letter_upper_capitalises_the_second_letter_of_plain_words() -> None:
    words = ["house", "water", "I", "a", "Monday", "ice cream", "naïve", "house", "ox"]
    pairs = generate_pairs("second_letter_upper", words=words)
    assert [(p.input, p.answers) for p in pairs] == [
        ("house", ("O",)),
        ("ox", ("X",)),
        ("water", ("A",)),
    ]
    with pytest.raises(ValueError, match="no word of two or more lowercase"):
        generate_pairs("second_letter_upper", words=["I", "A"])
    with pytest.raises(ValueError, match="bad parameters"):
        generate_pairs("second_letter_upper")  # the registry passes the words


def test_lower_upper_bijection_holds_a_mapping_and_its_inverse() -> None:
    pairs = generate_pairs("lower_upper_bijection")
    mapping = {p.input: p.output for p in pairs}
    assert len(pairs) == len(mapping) == 52
    assert mapping["a"] == "A" and mapping["A"] == "a"
    assert all(mapping[mapping[x]] == x for x in mapping)  # each direction undoes the other
    directions = [case_direction(p.input) for p in pairs]
    assert directions.count("lower") == directions.count("upper") == 26
