"""Prompt templates: how demonstrations and queries are written out as text.

The paper writes each demonstration as ``example:{x}->{y}``, joins them with newlines and ends
with the query cut right before the answer, ``example:{x}->``. Other formats (``x -> y``,
``Q: x / A: y``) are templates too, so the format is a setting and not code.

Whitespace right before ``{y}`` belongs to the answer, not the query: for ``{x} -> {y}`` the query
is ``"x ->"`` and the model is expected to continue with ``" y"``. A prompt ending in a space is
out of distribution for BPE/SentencePiece tokenizers, which write a word's leading space into the
word's token (``" y"`` is one token, ``" "`` + ``"y"`` two), so a trailing space would leave no
answer that is a single token in context. ``PromptTemplate.answer_prefix`` holds that whitespace.

Spacing (the paper's code): a template can be *spaced*, with a space right before ``{x}`` and
``{y}`` (``example: {x}-> {y}``), so that inputs and answers are written as the word-initial tokens
most tokenizers prefer. ``SPACINGS`` names the settings (``auto`` decides per model and task, see
``taskvectors.tasks.splits.choose_spacing``). Templates are checked up front: :func:`check_template`
refuses a bad config entry, and :func:`template_markers` lists the literal pieces an input must not
contain (an input holding ``->`` or ``example:`` would make the prompt ambiguous).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

X, Y = "{x}", "{y}"
TRAILING_SPACE = " \t"
DEFAULT_SEPARATOR = "\n"
SPACINGS = ("auto", "none", "leading")
SPACED_SUFFIX = "_spaced"


def _template_problem(name: Any, demonstration: Any, separator: Any) -> str | None:
    """Why a template is unusable, or ``None``."""
    if not isinstance(name, str) or not name:
        return "the name must be a non-empty string"
    if not isinstance(demonstration, str) or not isinstance(separator, str):
        return "demonstration and separator must be strings"
    if demonstration.count(X) != 1 or demonstration.count(Y) != 1:
        return f"the demonstration must contain {X} and {Y} exactly once, got {demonstration!r}"
    if demonstration.index(X) > demonstration.index(Y):
        return f"{X} must come before {Y} in the demonstration, got {demonstration!r}"
    if not demonstration.endswith(Y):
        return (
            f"{Y} must come last in the demonstration (the model writes it), got {demonstration!r}"
        )
    if not separator:
        return "the separator must not be empty (demonstrations would run together)"
    return None


@dataclass(frozen=True)
class PromptTemplate:
    """A demonstration format (with ``{x}`` and a final ``{y}``) and the text between demos."""

    name: str
    demonstration: str
    separator: str

    def __post_init__(self) -> None:
        problem = _template_problem(self.name, self.demonstration, self.separator)
        if problem:
            raise ValueError(f"prompt template {self.name!r}: {problem}")

    @property
    def _head(self) -> str:
        return self.demonstration.split(X)[0]

    @property
    def _middle(self) -> str:
        return self.demonstration.split(X)[1][: -len(Y)]

    @property
    def answer_prefix(self) -> str:
        """Whitespace the demonstration puts before ``{y}``; the answer's first token carries it."""
        middle = self._middle
        return middle[len(middle.rstrip(TRAILING_SPACE)) :]

    def query(self, x: str) -> str:
        """The demonstration cut right before ``{y}`` (and before whitespace preceding it)."""
        return self._head + x + self._middle.rstrip(TRAILING_SPACE)

    def demo(self, x: str, y: str) -> str:
        """One filled demonstration; always ``query(x) + answer_prefix + y``."""
        return self._head + x + self._middle + y

    def context(self, demos: Sequence[tuple[str, str]]) -> str:
        """The demonstrations, each followed by the separator; ``""`` without demonstrations."""
        if not demos:
            return ""
        return self.separator.join(self.demo(x, y) for x, y in demos) + self.separator

    def icl_prompt(self, demos: Sequence[tuple[str, str]], x: str) -> str:
        """The few-shot prompt: demonstrations then the query."""
        return self.context(demos) + self.query(x)

    def zero_shot_prompt(self, x: str) -> str:
        """The prompt without demonstrations (the baseline and the patched run)."""
        return self.query(x)

    def spaced(self) -> PromptTemplate:
        """This template with a space right before ``{x}`` and ``{y}`` (where none is already).

        ``example:{x}->{y}`` becomes ``example: {x}-> {y}``; ``Q: {x}\\nA: {y}`` stays as it is.
        """
        demonstration = self.demonstration
        for placeholder in (X, Y):
            before = demonstration.split(placeholder)[0]
            if not before or before[-1] not in TRAILING_SPACE:
                demonstration = demonstration.replace(placeholder, " " + placeholder)
        if demonstration == self.demonstration:
            return self
        return PromptTemplate(self.name + SPACED_SUFFIX, demonstration, self.separator)

    def markers(self) -> tuple[str, ...]:
        """The template's literal pieces (text around ``{x}``/``{y}``, the separator).

        Each piece is stripped of spaces and tabs (so ``" -> "`` gives ``"->"``); empty pieces are
        dropped. An input or answer containing one would blur where a demonstration ends.
        """
        pieces = (self._head, self._middle, self.separator)
        stripped = (piece.strip(TRAILING_SPACE) for piece in pieces)
        return tuple(dict.fromkeys(piece for piece in stripped if piece))

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "demonstration": self.demonstration, "separator": self.separator}


TEMPLATES: dict[str, PromptTemplate] = {
    template.name: template
    for template in (
        PromptTemplate("paper", "example:{x}->{y}", "\n"),
        PromptTemplate("arrow", "{x} -> {y}", "\n"),
        PromptTemplate("qa", "Q: {x}\nA: {y}", "\n\n"),
    )
}
CUSTOM_TEMPLATE_KEYS = ("demonstration", "separator", "name")


def get_template(spec: str | Mapping[str, Any] | PromptTemplate) -> PromptTemplate:
    """A template by name (``TEMPLATES``), or a custom one from ``{demonstration, separator}``."""
    if isinstance(spec, PromptTemplate):
        return spec
    if isinstance(spec, str):
        if spec not in TEMPLATES:
            raise ValueError(f"unknown prompt template {spec!r}; known: {', '.join(TEMPLATES)}")
        return TEMPLATES[spec]
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(CUSTOM_TEMPLATE_KEYS))
        if unknown or "demonstration" not in spec:
            missing = "" if "demonstration" in spec else "missing ['demonstration'], "
            raise ValueError(
                "a custom prompt template is {demonstration, separator?, name?} (the separator "
                f"defaults to a newline); {missing}unknown {unknown}"
            )
        return PromptTemplate(
            name=spec.get("name", "custom"),
            demonstration=spec["demonstration"],
            separator=spec.get("separator", DEFAULT_SEPARATOR),
        )
    raise ValueError(f"a prompt template is a name or a mapping, got {type(spec).__name__}")


def check_template(template_config: Any) -> None:
    """Refuse a ``prompts.template`` config value that cannot build prompts (``ValueError``).

    Cheap and model-free, for the start-up checks: a known name, or a mapping with
    ``demonstration`` holding ``{x}`` then ``{y}`` (each once, ``{y}`` last), an optional non-empty
    ``separator`` (default a newline) and an optional ``name``.
    """
    try:
        get_template(template_config)
    except ValueError as error:
        raise ValueError(f"prompts.template: {error}") from None


def template_markers(template: str | Mapping[str, Any] | PromptTemplate) -> tuple[str, ...]:
    """The literal pieces of ``template`` that inputs and answers must not contain."""
    return get_template(template).markers()
