"""Prompt templates: the paper's format, the built-in alternatives and custom ones."""

from __future__ import annotations

import pytest

from taskvectors.tasks.prompts import (
    TEMPLATES,
    PromptTemplate,
    check_template,
    get_template,
    template_markers,
)

DEMOS = [("a", "b"), ("c", "d")]


def test_paper_template_writes_the_paper_format() -> None:
    paper = TEMPLATES["paper"]
    assert paper.demo("go", "going") == "example:go->going"
    assert paper.query("go") == "example:go->"
    assert paper.icl_prompt(DEMOS, "e") == "example:a->b\nexample:c->d\nexample:e->"
    assert paper.zero_shot_prompt("e") == "example:e->"
    assert paper.answer_prefix == ""


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_prompt_parts_compose(name) -> None:
    template = TEMPLATES[name]
    assert template.context([]) == ""
    assert template.icl_prompt([], "e") == template.zero_shot_prompt("e") == template.query("e")
    assert template.icl_prompt(DEMOS, "e") == template.context(DEMOS) + template.query("e")
    assert (
        template.context(DEMOS)
        == template.separator.join(template.demo(x, y) for x, y in DEMOS) + template.separator
    )
    assert template.demo("x", "y") == template.query("x") + template.answer_prefix + "y"


def test_whitespace_before_the_answer_belongs_to_the_answer() -> None:
    arrow, qa = TEMPLATES["arrow"], TEMPLATES["qa"]
    assert arrow.demo("a", "b") == "a -> b"
    assert arrow.query("a") == "a ->" and arrow.answer_prefix == " "
    assert arrow.icl_prompt(DEMOS, "e") == "a -> b\nc -> d\ne ->"
    assert qa.demo("a", "b") == "Q: a\nA: b"
    assert qa.icl_prompt(DEMOS, "e") == "Q: a\nA: b\n\nQ: c\nA: d\n\nQ: e\nA:"


def test_get_template_by_name_and_custom() -> None:
    assert get_template("paper") is TEMPLATES["paper"]
    custom = get_template({"demonstration": "In: {x} Out: {y}", "separator": " | "})
    assert custom == PromptTemplate("custom", "In: {x} Out: {y}", " | ")
    assert custom.icl_prompt(DEMOS, "e") == "In: a Out: b | In: c Out: d | In: e Out:"
    named = get_template({"name": "mine", "demonstration": "{x}={y}", "separator": ";"})
    assert named.name == "mine" and named.query("2") == "2="
    assert get_template(named) is named


def test_inputs_with_braces_are_written_literally() -> None:
    assert TEMPLATES["paper"].demo("{y}", "{x}") == "example:{y}->{x}"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown prompt template 'nope'"),
        ({"demonstration": "{x} ->", "separator": "\n"}, "exactly once"),
        ({"demonstration": "-> {y}", "separator": "\n"}, "exactly once"),
        ({"demonstration": "{x} {x} -> {y}", "separator": "\n"}, "exactly once"),
        ({"demonstration": "{y} <- {x}", "separator": "\n"}, "must come before"),
        ({"demonstration": "{x} -> {y}.", "separator": "\n"}, "must come last"),
        ({"demonstration": "{x} -> {y}", "separator": ""}, "separator must not be empty"),
        ({"separator": "\n"}, "missing \\['demonstration'\\]"),
        ({"demonstration": "{x}{y}", "separator": "\n", "colour": 1}, "unknown \\['colour'\\]"),
        (3, "a name or a mapping"),
    ],
)
def test_bad_templates_are_refused(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        get_template(spec)


def test_a_custom_template_without_separator_uses_a_newline() -> None:
    """The schema documents the newline default; the code must give it."""
    template = get_template({"demonstration": "{x} => {y}"})
    assert template.separator == "\n"
    assert template.icl_prompt(DEMOS, "e") == "a => b\nc => d\ne =>"


def test_check_template_accepts_what_builds_prompts() -> None:
    for spec in ("paper", "arrow", "qa", {"demonstration": "{x}={y}"}, {"name": "n",
                 "demonstration": "In {x} out {y}", "separator": " | "}):  # fmt: skip
        check_template(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("papers", "prompts.template: unknown prompt template 'papers'"),
        ({"demonstration": "{y} then {x}"}, "prompts.template: .*{x} must come before {y}"),
        ({"demonstration": "no placeholders"}, "prompts.template: .*exactly once"),
        ({"demonstration": "{x}->{y}", "separator": ""}, "prompts.template: .*not be empty"),
        ({"demonstration": "{x}->{y}", "sep": "\n"}, r"prompts.template: .*unknown \['sep'\]"),
    ],
)
def test_check_template_refuses_with_a_clear_message(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_template(spec)


def test_spaced_templates_put_a_space_before_input_and_answer() -> None:
    spaced = TEMPLATES["paper"].spaced()
    assert spaced.demonstration == "example: {x}-> {y}" and spaced.name == "paper_spaced"
    assert spaced.demo("ville", "city") == "example: ville-> city"
    assert spaced.query("ville") == "example: ville->" and spaced.answer_prefix == " "
    # only missing spaces are added; a template spacing both places is its own spaced form
    assert TEMPLATES["arrow"].spaced().demonstration == " {x} -> {y}"
    assert TEMPLATES["qa"].spaced() is TEMPLATES["qa"]
    assert spaced.spaced() is spaced


def test_template_markers_are_its_literal_pieces() -> None:
    assert template_markers("paper") == ("example:", "->", "\n")
    assert template_markers("arrow") == ("->", "\n")
    assert template_markers("qa") == ("Q:", "\nA:", "\n\n")
    assert template_markers({"demonstration": "{x}{y}", "separator": " ; "}) == (";",)
    assert TEMPLATES["paper"].spaced().markers() == TEMPLATES["paper"].markers()
