"""Prompt templates: the paper's format, the built-in alternatives and custom ones."""

from __future__ import annotations

import pytest

from taskvectors.prompts import TEMPLATES, PromptTemplate, get_template

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
        ({"demonstration": "{y} <- {x}", "separator": "\n"}, "must come last"),
        ({"demonstration": "{x} -> {y}.", "separator": "\n"}, "must come last"),
        ({"demonstration": "{x} -> {y}", "separator": ""}, "separator must not be empty"),
        ({"demonstration": "{x} -> {y}"}, "missing \\['separator'\\]"),
        ({"demonstration": "{x}{y}", "separator": "\n", "colour": 1}, "unknown \\['colour'\\]"),
        (3, "a name or a mapping"),
    ],
)
def test_bad_templates_are_refused(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        get_template(spec)
