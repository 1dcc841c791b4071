"""Time the main stages on three tasks: seconds per task and per stage, as the pipeline runs them.

``taskvectors bench pipeline`` runs the workflow (``run_task`` and ``evaluate`` of
``to_upper``, ``fr_en`` and ``antonyms`` at the paper's sizes, analyses off) in a fresh results
folder and prints what Snakemake's benchmark files measured for each job: the figure to hold
against the paper's own code (about 57, 66 and 58 s per task on 2 CPU threads, float32, on a Zen 4;
145 and 121 s for to_upper and antonyms on an AVX2-only CPU). It prints the CPU's kind first
(native bfloat16 or not, float32 throughput): ``TASKVECTORS_CPU_BF16=0`` shows the path of a CPU
without native bfloat16.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from taskvectors.analyses import registry

REPO = Path(__file__).resolve().parents[3]
TASKS = ("algorithmic_to_upper", "translation_fr_en", "linguistic_antonyms")


def analysis_names() -> list[str]:
    """Every analysis the config schema knows (all are switched off here)."""
    return list(registry())


def bench_config(results: Path, model: str, dtype: str) -> dict:
    return {
        "results_dir": str(results / "results"),
        "reports_dir": str(results / "reports"),
        "data_dir": str(REPO / "data"),
        "models": {model: {"source": "embedded", "dtype": dtype}},
        "tasks": list(TASKS),
        "analyses": {name: {"enabled": False} for name in analysis_names()},
    }


def job_seconds(benchmarks: Path) -> pd.DataFrame:
    """``rule, task, seconds`` of every benchmark file below ``benchmarks``."""
    rows = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        seconds = float(pd.read_csv(path, sep="\t")["s"].iloc[0])
        rule = path.relative_to(benchmarks).parts[0]
        rows.append({"rule": rule, "task": path.stem, "s": seconds})
    return pd.DataFrame(rows)


def snakemake_command(folder: Path, config: Path, cores: int) -> list[str]:
    """The workflow run up to the summary in ``folder``; the target comes first because
    ``--configfile`` takes every argument after it."""
    summary = folder / "results" / "summary.csv"
    return [sys.executable, "-m", "snakemake", str(summary), "--snakefile",
            str(REPO / "Snakefile"), "--directory", str(folder), "--cores", str(cores),
            "--configfile", str(config)]  # fmt: skip


def run(model: str, dtype: str, cores: int, keep: Path | None) -> dict:
    folder = keep or Path(tempfile.mkdtemp(prefix="taskvectors-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "bench.yaml"
    config.write_text(yaml.safe_dump(bench_config(folder, model, dtype)))
    start = time.perf_counter()
    subprocess.run(snakemake_command(folder, config, cores), check=True, capture_output=True,
                   text=True)  # fmt: skip
    wall = time.perf_counter() - start
    jobs = job_seconds(folder / "results" / "benchmarks")
    per_task = jobs[jobs["task"].isin(TASKS)].groupby("task")["s"].sum().round(1).to_dict()
    per_stage = jobs.groupby("rule")["s"].sum().round(1).to_dict()
    return {"wall_s": round(wall, 1), "per_task_s": per_task, "per_stage_s": per_stage,
            "cores": cores, "dtype": dtype, "results": str(folder)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gemma-3-270m", help="embedded model alias")
    parser.add_argument("--dtype", default="auto", help="auto, float32 or bfloat16")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="results folder to use and keep")
    args = parser.parse_args(argv)
    from taskvectors.engine.devices import (  # torch: not for analysis_names
        cpu_kind,
        describe_cpu_kind,
    )

    kind = cpu_kind()
    print(describe_cpu_kind(kind), file=sys.stderr)
    result = {**kind, **run(args.model, args.dtype, args.cores, args.keep)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
