"""How fast a user's task file is validated on the machine at hand: a figure printed, not a test.

Why: every run (``snakemake -n`` too) validates each user task file before any job starts, so a
big file must stay cheap to check. A test cannot assert a wall time (a busy or slow CPU fails it
for nothing), so the tests check what validation finds and this module measures how long it takes.

``python -m taskvectors.cli.bench_validate`` writes a JSONL task file of 200,000 pairs into a
temporary folder, validates it under the paper's template as the start-up checks do
(:func:`taskvectors.tasks.prompt_files.validate_task_file`) and prints the lines, the best of
``--repeats`` times and the lines per second. Run it alone: the figure depends on the load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from taskvectors.tasks.prompt_files import validate_task_file

DEFAULT_LINES = 200_000
DEFAULT_REPEATS = 3
TEMPLATE = "paper"


class ValidationTiming(NamedTuple):
    """The best wall time of validating a file of ``lines`` pairs."""

    lines: int
    seconds: float

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds


def pair_record(i: int) -> str:
    """The ``i``-th line of the benchmark file: a distinct input with two accepted answers."""
    return json.dumps({"input": f"word{i}", "output": [f"w{i}", f"v{i}"]})


def write_pairs_file(path: Path, lines: int) -> Path:
    """A JSONL task file of ``lines`` distinct, valid pairs."""
    path.write_text("".join(pair_record(i) + "\n" for i in range(lines)), encoding="utf-8")
    return path


def best_validation_seconds(path: Path, repeats: int) -> float:
    """The fastest of ``repeats`` validations of ``path`` under the paper's template."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        validate_task_file(path, TEMPLATE)
        times.append(time.perf_counter() - start)
    return min(times)


def time_validation(lines: int = DEFAULT_LINES, repeats: int = DEFAULT_REPEATS) -> ValidationTiming:
    """Write a file of ``lines`` pairs into a temporary folder and time its validation."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_pairs_file(Path(folder) / "pairs.jsonl", lines)
        return ValidationTiming(lines, best_validation_seconds(path, repeats))


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=positive_int, default=DEFAULT_LINES, help="pairs to write")
    parser.add_argument("--repeats", type=positive_int, default=DEFAULT_REPEATS, help="best of N")
    args = parser.parse_args(argv)
    timing = time_validation(args.lines, args.repeats)
    print(f"lines: {timing.lines}")
    print(f"seconds (best of {args.repeats}): {timing.seconds:.3f}")
    print(f"lines per second: {timing.lines_per_second:,.0f}")


if __name__ == "__main__":
    main()
