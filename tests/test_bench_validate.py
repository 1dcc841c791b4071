"""The validation benchmark on a few lines: what it writes, measures and prints (never how fast)."""

from __future__ import annotations

import re

import pytest

from taskvectors.cli.bench_validate import main, time_validation, write_pairs_file
from taskvectors.tasks import Pair, read_pairs_file


def test_the_benchmark_file_holds_distinct_valid_pairs(tmp_path) -> None:
    path = write_pairs_file(tmp_path / "pairs.jsonl", 12)
    assert len(path.read_text().splitlines()) == 12
    pairs = read_pairs_file(path, forbidden=("->",))
    assert len(pairs) == 12
    assert Pair("word11", ("w11", "v11")) in pairs


def test_the_timing_reports_its_lines_and_a_consistent_rate() -> None:
    timing = time_validation(lines=30, repeats=2)
    assert timing.lines == 30
    assert timing.seconds > 0
    assert timing.lines_per_second == pytest.approx(30 / timing.seconds)


def test_main_prints_lines_seconds_and_rate(capsys) -> None:
    main(["--lines", "25", "--repeats", "1"])
    lines, seconds, rate = capsys.readouterr().out.splitlines()
    assert lines == "lines: 25"
    assert re.fullmatch(r"seconds \(best of 1\): \d+\.\d{3}", seconds)
    assert re.fullmatch(r"lines per second: [1-9][\d,]*", rate)


@pytest.mark.parametrize("option", ["--lines", "--repeats"])
def test_main_refuses_a_count_below_one(option, capsys) -> None:
    with pytest.raises(SystemExit):
        main([option, "0"])
    assert "expected a positive integer, got 0" in capsys.readouterr().err
