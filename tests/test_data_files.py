"""Every shipped data file: valid, free of duplicates and empty strings, and big enough.

The minimum sizes (500 per translation direction and for the two evaluated verb tasks; 300 for
the larger knowledge relations; 150 otherwise) leave room for single-token filtering: the paper's
own files have 139-1,008 pairs and lose up to three quarters of them to the filter on LLaMA, while
the pipeline needs n_dev + n_test = 100 distinct queries per task by default.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from taskvectors.tasks import load_pairs, load_registry, read_pairs_file

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
REGISTRY = load_registry(DATA_DIR)
WORDS = DATA_DIR / "translation" / "words.tsv"
LANGUAGES = ("en", "fr", "es", "it")

MIN_PAIRS = {
    **{name: 500 for name in REGISTRY if name.startswith("translation_")},
    "linguistic_present_simple_gerund": 500,
    "linguistic_present_simple_past_simple": 500,
    "linguistic_present_simple_past_perfect": 150,
    "linguistic_plural_singular": 150,
    "linguistic_singular_plural": 150,
    "linguistic_antonyms": 150,
    "knowledge_country_capital": 150,
    "knowledge_person_language": 300,
    "knowledge_location_continent": 300,
    "knowledge_location_religion": 300,
}
FILE_TASKS = sorted(name for name, spec in REGISTRY.items() if "file" in spec.source)
DATA_TASKS = sorted(name for name, spec in REGISTRY.items() if "generator" not in spec.source)


def test_every_data_task_has_a_minimum_size() -> None:
    assert sorted(MIN_PAIRS) == DATA_TASKS


@pytest.mark.parametrize("name", DATA_TASKS)
def test_task_loads_with_enough_pairs(name) -> None:
    pairs = load_pairs(REGISTRY[name], DATA_DIR)
    assert len(pairs) >= MIN_PAIRS[name], f"{name}: {len(pairs)} pairs < {MIN_PAIRS[name]}"


@pytest.mark.parametrize("name", FILE_TASKS)
def test_jsonl_file_has_no_duplicate_or_empty_entries(name) -> None:
    path = DATA_DIR / REGISTRY[name].source["file"]
    read_pairs_file(path)  # validity: JSON, keys, strings, no empty or padded strings
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    repeated = [x for x, n in Counter(r["input"] for r in records).items() if n > 1]
    assert not repeated, f"{path}: inputs listed more than once: {repeated[:10]}"
    assert all(set(r) == {"input", "output"} for r in records), f"{path}: unexpected keys"


def test_exact_scoring_tasks_ship_single_answers() -> None:
    """`exact` scores the canonical answer only; alternatives in the data would be ignored."""
    for name in DATA_TASKS:
        spec = REGISTRY[name]
        if spec.scoring == "exact":
            several = [p.input for p in load_pairs(spec, DATA_DIR) if len(p.answers) > 1]
            assert not several, f"{name} is scored exact but lists alternatives: {several[:10]}"


def test_word_table_is_well_formed() -> None:
    lines = WORDS.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert set(LANGUAGES) <= set(header), f"{WORDS}: header {header}"
    rows = lines[1:]
    assert all(row.strip() for row in rows), f"{WORDS}: blank lines"
    repeated = [row for row, n in Counter(rows).items() if n > 1]
    assert not repeated, f"{WORDS}: repeated rows {repeated[:5]}"
    for number, row in enumerate(rows, start=2):
        cells = row.split("\t")
        assert len(cells) == len(header), f"{WORDS}, line {number}: {len(cells)} cells"
        assert cells[header.index("en")], f"{WORDS}, line {number}: no English word"


@pytest.mark.parametrize("name", sorted(n for n in REGISTRY if n.startswith("translation_")))
def test_translations_are_not_identity(name) -> None:
    """A word that 'translates' to itself teaches copying, not translation; allow a few."""
    pairs = load_pairs(REGISTRY[name], DATA_DIR)
    same = [p.input for p in pairs if p.answers[0] == p.input]
    assert len(same) <= 0.1 * len(pairs), f"{name}: {len(same)} identity pairs, e.g. {same[:10]}"


# --- conventions across files ----------------------------------------------------------------

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
DAYS_AND_MONTHS = DAYS + MONTHS
BRITISH = {"colour": "color", "grey": "gray", "neighbour": "neighbor", "theatre": "theater",
           "travelled": "traveled", "cancelled": "canceled", "centre": "center"}  # fmt: skip


def table_rows() -> list[dict[str, list[str]]]:
    lines = WORDS.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [
        {column: cell.split("|") for column, cell in zip(header, line.split("\t"), strict=True)}
        for line in lines[1:]
    ]


def test_english_days_and_months_are_capitalised_the_others_not() -> None:
    rows = {row["en"][0]: row for row in table_rows()}
    for name in DAYS_AND_MONTHS:
        assert name in rows, f"{WORDS}: no row for {name}"
        for language in ("fr", "es", "it"):
            assert all(word == word.lower() for word in rows[name][language]), (name, language)
    lowercase_english = {row["en"][0] for row in table_rows()}
    assert not {name.lower() for name in DAYS_AND_MONTHS} & lowercase_english


@pytest.mark.parametrize("name", DATA_TASKS)
def test_canonical_english_is_spelled_the_us_way(name) -> None:
    """Inputs and canonical answers use US spelling; British forms are later alternatives."""
    for pair in load_pairs(REGISTRY[name], DATA_DIR):
        for text in (pair.input, pair.answers[0]):
            assert text.lower() not in BRITISH, f"{name}: {text!r} (US: {BRITISH[text.lower()]})"
        for british, us in BRITISH.items():
            if british in pair.answers:
                assert pair.answers.index(us) < pair.answers.index(british), (name, pair)


@pytest.mark.parametrize(
    ("task", "query", "answer"),
    [
        ("translation_fr_en", "grand", "large"),
        ("translation_es_en", "empezar", "start"),
        ("translation_it_en", "forse", "perhaps"),
        ("translation_fr_en", "couleur", "colour"),
        ("translation_es_en", "lunes", "Monday"),
        ("translation_en_fr", "gray", "gris"),
    ],
)
def test_translation_accepts_english_synonyms_and_variants(task, query, answer) -> None:
    answers = {pair.input: pair.answers for pair in load_pairs(REGISTRY[task], DATA_DIR)}
    assert answer in answers[query], (task, query, answers[query])


@pytest.mark.parametrize(
    ("person", "answers"),
    [
        ("Joseph Conrad", ("Polish", "English")),
        ("Milan Kundera", ("Czech", "French")),
        ("Isaac Newton", ("English", "Latin")),
        ("José Rizal", ("Tagalog", "Filipino", "Spanish")),
        ("Victor Hugo", ("French",)),
    ],
)
def test_person_language_accepts_a_second_written_language(person, answers) -> None:
    pairs = {
        p.input: p.answers for p in load_pairs(REGISTRY["knowledge_person_language"], DATA_DIR)
    }
    assert pairs[person] == answers
