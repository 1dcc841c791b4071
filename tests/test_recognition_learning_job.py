"""The recognition/learning model job on a tiny model: its function-vector rows (method ``fv``)
take each condition's own prompts and the function_vectors analysis's heads and layer, and are
absent when that analysis is not enabled; and the FV recipe read from that analysis's files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.analyses.recognition_learning import job as rl_job
from taskvectors.analyses.recognition_learning.fv_choice import (
    FunctionVectorChoice,
    choices_from_files,
    choose,
    most_common,
)
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine.models import ModelRecord
from taskvectors.engine.vectors import VectorArtifact, load_vector, save_vector
from taskvectors.results.storage import read_provenance, read_table, write_table
from taskvectors.tasks.prompts import get_template
from taskvectors.tasks.registry import load_registry
from tiny_models import tiny_model

REPO = Path(__file__).resolve().parents[1]
TASK = "algorithmic_next_letter"
NOVEL = "novel_letter_shift"
FV = "function_vectors"
RECORD = ModelRecord(
    alias="tiny", source="local", name_or_path="tiny-llama", revision=None, local_path="tiny",
    dtype="float32", device="cpu", trust_remote_code=False, model_type="llama", n_layers=4,
    d_model=32, vocab_size=100,
)  # fmt: skip
HEADS = ((1, 2), (0, 1))


@pytest.fixture(scope="module")
def job() -> AnalysisJob:
    model, tokenizer = tiny_model("llama")
    return AnalysisJob(record=RECORD, model=model, tokenizer=tokenizer, block={"test": True})


def fv_files(folder: Path, tasks: list[str], layer: int = 2) -> dict[str, dict[str, Path]]:
    """``reads[function_vectors]`` of FV files for ``tasks``: heads ``HEADS`` at ``layer``, and a
    cie table ranking ``HEADS`` first."""
    files: dict[str, dict[str, Path]] = {"fv": {}, "cie": {}}
    grid = [(layer, head) for layer in range(4) for head in range(4)]
    ranking = [*HEADS, *[pair for pair in grid if pair not in HEADS]]
    cie = pd.DataFrame(
        {"layer": [layer for layer, _ in ranking], "head": [h for _, h in ranking],
         "rank_universal": range(len(ranking))}
    )  # fmt: skip
    for task in tasks:
        files["fv"][task] = save_vector(
            folder / f"{task}.fv.safetensors",
            VectorArtifact(torch.ones(32), "function", layer, "tiny-llama", None, task, HEADS,
                           {"variant": "raw", "k": len(HEADS)}),
        )  # fmt: skip
        files["cie"][task] = folder / f"{task}.cie.parquet"
        write_table(files["cie"][task], cie, {"analysis": FV})
    return files


def request(tmp_path: Path, reads: dict) -> JobRequest:
    registry = load_registry(REPO / "data")
    tasks = [TASK, NOVEL]
    return JobRequest(
        analysis="recognition_learning",
        tasks=tasks,
        items=tasks,
        inputs={},
        outputs={"": {t: tmp_path / f"{t}.parquet" for t in tasks}},
        settings={
            "tasks": [TASK],
            "conditions": ["gold", "shuffled"],
            "novel_tasks": [NOVEL],
            "show_query": [],
            "n_dev": 2,
            "n_test": 3,
        },  # fmt: skip
        config={
            "evaluation": {"batch_size": 4, "batch_rows": 32},
            "prompts": {"n_demos": 3, "n_dummy": 1, "seed": 41, "template": "paper"},
        },
        task_specs={t: registry[t].to_dict() for t in tasks},
        data_dir=REPO / "data",
        reads=reads,
    )


def test_without_the_function_vectors_analysis_the_job_writes_no_fv_rows(job, tmp_path):
    made = request(tmp_path, {})
    rl_job.run(job, made)
    frame = read_table(made.output(TASK))
    assert set(frame["method"]) == {"icl", "tv", "baseline"}
    assert read_provenance(made.output(TASK))["function_vector"] is None


def gold_document(job):
    spec = load_registry(REPO / "data")[TASK]
    chosen = {"n_demos": 3, "n_dummy": 1, "seed": 41, "n_dev": 2, "n_test": 3}
    return spec, rl_job.task_document(job, spec, REPO / "data", get_template("paper"), chosen)


@pytest.mark.parametrize("arch", ["llama", "gemma3_text"])
def test_head_outputs_read_in_the_icl_pass_are_those_of_the_icl_prompts(arch):
    """The shared forward gives each ICL prompt's head outputs as a forward of the whole prompt
    does: on llama through the prefix cache, on the tiny Gemma (window 6) with whole prompts."""
    model, tokenizer = tiny_model(arch)
    tiny = AnalysisJob(record=RECORD, model=model, tokenizer=tokenizer, block={})
    _, document = gold_document(tiny)
    template = get_template(document.template)
    examples = document.split("dev") + document.split("test")
    thetas, _, outputs = rl_job.vectors_and_heads(
        tiny, template, examples, 2, "test", record_heads=True
    )
    prompts = [template.icl_prompt(list(ex.demos), ex.query) for ex in examples]
    expected = rl_job.heads.head_activations(model, tokenizer, prompts)
    assert outputs.shape == expected.shape
    torch.testing.assert_close(outputs, expected, rtol=1e-4, atol=1e-4)
    alone, _, none = rl_job.vectors_and_heads(tiny, template, examples, 2, "t", record_heads=False)
    assert none is None and torch.equal(alone, thetas)


def test_the_fv_of_each_condition_averages_that_conditions_own_dev_prompts(
    job, tmp_path, monkeypatch
):
    """Under gold the head means are those of the document's own dev ICL prompts; under shuffled
    of the same queries with the shuffled demonstrations; the test queries never enter."""
    means_seen: list[torch.Tensor] = []
    original = rl_job.vectors.function_vector

    def spy(model, means, chosen_heads, **kwargs):
        means_seen.append(means.clone())
        return original(model, means, chosen_heads, **kwargs)

    monkeypatch.setattr(rl_job.vectors, "function_vector", spy)
    made = request(tmp_path, {FV: fv_files(tmp_path, [TASK])})
    spec, document = gold_document(job)
    choice = FunctionVectorChoice(HEADS, 2, "raw", "own")
    frame, _ = rl_job.task_frame(job, spec, made, get_template("paper"), choice)
    template = get_template(document.template)
    dev = document.split("dev")
    gold_prompts = [template.icl_prompt(list(ex.demos), ex.query) for ex in dev]
    gold_means = rl_job.heads.mean_head_activations(job.model, job.tokenizer, gold_prompts)
    assert len(means_seen) == 2  # one FV per condition: gold, shuffled
    torch.testing.assert_close(means_seen[0], gold_means, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(means_seen[1], gold_means, atol=1e-3)
    fv = frame[frame["method"] == "fv"]
    assert set(fv["condition"]) == {"gold", "shuffled"}
    assert set(fv["split"]) == {"test"} and set(fv["layer"]) == {2}
    assert len(fv) == 2 * len(document.split("test"))


def test_the_fv_rows_are_the_condition_fv_added_at_the_chosen_layer(job, tmp_path):
    made = request(tmp_path, {FV: fv_files(tmp_path, [TASK], layer=1)})
    rl_job.run(job, made)
    frame = read_table(made.output(TASK))
    _, document = gold_document(job)
    template = get_template(document.template)
    prompts = [template.icl_prompt(list(ex.demos), ex.query) for ex in document.split("dev")]
    means = rl_job.heads.mean_head_activations(job.model, job.tokenizer, prompts)
    vector = rl_job.vectors.function_vector(job.model, means, HEADS, variant="raw")
    test = document.split("test")
    decoded = rl_job.vectors.add_vector(
        job.model, job.tokenizer, [template.zero_shot_prompt(ex.query) for ex in test], vector,
        [1], keep_first_logits=False,
    )  # fmt: skip
    gold = frame[(frame["method"] == "fv") & (frame["condition"] == "gold")]
    assert list(gold["token_id"]) == decoded.tokens[:, 0].tolist()
    block = read_provenance(made.output(TASK))["function_vector"]
    assert block["source"] == "own" and block["layer"] == 1 and block["heads"] == [[1, 2], [0, 1]]
    novel = read_provenance(made.output(NOVEL))["function_vector"]
    assert novel["source"] == "most_common" and novel["heads"] == [[1, 2], [0, 1]]


# --- the recipe from the files (no model) -----------------------------------------------------


def test_a_task_without_its_own_fv_takes_the_most_common_k_and_layer(tmp_path):
    def artifact(task: str, k: int, layer: int) -> VectorArtifact:
        heads = tuple((0, h) for h in range(k))
        return VectorArtifact(torch.ones(4), "function", layer, "m", None, task, heads,
                              {"variant": "normalised"})  # fmt: skip

    artifacts = {"a": artifact("a", 2, 5), "b": artifact("b", 4, 5), "c": artifact("c", 4, 3)}
    ranking = [(3, 1), (2, 0), (0, 0), (1, 1), (0, 1)]
    chosen = choose(["a", "novel"], artifacts, ranking)
    assert chosen["a"] == FunctionVectorChoice(((0, 0), (0, 1)), 5, "normalised", "own")
    assert chosen["novel"] == FunctionVectorChoice(
        ((3, 1), (2, 0), (0, 0), (1, 1)), 5, "normalised", "most_common"
    )
    assert most_common([3, 5, 5, 3]) == 3  # ties to the smaller


def test_fv_files_are_refused_for_another_model_and_unread_when_absent(tmp_path):
    reads = {FV: fv_files(tmp_path, [TASK])}
    assert choices_from_files([TASK], {}) == {}
    assert load_vector(reads[FV]["fv"][TASK]).layer == 2
    with pytest.raises(ValueError, match="another model"):
        choices_from_files([TASK], reads, lambda artifact: "made on another model")
    chosen = choices_from_files([TASK, NOVEL], reads)
    assert chosen[TASK].source == "own" and chosen[NOVEL].source == "most_common"
