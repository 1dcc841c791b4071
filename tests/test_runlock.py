"""The results-folder lock: one run per results folder, across working directories.

Each case runs two processes: a holder (a child Python process, or a Snakemake run) and this one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from taskvectors.pipeline import runlock
from taskvectors.pipeline.runlock import LOCK_NAME, RunLockError, acquire, holds, release

REPO = Path(__file__).resolve().parents[1]
PACKAGE = str(REPO / "workflow")


@pytest.fixture(autouse=True)
def _release_everything():
    yield
    for folder in list(runlock._HELD):
        release(folder)


def start_holder(results: Path, cwd: Path) -> subprocess.Popen:
    """A child process in ``cwd`` that takes the lock, says so, waits for stdin to close, and
    gives the lock back."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {PACKAGE!r})
        from taskvectors.pipeline.runlock import acquire, release
        acquire({str(results)!r}, command=["holder", "--cores", "2"])
        print("held", flush=True)
        sys.stdin.read()
        release({str(results)!r})
        """
    )
    cwd.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "held"
    return child


def stop(child: subprocess.Popen) -> None:
    child.stdin.close()
    child.wait(timeout=10)


def test_the_lock_names_this_run_and_goes_away_on_release(tmp_path):
    results = tmp_path / "results"
    assert acquire(results, command=["snakemake", "--cores", "2"]) is None
    record = json.loads((results / LOCK_NAME).read_text())
    assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
    assert record["cwd"] == os.getcwd() and record["command"] == ["snakemake", "--cores", "2"]
    assert record["started"].endswith("+00:00")
    assert holds(results)
    release(results)
    assert not (results / LOCK_NAME).exists() and not holds(results)


def test_a_second_run_from_another_folder_is_refused_naming_the_first(tmp_path):
    results = tmp_path / "shared_results"
    holder = start_holder(results, tmp_path / "first_checkout")
    try:
        with pytest.raises(RunLockError) as error:
            acquire(results)
        message = str(error.value)
        assert f"pid {holder.pid}" in message
        assert str(tmp_path / "first_checkout") in message and "holder --cores 2" in message
        assert str(results / LOCK_NAME) in message
    finally:
        stop(holder)


def test_the_lock_is_free_once_the_first_run_released_it(tmp_path, capsys):
    results = tmp_path / "results"
    holder = start_holder(results, tmp_path / "a")
    stop(holder)
    assert not (results / LOCK_NAME).exists()
    assert acquire(results) is None and "stale" not in capsys.readouterr().err
    assert json.loads((results / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_stale_lock_of_a_killed_run_is_taken_over_with_a_warning(tmp_path, capsys):
    results = tmp_path / "results"
    holder = start_holder(results, tmp_path / "a")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    previous = acquire(results)
    assert previous["pid"] == holder.pid
    warning = capsys.readouterr().err
    assert "taking over the stale lock" in warning and f"pid {holder.pid}" in warning
    assert "is gone" in warning


def test_a_lock_written_on_another_host_is_refused(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    other = {"host": "node17", "pid": 1, "started": "2026-01-01T00:00:00+00:00", "cwd": "/x"}
    (results / LOCK_NAME).write_text(json.dumps(other))
    with pytest.raises(RunLockError, match="pid 1 on host node17"):
        acquire(results)
    assert json.loads((results / LOCK_NAME).read_text()) == other


def test_taking_a_held_lock_again_is_harmless(tmp_path):
    results = tmp_path / "results"
    acquire(results)
    assert acquire(results) is None and holds(results)


def test_release_without_the_lock_leaves_another_runs_lock_alone(tmp_path):
    results = tmp_path / "results"
    holder = start_holder(results, tmp_path / "a")
    try:
        release(results)
        assert json.loads((results / LOCK_NAME).read_text())["pid"] == holder.pid
    finally:
        stop(holder)


SNAKEFILE = """
import sys
sys.path.insert(0, {package!r})
from taskvectors.pipeline import runlock

RESULTS = {results!r}

onstart:
    try:
        runlock.acquire(RESULTS)
    except runlock.RunLockError as error:
        raise SystemExit(f"taskvectors: {{error}}")

onsuccess:
    runlock.release(RESULTS)

onerror:
    runlock.release(RESULTS)

rule all:
    output: "done.txt"
    shell: "test -f {results}/.taskvectors.lock && touch {{output}}"
"""


def snakemake(workdir: Path, results: Path, *args: str) -> subprocess.CompletedProcess:
    """A run of a one-rule Snakefile wired to the lock as the project's Snakefile is."""
    workdir.mkdir(parents=True, exist_ok=True)
    snakefile = workdir / "Snakefile"
    snakefile.write_text(SNAKEFILE.format(package=PACKAGE, results=str(results)))
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "-s", str(snakefile), *args]
    return subprocess.run(
        command + ["--directory", str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_snakemake_holds_the_lock_while_it_runs_and_gives_it_back(tmp_path):
    results = tmp_path / "results"
    result = snakemake(tmp_path / "checkout", results)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "checkout" / "done.txt").exists()  # the job saw the lock
    assert not (results / LOCK_NAME).exists()


def test_snakemake_refuses_a_results_folder_in_use_but_a_dry_run_does_not(tmp_path):
    results = tmp_path / "results"
    holder = start_holder(results, tmp_path / "first_checkout")
    try:
        dry = snakemake(tmp_path / "second_checkout", results, "-n")
        assert dry.returncode == 0, dry.stderr
        run = snakemake(tmp_path / "second_checkout", results)
        assert run.returncode != 0
        assert f"taskvectors: results folder {results} is in use" in run.stderr
        assert f"pid {holder.pid}" in run.stderr and "Traceback" not in run.stderr
        assert not (tmp_path / "second_checkout" / "done.txt").exists()
    finally:
        stop(holder)
