"""The Snakemake workflow end to end on tiny random models, and what a change reruns.

A copy of the workflow (Snakefile, workflow/, profiles/, data/) is run in a temporary project with
two tiny local models, so that tests can edit package modules and config without touching the
repository. After one complete run, dry runs check the partial-rerun promises of the README.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from taskvectors.analyses import registry
from taskvectors.pipeline.config import validate_config
from taskvectors.results.storage import read_provenance, read_table
from tiny_models import save_tiny_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # runs the workflow (about a minute on two cores)
TASKS = ["algorithmic_next_letter", "algorithmic_to_upper", "algorithmic_prev_letter"]
SUMMARY_COLUMNS = [
    "model", "task", "category", "spacing", "n_pairs", "n_pairs_unspaced", "n_pairs_spaced",
    "n_test", "n_queries", "best_layer", "n_layers",
    *[f"{c}{s}" for c in ("baseline", "icl", "tv", "majority", "copy")
      for s in ("", "_low", "_high")],
    *[f"{c}_{s}" for s in ("full", "strict") for c in ("baseline", "icl", "tv")],
    "tv_minus_icl", "tv_minus_icl_low", "tv_minus_icl_high", "explained_by",
]  # fmt: skip
#: Analyses the tiny run cannot cover, and why; every other registered analysis runs in it.
NOT_IN_TINY_RUN = {"prompt_format": "its tasks are the spaced ones; the tiny run's are unspaced"}
IN_TINY_RUN = [name for name in registry() if name not in NOT_IN_TINY_RUN]


def base_config(project: Path) -> dict:
    """The tiny run: ``quick: true`` sizes every analysis down by its declared quick settings
    (a new analysis's must fit 4 dev and 4 test prompts); the keys below size some further."""
    return {
        "quick": True,
        "results_dir": "results",
        "reports_dir": "reports/tiny",
        "data_dir": "data",
        "models": {
            "tiny-llama": {"source": "local", "path": str(project / "models" / "llama")},
            "tiny-gpt2": {"source": "local", "path": str(project / "models" / "gpt2")},
        },
        "tasks": TASKS,
        "prompts": {"n_demos": 3, "n_dev": 4, "n_test": 4, "n_dummy": 2, "seed": 41},
        "evaluation": {"batch_size": 4, "batch_rows": 64},
        "analyses": {
            "geometry": {"n_vectors": 5},
            "top_tokens": {"k": 5},
            "conflicts": {
                "n_examples": 4,
                "n_demos": 3,
                "pairs": [["algorithmic_next_letter", "algorithmic_to_upper"]],
            },
            "order": {"n_examples": 3, "n_permutations": 2},
            "gd": {
                "learning_rates": [0.01],
                "epochs": [1, 2],
                "n_dev": 2,
                "n_test": 3,
                "order": {"n_examples": 2, "n_permutations": 1},
                "demo_counts": {"counts": [1, 2], "n_examples": 2},
                "random_control": {"n_examples": 2},
            },  # fmt: skip
            "function_vectors": {"n_mean": 2, "n_cie": 2, "n_dev": 2, "n_test": 2, "ks": [1, 2]},
            "recognition_learning": {
                "tasks": ["algorithmic_next_letter"],
                "novel_tasks": ["novel_letter_shift"],
                "show_query": [],
                "n_dev": 2,
                "n_test": 2,
            },
        },
    }


def snakemake(project: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    path = project / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile", str(path)]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=1200)


def scheduled(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from a dry run's 'Job stats' table (empty when nothing is to be done)."""
    assert result.returncode == 0, result.stdout + result.stderr
    counts: dict[str, int] = {}
    for line in result.stdout.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) not in ("total", "count"):
            counts[match.group(1)] = int(match.group(2))
    counts.pop("all", None)
    return counts


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A completed tiny run in a private copy of the workflow."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "Snakefile", root)
    for folder in ("workflow", "profiles", "data", "envs"):
        shutil.copytree(
            REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    for arch in ("llama", "gpt2"):
        save_tiny_model(arch, root / "models" / arch)
    result = snakemake(root, base_config(root))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return root


def test_run_writes_every_documented_output(project):
    summary = pd.read_csv(project / "results" / "summary.csv")
    assert sorted(summary.columns) == sorted(SUMMARY_COLUMNS)
    assert len(summary) == 2 * len(TASKS)
    assert summary["n_test"].eq(4).all()
    accuracies = summary[["baseline", "icl", "majority", "copy"]]
    assert accuracies.apply(lambda c: c.between(0, 1)).all().all()
    assert set(pd.read_csv(project / "results" / "summary_models.csv")["task_set"]) == {
        "all", "paper_filter", "shared",
    }  # fmt: skip
    activations = read_table(
        project / "results/activations/tiny-llama/algorithmic_next_letter.parquet"
    )
    assert len(activations) == 8 * 4  # (4 dev + 4 test) examples x 4 layers
    block = read_provenance(project / "results/eval/tiny-gpt2/algorithmic_to_upper.parquet")
    assert block["model"]["alias"] == "tiny-gpt2"
    for page in ("index.html", "figures", "data"):
        assert (project / "reports/tiny" / page).exists()
    for name in ("geometry", "top_tokens"):
        folder = project / "results/analyses" / name / "tiny-llama"
        assert len(list(folder.glob("*.parquet"))) == 3
    # geometry: the activations rows of the first n_vectors (5) examples, test (ids 4-7) first
    path = project / "results/analyses/geometry/tiny-llama/algorithmic_next_letter.parquet"
    geometry = read_table(path)
    assert len(geometry) == 5 * 4
    assert list(geometry["example_id"][:5]) == [4, 5, 6, 7, 0]
    rows = activations.set_index(["split", "example_id", "layer"])["hidden"]
    for row in geometry.itertuples(index=False):
        assert (row.hidden == rows[(row.split, row.example_id, row.layer)]).all()
    block = read_provenance(path)
    assert block["model"]["alias"] == "tiny-llama" and block["settings"]["n_vectors"] == 5
    assert (project / "results/analyses/order/tiny-llama/algorithmic_next_letter.parquet").exists()
    assert (
        project / "results/analyses/conflicts/tiny-llama/"
        "algorithmic_next_letter__algorithmic_to_upper.parquet"
    ).exists()
    for name in IN_TINY_RUN:
        assert (project / "results/scores" / name / "tiny-llama.parquet").exists()
    assert (project / "results/benchmarks/run_task/tiny-llama/algorithmic_next_letter.tsv").exists()


def test_complete_run_schedules_nothing(project):
    assert scheduled(snakemake(project, base_config(project), "-n")) == {}


def test_adding_a_task_schedules_only_its_jobs_and_aggregation(project):
    config = base_config(project)
    config["tasks"] = [*TASKS, "algorithmic_to_lower"]
    jobs = scheduled(snakemake(project, config, "-n"))
    per_task = {"run_task": 2, "evaluate": 2}
    # per-model analyses that cover every task, as their declarations and settings say (in the
    # default registry: geometry, top tokens and function vectors; order and GD take one task
    # per family, next_letter here, so a new task leaves them alone), and the analyses that read
    # their files (recognition_learning reads the function vectors')
    covering = [name for name in IN_TINY_RUN if covers_every_task(name, config)]
    assert covering  # the test tells the covering analyses from the others
    covering += sorted({r for name in covering for r in readers_of(name)} - set(covering))
    per_model = {name: 2 for name in covering}
    scores = {"score_analysis": 2 * len(covering)}
    assert jobs == {**per_task, **per_model, **scores, "summarize": 1, "report": 1}


def covers_every_task(name: str, config: dict) -> bool:
    """Whether an analysis's tasks are every task of the run, from its declaration (a per-task
    analysis of the run's tasks, every task by default, no selection of its own) and its
    ``tasks`` setting (absent, ``default`` or ``all``)."""
    analysis = registry()[name]
    selection = config["analyses"].get(name, {}).get("tasks", "default")
    return (
        analysis.items == "task"
        and analysis.task_source == "run"
        and not analysis.select_tasks
        and (selection == "all" or (selection == "default" and analysis.default_tasks == "all"))
    )


def test_changing_n_vectors_reruns_geometry_and_no_model_job(project):
    config = base_config(project)
    config["analyses"]["geometry"]["n_vectors"] = 6
    jobs = scheduled(snakemake(project, config, "-n"))
    assert jobs == {"geometry": 2, "score_analysis": 2, "report": 1}


def test_changing_n_demos_reruns_from_prompts_on(project):
    config = base_config(project)
    config["prompts"]["n_demos"] = 4
    jobs = scheduled(snakemake(project, config, "-n"))
    assert "prepare_model" not in jobs
    assert jobs["run_task"] == jobs["evaluate"] == 6


def edited_scoring_jobs(project, config) -> dict[str, int]:
    scoring = project / "workflow" / "taskvectors" / "scoring" / "answers.py"
    original = scoring.read_text()
    try:
        scoring.write_text(original + "\n# an edit\n")
        return scheduled(snakemake(project, config, "-n"))
    finally:
        scoring.write_text(original)


def test_editing_scoring_reruns_the_model_job_that_chooses_the_test_layer(project):
    """``sweep_test: best`` (the default): the model job scores its dev sweep to pick the test
    layer, so a scoring edit reruns it (with ``all`` it would not: test_workflow_setup checks
    that the model stage's code inputs hold no scoring module)."""
    jobs = edited_scoring_jobs(project, base_config(project))
    assert jobs["run_task"] == jobs["evaluate"] == 6
    assert "prepare_model" not in jobs  # the prompt files it rewrites rerun the analyses too


def test_changing_a_models_revision_reruns_only_that_model(project):
    config = base_config(project)
    config["models"]["tiny-gpt2"]["revision"] = "v2"
    jobs = scheduled(snakemake(project, config, "-n"))
    assert jobs == {
        "prepare_model": 1,
        "run_task": 3,
        "evaluate": 3,
        **{name: 1 for name in IN_TINY_RUN},
        "score_analysis": len(IN_TINY_RUN),
        "summarize": 1,
        "report": 1,
    }


def setting_edit(project: Path, name: str) -> tuple[str, int]:
    """A settings edit of one analysis that the tiny run can take: its first integer setting
    (schema order) raised by one, or lowered by one at its schema's maximum. Every analysis's
    params carry its whole settings slice, so any edit must rerun it (prompt_format has no task
    here; tests/test_run_plan.py covers every analysis's params)."""
    properties = registry()[name].schema["properties"]
    key = next(k for k, v in properties.items() if v.get("type") == "integer")
    value = validate_config(base_config(project))["analyses"][name][key]
    return key, value - 1 if value + 1 > properties[key].get("maximum", value + 1) else value + 1


def test_the_tiny_run_covers_every_analysis_it_can(project):
    ran = {p.name for p in (project / "results" / "scores").iterdir()}
    assert ran == set(IN_TINY_RUN)


def readers_of(name: str) -> set[str]:
    """The analyses whose jobs read ``name``'s raw files (their ``reads_analyses``)."""
    return {other for other, a in registry().items() if name in a.reads_analyses}


def test_only_recognition_learning_reads_another_analysis():
    """The dependency the next test expects: RL reads the function-vector files."""
    assert {name: readers_of(name) for name in IN_TINY_RUN if readers_of(name)} == {
        "function_vectors": {"recognition_learning"}
    }


@pytest.mark.parametrize("name", IN_TINY_RUN)
def test_editing_one_analysis_reruns_that_analysis_its_readers_their_scores_and_the_report(
    project, name
):
    """Editing an analysis reruns it, and the analyses that declared they read its files
    (``reads_analyses``): editing function_vectors reruns recognition_learning, whose FV rows
    use its heads and layer; editing recognition_learning never reruns function_vectors."""
    config = base_config(project)
    key, value = setting_edit(project, name)
    config["analyses"].setdefault(name, {})[key] = value
    jobs = scheduled(snakemake(project, config, "-n"))
    rerun = {name, *readers_of(name)}
    assert jobs == {**{n: 2 for n in rerun}, "score_analysis": 2 * len(rerun), "report": 1}


def test_switching_function_vectors_off_reruns_recognition_learning_without_its_files(project):
    config = base_config(project)
    config["analyses"]["function_vectors"]["enabled"] = False
    jobs = scheduled(snakemake(project, config, "-n"))
    assert jobs == {"recognition_learning": 2, "score_analysis": 2, "report": 1}


def test_recognition_learning_scores_the_function_vector_under_each_condition(project):
    raw = read_table(
        project / "results/analyses/recognition_learning/tiny-llama/algorithmic_next_letter.parquet"
    )
    fv = raw[raw["method"] == "fv"]
    assert set(fv["condition"]) == set(raw["condition"]) and set(fv["split"]) == {"test"}
    vector = project / "results/analyses/function_vectors/tiny-llama/algorithmic_next_letter"
    block = read_provenance(
        project / "results/analyses/recognition_learning/tiny-llama/algorithmic_next_letter.parquet"
    )["function_vector"]
    from taskvectors.engine.vectors import load_vector

    made = load_vector(f"{vector}.fv.safetensors")
    assert block["layer"] == made.layer and block["heads"] == [list(h) for h in made.heads]
    assert set(fv["layer"]) == {made.layer}
    scores = read_table(project / "results/scores/recognition_learning/tiny-llama.parquet")
    assert "fv" in set(scores["method"])


def test_editing_the_conflict_pairs_reruns_no_other_analysis(project):
    config = base_config(project)
    config["analyses"]["conflicts"]["pairs"].append(
        ["algorithmic_prev_letter", "algorithmic_next_letter"]
    )
    jobs = scheduled(snakemake(project, config, "-n"))
    assert jobs == {"conflicts": 2, "score_analysis": 2, "report": 1}


def _reordered(value):
    """``value`` with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    return value


def test_reordered_keys_or_values_given_on_the_command_line_schedule_nothing(project):
    """Params are canonical: the same config written in another key order, or with a value moved
    from the file to ``--config``, is the same run."""
    config = _reordered(base_config(project))
    path = project / "reordered.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", str(path)]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)
    assert scheduled(result) == {}
    moved = base_config(project)
    del moved["evaluation"]
    given = "evaluation={batch_rows: 64, batch_size: 4}"
    assert scheduled(snakemake(project, moved, "-n", "--config", given)) == {}


TOY_PLUGIN = {
    "__init__.py": """
from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="toy",
    title="toy analysis",
    folder=Path(__file__).parent,
    job="toy_analysis.job:run",
    score="toy_analysis.score:score",
    section="toy_analysis.section:section",
    score_columns=("task", "n_layers", "mean_norm"),
    job_inputs=("activations",),
)
""",
    "schema.yaml": """
type: object
additionalProperties: false
default: {}
properties:
  enabled: {type: boolean, default: true}
  scale: {type: number, default: 1.0}
""",
    "job.py": """
import numpy as np
import pandas as pd

from taskvectors.results.files import read_result_table
from taskvectors.results.storage import column_vectors, write_table


def run(job, request):
    for task in request.tasks:
        vectors = column_vectors(read_result_table(request.inputs["activations"][task]))
        norm = float(np.linalg.norm(vectors, axis=1).mean()) * request.settings["scale"]
        layers = job.model.config.num_hidden_layers
        frame = pd.DataFrame({"task": [task], "n_layers": [layers], "mean_norm": [norm]})
        write_table(request.output(task), frame, job.provenance(task=task))
""",
    "score.py": """
import pandas as pd

from taskvectors.results.files import read_result_table


def score(request):
    return pd.concat([read_result_table(request.raw[""][t]) for t in request.tasks])
""",
    "section.py": """
from taskvectors.report.page import Section


def section(ctx):
    part = Section("toy", "Toy analysis", "An analysis registered by a test.")
    for model in ctx.models:
        scores = ctx.scores("toy", model)
        part.p(f"{model}: {len(scores)} tasks of {int(scores['n_layers'].iloc[0])} layers")
    return part
""",
}


def test_an_analysis_registered_outside_the_package_runs_and_reaches_the_report(project, tmp_path):
    """The plugin path: one folder (declaration, schema, job, score, section) named in
    ``TASKVECTORS_ANALYSES`` runs through the workflow on the tiny models, reruns nothing else,
    and has its section in the report. It runs in the module's project (a copy would rerun
    everything: code inputs are absolute paths) and leaves the toy's files there, so the tests
    after it expect nothing of the report."""
    plugin = tmp_path / "plugins" / "toy_analysis"
    plugin.mkdir(parents=True)
    for name, text in TOY_PLUGIN.items():
        (plugin / name).write_text(text.lstrip(), encoding="utf-8")
    env = {**os.environ, "TASKVECTORS_ANALYSES": "toy_analysis", "PYTHONPATH": str(plugin.parent)}
    path = project / "config.yaml"
    path.write_text(yaml.safe_dump(base_config(project)))
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(path)]
    planned = subprocess.run([*command, "-n"], cwd=project, env=env, capture_output=True, text=True)
    assert scheduled(planned) == {"toy": 2, "score_analysis": 2, "report": 1}
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scores = read_table(project / "results" / "scores" / "toy" / "tiny-llama.parquet")
    assert sorted(scores["task"]) == sorted(TASKS) and (scores["mean_norm"] > 0).all()
    page = (project / "reports" / "tiny" / "index.html").read_text(encoding="utf-8")
    assert "Toy analysis" in page and "tiny-llama: 3 tasks of 4 layers" in page


def test_a_wrong_config_key_is_refused_at_start_up(project):
    config = base_config(project)
    config["evaluation"]["answer"] = "greddy"
    config["colour"] = "blue"
    result = snakemake(project, config, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "evaluation.answer: 'greddy' is not one of" in output
    assert "'colour' was unexpected" in output


def test_verify_finds_a_truncated_file_and_fix_makes_the_next_run_rebuild_it(project):
    """Issue 10 item 3: a file cut in half is named by `taskvectors verify`, and after `--fix`
    the next run rebuilds it (and what depends on it) instead of saying nothing to be done."""
    config = base_config(project)
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    target = project / "results/activations/tiny-llama/algorithmic_prev_letter.parquet"
    original = target.read_bytes()
    command = [sys.executable, "-m", "taskvectors.cli.main", "verify", "--config", "config.yaml"]
    try:
        target.write_bytes(original[: len(original) // 2])
        found = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)
        assert found.returncode == 1, found.stderr
        assert "algorithmic_prev_letter.parquet" in found.stdout and "truncated" in found.stdout
        fixed = subprocess.run([*command, "--fix"], cwd=project, capture_output=True, text=True)
        assert fixed.returncode == 0 and not target.exists()
        jobs = scheduled(snakemake(project, config, "-n"))
        assert jobs["run_task"] == 1
    finally:
        target.write_bytes(original)
