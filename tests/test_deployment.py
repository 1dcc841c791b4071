"""Deployments outside the author's venv: profiles, conda jobs, the container image, configs.

What each test guards:
- the two profiles load as Snakemake 9 reads them (file name vs ``min_version``; no key shared
  between the global and the workflow profile, since the workflow profile would silently win);
- a retried job gets twice its memory (rule side) and time (profile side); profile entries for
  rules a workflow does not have are ignored;
- a job script imports ``taskvectors`` with ``PYTHONPATH`` cleared, as ``--sdm conda`` runs it;
- the Apptainer image pins exactly pyproject's dependencies;
- ``--config key=value`` overrides the default config, ``--configfile`` replaces it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml

from taskvectors.analyses import registry

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PROFILE = REPO / "profiles" / "default"
CLUSTER_PROFILE = REPO / "profiles" / "slurm"
PROFILE_NAME = re.compile(r"(profile|config)(?:\.v(\d+)\+)?\.yaml")


def pyproject_pins() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["slurm"]


def snakemake_min_version() -> tuple[int, ...]:
    match = re.search(r'min_version\("([\d.]+)"\)', (REPO / "Snakefile").read_text())
    assert match, "the Snakefile declares no min_version"
    return tuple(int(part) for part in match.group(1).split("."))


def first_version_reading(file_name: str) -> tuple[int, ...] | None:
    """The oldest Snakemake that reads this profile file name (``None``: no version does).

    ``config.yaml`` has always been read; ``config.v8+.yaml`` from 8.0; ``profile.yaml`` and its
    versioned forms only from 9.19.0, where the default name changed."""
    match = PROFILE_NAME.fullmatch(file_name)
    if match is None:
        return None
    stem, major = match.group(1), int(match.group(2) or 0)
    floor = (9, 19) if stem == "profile" else (0,)
    return max(floor, (major,))


@pytest.mark.parametrize("profile", [WORKFLOW_PROFILE, CLUSTER_PROFILE], ids=["workflow", "slurm"])
def test_profile_file_is_read_by_every_snakemake_the_workflow_allows(profile):
    names = [path.name for path in profile.iterdir() if first_version_reading(path.name)]
    assert len(names) == 1, f"{profile}: exactly one profile file expected, found {names}"
    assert first_version_reading(names[0]) <= snakemake_min_version(), (
        f"{names[0]} is read from Snakemake {first_version_reading(names[0])}, "
        f"but the Snakefile allows {snakemake_min_version()}"
    )


def load_profile(profile: Path) -> dict:
    return yaml.safe_load((profile / "profile.yaml").read_text())


def test_cluster_and_workflow_profiles_share_no_key():
    shared = set(load_profile(WORKFLOW_PROFILE)) & set(load_profile(CLUSTER_PROFILE))
    assert not shared, f"the workflow profile would silently override {sorted(shared)}"


def test_snakemake_reads_both_profiles_with_paths_next_to_the_profile():
    from snakemake.cli import parse_args

    _, args = parse_args(
        ["--profile", str(CLUSTER_PROFILE), "--workflow-profile", str(WORKFLOW_PROFILE), "-n"]
    )
    assert args.executor == "slurm"
    assert args.retries >= 1
    assert Path(args.slurm_partition_config) == CLUSTER_PROFILE / "partitions.yaml"
    assert args.set_resources["run_task"]["runtime"].raw == "60 * attempt"
    # Memory comes from the rules (per model, from its size): the profile must not override it.
    assert not any("mem_mb" in entries for entries in args.set_resources.values())
    partitions = yaml.safe_load(Path(args.slurm_partition_config).read_text())["partitions"]
    assert any(limits.get("max_gpu", 0) > 0 for limits in partitions.values())
    assert any(limits.get("max_gpu", 0) == 0 for limits in partitions.values())


RETRY_SNAKEFILE = """
import os

rule all:
    input: "run_task.done", "helper.done"

# Fails on its first attempt; records the resources it was given on each attempt. Its memory is
# rule-side (as the model rules size it per model); its time limit comes from the profile.
rule run_task:
    output: "run_task.done"
    resources: mem_mb=lambda wildcards, attempt: 100 * attempt
    run:
        with open("attempts.txt", "a") as record:
            record.write(f"{resources.mem_mb} {resources.runtime}\\n")
        if not os.path.exists("failed_once"):
            open("failed_once", "w").close()
            raise RuntimeError("first attempt fails on purpose")
        open(output[0], "w").close()

# Not named in the profile: keeps its own resources.
rule helper:
    output: "helper.done"
    resources: mem_mb=123
    run:
        open(output[0], "w").write(str(resources.mem_mb))
"""


def test_a_retried_job_gets_twice_the_memory_and_time(tmp_path):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(RETRY_SNAKEFILE))
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--retries", "1"]
    command += ["--workflow-profile", str(WORKFLOW_PROFILE), "--directory", str(tmp_path)]
    command += ["--snakefile", str(tmp_path / "Snakefile")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    attempts = (tmp_path / "attempts.txt").read_text().splitlines()
    first, second = ([int(value) for value in line.split()] for line in attempts)
    assert second == [2 * first[0], 2 * first[1]]
    # The profile names rules this Snakefile lacks (gd, geometry, ...): they are ignored.
    assert (tmp_path / "helper.done").read_text() == "123"


def script_imports(script: Path) -> str:
    """The top-level import statements of a job script, as source."""
    tree = ast.parse(script.read_text())
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(node) for node in imports)


IMPORT_AS_IN_A_CONDA_JOB = """
import sys
from pathlib import Path
workflow_dir = Path({workflow!r}).resolve()
# The conda env has the pinned dependencies but not this package: hide the venv's editable install.
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != workflow_dir]
sys.modules.pop("taskvectors", None)
# What Snakemake's script preamble does for a local script: append the script's own folder.
sys.path.append({script_dir!r})
__file__ = {script!r}
{imports}
"""


@pytest.mark.parametrize(
    "script", sorted((REPO / "workflow" / "scripts").glob("*.py")), ids=lambda path: path.stem
)
def test_job_script_imports_the_package_without_pythonpath(script):
    code = IMPORT_AS_IN_A_CONDA_JOB.format(
        workflow=str(REPO / "workflow"),
        script_dir=str(script.parent),
        script=str(script),
        imports=script_imports(script),
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO / "tests",
    )
    assert result.returncode == 0, result.stderr[-3000:]


def apptainer_pins() -> list[str]:
    text = (REPO / "envs" / "Apptainer.def").read_text()
    post = text.split("%post", 1)[1].split("\n%", 1)[0]
    return re.findall(r'"([A-Za-z0-9_.\-]+==[^"]+)"', post)


def test_container_image_pins_exactly_the_pyproject_dependencies():
    assert sorted(apptainer_pins()) == sorted(pyproject_pins())
    text = (REPO / "envs" / "Apptainer.def").read_text()
    python = re.search(r"^From: python:(\d+\.\d+)", text, re.MULTILINE).group(1)
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f">={python}" in requires


def dry_run(*options: str) -> str:
    """``snakemake -n`` from the repository (default workflow profile and config)."""
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", *options]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def wildcard_values(output: str, name: str) -> set[str]:
    return set(re.findall(rf"\bwildcards: .*?\b{name}=([^,\s]+)", output))


def output_paths(output: str) -> set[str]:
    return {
        p
        for line in re.findall(r"^\s+output: (.*)$", output, re.MULTILINE)
        for p in line.split(", ")
    }


def job_threads(output: str) -> dict[str, set[int]]:
    """The threads of each rule's jobs in a dry run's output (Snakemake omits ``threads: 1``)."""
    found: dict[str, set[int]] = {}
    for block in re.split(r"\n\s*\n", output):
        rule = re.search(r"^(?:local)?rule (\w+):$", block, re.MULTILINE)
        if rule:
            threads = re.search(r"^\s+threads: (\d+)$", block, re.MULTILINE)
            found.setdefault(rule.group(1), set()).add(int(threads.group(1)) if threads else 1)
    return found


@pytest.mark.parametrize("threads", [1, 3])
def test_model_job_threads_sets_the_threads_of_every_model_job(tmp_path, threads):
    output = dry_run(
        "--cores", "4", "--config", f"results_dir={tmp_path / 'results'}",
        f"reports_dir={tmp_path / 'report'}", f"model_job_threads={threads}",
    )  # fmt: skip
    found = job_threads(output)
    model_jobs = ["run_task", *(n for n, a in registry().items() if a.loads_model)]
    assert {rule: found[rule] for rule in model_jobs} == dict.fromkeys(model_jobs, {threads})
    assert found["evaluate"] == found["geometry"] == {1}


def test_config_on_the_command_line_overrides_keys_of_the_default_config(tmp_path):
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    results = tmp_path / "results"
    output = dry_run("--config", f"results_dir={results}", f"reports_dir={tmp_path / 'report'}")
    assert wildcard_values(output, "model") == set(default["models"])
    assert len(wildcard_values(output, "task")) == 18  # the default config's `tasks: default`
    paths = output_paths(output)
    assert paths and all(p.startswith((str(results), str(tmp_path / "report"))) for p in paths)


def test_configfile_replaces_the_default_config(tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "results_dir": str(tmp_path / "results"),
                "reports_dir": str(tmp_path / "report"),
                "models": {"renamed": {"source": "embedded", "name": "gemma-3-270m"}},
                "tasks": ["algorithmic_next_letter"],
            }
        )
    )
    output = dry_run("--configfile", str(config))
    assert wildcard_values(output, "model") == {"renamed"}  # no gemma-3-270m merged in
    assert wildcard_values(output, "task") == {"algorithmic_next_letter"}
    changed = dry_run("--configfile", str(config), "--config", "tasks=[translation_fr_en]")
    assert wildcard_values(changed, "task") == {"translation_fr_en"}
