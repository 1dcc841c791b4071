"""The paper's prompt spacing: the 70% rule on tokenizers built to take each branch, and where the
setting comes from (registry family, task entry, user task, config)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, processors
from transformers import PreTrainedTokenizerFast

from taskvectors.tasks import Pair, TaskSpec, load_registry
from taskvectors.tasks.prompt_files import (
    build_prompt_document,
    check_spacing_config,
    resolve_spacing,
    usable_pairs,
)
from taskvectors.tasks.prompts import TEMPLATES
from taskvectors.tasks.splits import SPACED_SHARE, choose_spacing

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PAPER = TEMPLATES["paper"]
BOS = "<s>"
ANIMALS = ("cat", "dog", "owl", "pig", "ram", "eel", "elk", "emu", "yak", "gnu")
SETTINGS = {"n_demos": 2, "n_dev": 2, "n_test": 3, "n_dummy": 1, "seed": 41}
MODEL = {"alias": "tiny", "source": "test", "revision": "none", "dtype": "float32"}


def word_merges(word: str) -> list[tuple[str, str]]:
    """BPE merges that make ``word`` one token, built left to right (``c a`` then ``ca t``)."""
    return [(word[:i], word[i]) for i in range(1, len(word))]


def tokenizer_with_words(*words: str) -> PreTrainedTokenizerFast:
    """A character-level BPE with a BOS, plus merges making each of ``words`` one token.

    Merges of space-led words come first, so that ``" cat"`` does not lose to ``"cat"``.
    """
    ordered = sorted(words, key=lambda word: not word.startswith(" "))
    merges = [("-", ">")] + [merge for word in ordered for merge in word_merges(word)]
    merges = list(dict.fromkeys(merges))
    symbols = [BOS, "<unk>", *string.printable, *("".join(merge) for merge in merges)]
    vocab = {symbol: index for index, symbol in enumerate(dict.fromkeys(symbols))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, vocab[BOS])]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, unk_token="<unk>")


def animal_pairs() -> list[Pair]:
    return [Pair(f"x{i}", (animal,)) for i, animal in enumerate(ANIMALS)]


# --- the rule --------------------------------------------------------------------------------


def test_auto_keeps_the_unspaced_form_when_only_bare_words_are_tokens() -> None:
    tokenizer = tokenizer_with_words(*ANIMALS)
    choice = choose_spacing(animal_pairs(), tokenizer, PAPER, "single_token", "auto")
    assert (choice.chosen, choice.n_kept) == ("none", {"none": 10, "leading": 0})
    assert choice.template is PAPER and len(choice.pairs) == 10


def test_auto_takes_the_spaced_form_when_spaced_words_are_tokens() -> None:
    tokenizer = tokenizer_with_words(*(" " + animal for animal in ANIMALS))
    choice = choose_spacing(animal_pairs(), tokenizer, PAPER, "single_token", "auto")
    assert (choice.chosen, choice.n_kept) == ("leading", {"none": 0, "leading": 10})
    assert choice.template.demonstration == "example: {x}-> {y}"
    assert choice.filter_report == {"policy": "single_token", "n_pairs": 10, "n_kept": 10}
    # the answer's first token carries its space: the demo text is "example: x0-> cat"
    assert choice.template.demo("x0", "cat") == "example: x0-> cat"


@pytest.mark.parametrize(("n_spaced", "chosen"), [(7, "leading"), (6, "none")])
def test_auto_uses_the_spaced_form_from_70_percent_of_the_unspaced_count(n_spaced, chosen) -> None:
    """All 10 answers are tokens bare; ``n_spaced`` of them are tokens after a space too."""
    assert SPACED_SHARE == 0.7
    spaced_words = [" " + animal for animal in ANIMALS[:n_spaced]]
    tokenizer = tokenizer_with_words(*ANIMALS, *spaced_words)
    choice = choose_spacing(animal_pairs(), tokenizer, PAPER, "single_token", "auto")
    assert choice.n_kept == {"none": 10, "leading": n_spaced}
    assert choice.chosen == chosen and len(choice.pairs) == choice.n_kept[chosen]


@pytest.mark.parametrize("setting", ["none", "leading"])
def test_forced_settings_ignore_the_counts_but_record_both(setting) -> None:
    tokenizer = tokenizer_with_words(*ANIMALS[:4], *(" " + a for a in ANIMALS[:9]))
    choice = choose_spacing(animal_pairs(), tokenizer, PAPER, "single_token", setting)
    assert choice.chosen == setting and choice.n_kept == {"none": 4, "leading": 9}
    record = {"setting": setting, "chosen": setting, "n_kept": {"none": 4, "leading": 9}}
    assert choice.to_dict() == {**record, "spaced_share": 0.7}


def test_a_template_that_already_spaces_has_one_form() -> None:
    tokenizer = tokenizer_with_words(*(" " + animal for animal in ANIMALS))
    choice = choose_spacing(animal_pairs(), tokenizer, TEMPLATES["qa"], "single_token", "leading")
    assert choice.chosen == "none" and choice.template is TEMPLATES["qa"]
    assert choice.n_kept == {"none": 10, "leading": 10}


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown spacing 'wide'"):
        choose_spacing(animal_pairs(), None, PAPER, "none", "wide")


# --- where the setting comes from ------------------------------------------------------------


def test_registry_families_give_the_papers_defaults() -> None:
    registry = load_registry(DATA_DIR)
    expected = {
        "algorithmic": "none",
        "translation": "auto",
        "linguistic": "auto",
        "knowledge": "none",
        "novel": "none",
    }  # fmt: skip (novel: the suite's own tasks)
    for spec in registry.values():
        assert spec.spacing == expected[spec.family], spec.name


def test_registry_entries_and_user_tasks_choose_their_spacing(tmp_path) -> None:
    (tmp_path / "tasks.yaml").write_text(
        "families:\n  translation: {spacing: auto}\n"
        "tasks:\n"
        "  translation_a_b: {family: translation, source: {file: p.jsonl}, scoring: exact,\n"
        "                    filter: single_token, default: true, description: d}\n"
        "  translation_c_d: {family: translation, source: {file: p.jsonl}, scoring: exact,\n"
        "                    filter: single_token, default: true, description: d,"
        " spacing: leading}\n"
        "  knowledge_e: {family: knowledge, source: {file: p.jsonl}, scoring: exact,\n"
        "                filter: first_token, default: true, description: d}\n",
        encoding="utf-8",
    )
    (tmp_path / "p.jsonl").write_text('{"input": "a", "output": "b"}\n', encoding="utf-8")
    user = {
        "mine_single": {"file": "p.jsonl"},
        "mine_prefix": {"file": "p.jsonl", "filter": "first_token"},
        "mine_forced": {"file": "p.jsonl", "filter": "none", "spacing": "leading"},
    }
    registry = load_registry(tmp_path, user, base_dir=tmp_path)
    assert {name: spec.spacing for name, spec in registry.items()} == {
        "translation_a_b": "auto",
        "translation_c_d": "leading",
        "knowledge_e": "none",  # no family entry: unspaced
        "mine_single": "auto",
        "mine_prefix": "none",
        "mine_forced": "leading",
    }
    assert registry["translation_c_d"].to_dict()["spacing"] == "leading"


def test_bad_spacing_in_the_registry_names_the_task(tmp_path) -> None:
    (tmp_path / "tasks.yaml").write_text(
        "tasks:\n  knowledge_e: {family: knowledge, source: {file: p.jsonl}, scoring: exact,\n"
        "    filter: first_token, default: true, description: d, spacing: wide}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="task knowledge_e.*unknown spacing 'wide'"):
        load_registry(tmp_path)


def spec_of(name: str, family: str, spacing: str) -> TaskSpec:
    return TaskSpec(name, family, {"file": "x.jsonl"}, "exact", "single_token", False, "", spacing)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, "auto"),
        ("leading", "leading"),
        ({}, "auto"),
        ({"default": None}, "auto"),
        ({"default": "none"}, "none"),
        ({"default": "none", "translation": "leading"}, "leading"),
        ({"translation": "none", "translation_fr_en": "leading"}, "leading"),
        ({"translation_fr_en": None, "translation": "none"}, "none"),
        ({"linguistic": "none"}, "auto"),
    ],
)
def test_config_overrides_most_specific_first(config, expected) -> None:
    assert resolve_spacing(spec_of("translation_fr_en", "translation", "auto"), config) == expected


def test_spacing_config_check() -> None:
    check_spacing_config({"default": None, "knowledge": "auto", "mine": "none"}, ["mine"])
    check_spacing_config("auto")
    with pytest.raises(ValueError, match=r"unknown keys \['translaton'\]"):
        check_spacing_config({"translaton": "auto"}, ["translation_fr_en"])
    with pytest.raises(ValueError, match="prompts.spacing.knowledge: unknown spacing 'yes'"):
        check_spacing_config({"knowledge": "yes"})
    with pytest.raises(ValueError, match="prompts.spacing: unknown spacing 'on'"):
        resolve_spacing(spec_of("t", "custom", "none"), "on")


# --- in the prompt file ----------------------------------------------------------------------


def test_prompt_file_uses_and_records_the_chosen_spacing(tmp_path) -> None:
    path = tmp_path / "animals.jsonl"
    path.write_text(
        "".join(f'{{"input": "x{i}", "output": "{a}"}}\n' for i, a in enumerate(ANIMALS)),
        encoding="utf-8",
    )
    spec = load_registry(DATA_DIR, {"animals": {"file": str(path)}})["animals"]
    tokenizer = tokenizer_with_words(*ANIMALS[:5], *(" " + a for a in ANIMALS))
    document = build_prompt_document(spec, DATA_DIR, tokenizer, PAPER, SETTINGS, MODEL)
    assert document["spacing"]["setting"] == "auto" and document["spacing"]["chosen"] == "leading"
    assert document["spacing"]["n_kept"] == {"none": 5, "leading": 10}
    assert document["template"]["demonstration"] == "example: {x}-> {y}"
    assert document["filter"]["n_kept"] == 10
    for example in document["examples"]:
        (first_id,) = example["answer_first_token_ids"]
        assert tokenizer.convert_ids_to_tokens(first_id) == " " + example["answers"][0]
    forced = build_prompt_document(
        spec, DATA_DIR, tokenizer, PAPER, {**SETTINGS, "spacing": {"animals": "none"}}, MODEL
    )
    assert forced["template"] == PAPER.to_dict() and forced["filter"]["n_kept"] == 5
    assert forced["provenance"]["settings"]["spacing"] == "none"
    assert usable_pairs(spec, DATA_DIR, tokenizer, PAPER, "none") == [
        Pair(f"x{i}", (a,)) for i, a in enumerate(ANIMALS[:5])
    ]
