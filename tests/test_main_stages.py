"""The main stages on a tiny local model: run_task (one load) -> evaluate -> summarize, and the
typed readers refusing broken or foreign result files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from taskvectors.analyses import get
from taskvectors.analyses.order.score import score_order
from taskvectors.engine.models import ModelSpec, resolve_model
from taskvectors.results.files import (
    PromptDocument,
    ResultFileError,
    check_result_file,
    read_prompt_document,
    read_result_table,
    read_score_table,
    write_score_table,
)
from taskvectors.results.storage import read_provenance
from taskvectors.scoring.evaluation import choose_layer_on_dev, earliest_best_layer
from taskvectors.stages.evaluate import evaluate
from taskvectors.stages.run_task import InferenceSettings, RunTaskOutputs, run_task
from taskvectors.stages.summarize import TaskRun, summarize
from taskvectors.tasks.prompt_files import PromptTooLongError
from taskvectors.tasks.registry import load_registry
from tiny_models import save_tiny_model

DATA = Path(__file__).resolve().parents[1] / "data"
PROMPTS = {"template": "paper", "n_demos": 3, "n_dev": 4, "n_test": 5, "n_dummy": 2, "seed": 41}


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    folder = save_tiny_model("llama", tmp_path_factory.mktemp("model") / "llama")
    return resolve_model(ModelSpec.from_config("tiny", {"source": "local", "path": str(folder)}))


def outputs(folder: Path) -> RunTaskOutputs:
    return RunTaskOutputs(
        folder / "prompts.json", folder / "activations.parquet", folder / "predictions.parquet"
    )


def run(record, folder: Path, sweep_test: str, task="algorithmic_next_letter"):
    spec = load_registry(DATA)[task]
    settings = InferenceSettings(
        batch_size=4, batch_rows=64, max_answer_tokens=3, sweep_test=sweep_test
    )
    chooser = choose_layer_on_dev if sweep_test == "best" else None
    document = run_task(record, spec, DATA, PROMPTS, settings, outputs(folder), chooser)
    return document, read_result_table(outputs(folder).predictions, "predictions")


@pytest.fixture(scope="module")
def best_run(record, tmp_path_factory):
    folder = tmp_path_factory.mktemp("best")
    return (folder, *run(record, folder, "best"))


def evaluated(document, predictions, folder: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Run evaluate into ``folder``: its sweep, and the best layer (empty if there is none)."""
    evaluate(
        document, predictions, answer_mode="first_token",
        sweep_path=folder / "sweep.parquet", eval_path=folder / "eval.parquet",
    )  # fmt: skip
    sweep = read_result_table(folder / "sweep.parquet", "sweep")
    return sweep, sweep.loc[sweep["is_best"], "layer"]


def test_run_task_writes_prompts_vectors_and_every_condition(best_run, record):
    folder, document, predictions = best_run
    assert read_prompt_document(folder / "prompts.json") == document
    n_layers = record.n_layers
    activations = read_result_table(folder / "activations.parquet", "activations")
    assert len(activations) == len(document.examples) * n_layers
    dev = predictions[predictions["split"] == "dev"]
    assert set(dev.loc[dev["condition"] == "tv", "layer"]) == set(range(n_layers))
    test = predictions[predictions["split"] == "test"]
    assert set(test["condition"]) <= {"icl", "baseline", "tv"}
    assert test.loc[test["condition"] == "tv", "layer"].nunique() <= 1  # best layer only
    settings = read_provenance(folder / "activations.parquet")["settings"]
    assert settings["torch_threads"] == torch.get_num_threads()  # the bytes can depend on it


def test_best_mode_patches_test_at_the_layer_evaluate_chooses(best_run, tmp_path):
    folder, document, predictions = best_run
    sweep, best = evaluated(document, predictions, tmp_path)
    tested = predictions.loc[(predictions["split"] == "test") & (predictions["condition"] == "tv")]
    assert sorted(tested["layer"].unique()) == sorted(best.unique())
    results = read_result_table(tmp_path / "eval.parquet", "eval")
    assert {"baseline", "icl", "majority", "copy"} <= set(results["condition"])
    assert ((sweep["low"] <= sweep["accuracy"]) & (sweep["accuracy"] <= sweep["high"])).all()


def test_all_mode_patches_every_layer_with_the_same_dev_rows(best_run, record, tmp_path):
    _, _, best_predictions = best_run
    _, predictions = run(record, tmp_path, "all")
    test = predictions[(predictions["split"] == "test") & (predictions["condition"] == "tv")]
    assert set(test["layer"]) == set(range(record.n_layers))
    dev_best = best_predictions[best_predictions["split"] == "dev"].reset_index(drop=True)
    dev_all = predictions[predictions["split"] == "dev"].reset_index(drop=True)
    pd.testing.assert_frame_equal(dev_best, dev_all)


def test_summary_has_intervals_baselines_and_model_means(best_run, tmp_path):
    folder, document, predictions = best_run
    _, best = evaluated(document, predictions, tmp_path)
    runs = [
        TaskRun("tiny", "algorithmic_next_letter", "algorithmic", document,
                read_result_table(tmp_path / "eval.parquet", "eval"),
                int(best.iloc[0]) if len(best) else None, 4)
    ]  # fmt: skip
    summary = summarize(
        runs, {"tiny": {"n_layers": 4}}, tmp_path / "summary.csv",
        tmp_path / "summary_models.csv", tmp_path / "summary.provenance.json",
    )  # fmt: skip
    row = summary.iloc[0]
    for condition in ("baseline", "icl", "majority", "copy"):
        assert row[f"{condition}_low"] <= row[condition] <= row[f"{condition}_high"]
    assert row["n_queries"] <= row["n_test"] == 5
    means = pd.read_csv(tmp_path / "summary_models.csv")
    assert set(means["task_set"]) == {"all", "paper_filter", "shared"}
    assert json.loads((tmp_path / "summary.provenance.json").read_text())["models"] == {
        "tiny": {"n_layers": 4}
    }


def test_no_best_layer_when_every_layer_scores_zero():
    assert earliest_best_layer([0, 1, 2], [0.0, 0.0, 0.0]) is None
    assert earliest_best_layer([2, 0, 1], [0.5, 0.5, 0.2]) == 0


def test_readers_refuse_truncated_foreign_and_malformed_files(best_run, tmp_path):
    folder, document, _ = best_run
    data = (folder / "predictions.parquet").read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ResultFileError, match="cut.parquet.*Delete this file"):
        read_result_table(cut, "predictions")
    assert check_result_file(cut, "predictions") is not None
    with pytest.raises(ResultFileError, match="missing columns"):
        read_result_table(folder / "activations.parquet", "predictions")
    with pytest.raises(ResultFileError, match="other settings"):
        read_result_table(
            folder / "predictions.parquet", "predictions",
            expect_settings={"prompts": {**document.settings, "n_demos": 9}},
        )  # fmt: skip
    broken = tmp_path / "prompts.json"
    broken.write_text('{"task": ', encoding="utf-8")
    with pytest.raises(ResultFileError, match="not valid JSON"):
        read_prompt_document(broken)
    assert check_result_file(folder / "predictions.parquet", "predictions") is None


def test_score_tables_are_written_in_the_columns_their_readers_check(tmp_path):
    """One schema per score table (the analysis's ``score_columns``): its scoring writes it, the
    report reads it."""
    columns = get("order").score_columns
    empty = score_order({}, {}, "first_token")  # no task had rows
    assert list(empty.columns) == list(columns) and empty.empty
    write_score_table(tmp_path / "order.parquet", empty, columns, {"test": True})
    assert read_score_table(tmp_path / "order.parquet", columns).empty
    with pytest.raises(ValueError, match=r"this score table needs columns \['verdict'\]"):
        write_score_table(tmp_path / "bad.parquet", empty.drop(columns="verdict"), columns, {})
    assert not (tmp_path / "bad.parquet").exists()
    with pytest.raises(ResultFileError, match=r"missing columns \['extra'\]"):
        read_score_table(tmp_path / "order.parquet", [*columns, "extra"])


def test_prompt_document_round_trips(best_run):
    _, document, _ = best_run
    assert PromptDocument.from_dict(json.loads(json.dumps(document.to_dict()))) == document


def test_prompts_longer_than_the_models_context_are_refused_in_one_line(tmp_path_factory):
    folder = save_tiny_model("llama", tmp_path_factory.mktemp("short") / "llama")
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 24
    (folder / "config.json").write_text(json.dumps(config))
    short = resolve_model(ModelSpec.from_config("short", {"source": "local", "path": str(folder)}))
    out = tmp_path_factory.mktemp("short_out")
    with pytest.raises(PromptTooLongError) as caught:
        run(short, out, "best")
    message = str(caught.value)
    assert message.count("\n") == 0
    assert message.startswith("task algorithmic_next_letter on model short: the prompt of ")
    assert "exceeds the model's context of 24 tokens (max_position_embeddings)" in message
    assert not outputs(out).prompts.exists()
