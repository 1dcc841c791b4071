"""The GD stage and its scoring on a tiny model: every experiment written, scored, and a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskvectors.analyses.gd.job import run_gd
from taskvectors.analyses.gd.score import score_gd
from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.engine.models import ModelSpec, load_model, resolve_model
from taskvectors.pipeline.config import validate_config
from taskvectors.results.files import read_result_table
from taskvectors.scoring.evaluation import choose_layer_on_dev
from taskvectors.stages.evaluate import evaluate
from taskvectors.stages.run_task import InferenceSettings, RunTaskOutputs, run_task
from taskvectors.tasks.registry import load_registry
from tiny_models import save_tiny_model

DATA = Path(__file__).resolve().parents[1] / "data"
TASK = "algorithmic_next_letter"
PROMPTS = {"template": "paper", "n_demos": 3, "n_dev": 4, "n_test": 4, "n_dummy": 2, "seed": 41}


def gd_settings() -> dict:
    small = {
        "learning_rates": [0.0, 0.01], "epochs": [1, 2], "n_dev": 3, "n_test": 4,
        "chunk_size": 2, "autocast": "none",
        "order": {"n_examples": 2, "n_permutations": 2},
        "demo_counts": {"tasks": [TASK], "counts": [1, 2], "n_examples": 2},
        "random_control": {"n_examples": 2},
    }  # fmt: skip
    config = validate_config({"models": {"m": {"source": "embedded"}}, "analyses": {"gd": small}})
    return config["analyses"]["gd"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gd")
    folder = save_tiny_model("llama", root / "model")
    record = resolve_model(ModelSpec.from_config("tiny", {"source": "local", "path": str(folder)}))
    outputs = RunTaskOutputs(root / "p.json", root / "a.parquet", root / "pred.parquet")
    settings = InferenceSettings(4, 64, 2, "best")
    spec = load_registry(DATA)[TASK]
    document = run_task(record, spec, DATA, PROMPTS, settings, outputs, choose_layer_on_dev)
    predictions = read_result_table(outputs.predictions, "predictions")
    evaluate(document, predictions, answer_mode="first_token",
             sweep_path=root / "sweep.parquet", eval_path=root / "eval.parquet")  # fmt: skip
    model, tokenizer = load_model(record)
    job = AnalysisJob(record, model, tokenizer, {"test": True})
    raw, dist = root / "gd.parquet", root / "gd.dist.parquet"
    run_gd(
        job, {TASK: outputs.prompts}, {TASK: outputs.activations}, {TASK: root / "sweep.parquet"},
        {TASK: raw}, {TASK: dist}, settings=gd_settings(), max_answer_tokens=2,
    )  # fmt: skip
    return root, document, raw, dist, job


def test_gd_stage_writes_every_experiment(run):
    root, document, raw, dist, job = run
    predictions = read_result_table(raw)
    sweep = read_result_table(root / "sweep.parquet", "sweep")
    has_best = bool(sweep["is_best"].any())
    expected = {"main", "order"} | ({"n_demos"} if has_best else set())
    assert set(predictions["experiment"]) == expected
    main = predictions[predictions["experiment"] == "main"]
    assert set(main["condition"]) == {"gd"} and len(main) == 4
    order = predictions[predictions["experiment"] == "order"]
    assert sorted(order["permutation"].unique()) == [0, 1, 2]
    distributions = read_result_table(dist)
    if has_best:
        assert set(distributions["model_init"]) == {"pretrained", "random"}
        assert (distributions["kl_icl_baseline"] >= -1e-6).all()
        assert job.model is None  # released before the control was built


def test_gd_scores_give_intervals_and_a_verdict(run):
    root, document, raw, dist, job = run
    table = score_gd(
        {TASK: raw}, {TASK: read_result_table(dist)}, {TASK: document},
        {TASK: read_result_table(root / "eval.parquet", "eval")}, "tiny",
    )  # fmt: skip
    accuracy = table[table["kind"] == "accuracy"]
    assert set(accuracy["condition"]) >= {"icl", "baseline", "gd"}
    assert ((accuracy["low"] <= accuracy["value"]) & (accuracy["value"] <= accuracy["high"])).all()
    hyper = table[table["kind"] == "hyperparameters"].set_index("metric")["value"]
    assert hyper["learning_rate"] in (0.0, 0.01) and hyper["epochs"] in (1, 2)
    if len(read_result_table(dist)):
        verdicts = table[table["kind"] == "verdict"]
        assert set(verdicts["model_init"]) == {"pretrained", "random"}
        assert verdicts["text"].str.contains("agreement with ICL").all()
