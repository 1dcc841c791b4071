"""The input/output pair, the unit every task is made of.

It lives in its own module so that the loaders (``files``, ``algorithmic``) and the registry can
all build pairs without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pair:
    """One fact of a task: an input and its accepted answers, canonical answer first."""

    input: str
    answers: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.input, str) or not self.input:
            raise ValueError(f"a pair needs a non-empty string input, got {self.input!r}")
        if isinstance(self.answers, str):
            object.__setattr__(self, "answers", (self.answers,))
        answers = tuple(self.answers)
        if not answers or not all(isinstance(a, str) and a for a in answers):
            raise ValueError(f"pair {self.input!r} needs non-empty string answers, got {answers!r}")
        object.__setattr__(self, "answers", answers)

    @property
    def output(self) -> str:
        """The canonical answer: the one shown in demonstrations."""
        return self.answers[0]


def merge_answers(*groups: Iterable[str]) -> tuple[str, ...]:
    """All answers of ``groups`` in first-seen order, without repeats."""
    return tuple(dict.fromkeys(answer for group in groups for answer in group))


def sorted_pairs(pairs: Iterable[Pair]) -> list[Pair]:
    """Pairs ordered by input (code point order), so results never depend on input order."""
    return sorted(pairs, key=lambda pair: pair.input)
