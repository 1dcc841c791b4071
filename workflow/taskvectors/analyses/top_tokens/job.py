"""Stage ``top_tokens`` (paper §4): each task's mean test θ through the final norm and the
unembedding, at every layer — does the vector encode the task's output space?"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine import patching
from taskvectors.results.files import read_result_table
from taskvectors.results.storage import column_vectors, write_table


def top_tokens(job: AnalysisJob, activations: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top-``k`` tokens ``layer, rank, token_id, token, logit`` of the mean test θ per layer."""
    test = activations[activations["split"] == "test"].sort_values(["layer", "example_id"])
    layers = sorted(test["layer"].unique())
    means = torch.stack(
        [torch.from_numpy(column_vectors(test[test["layer"] == layer]).mean(0)) for layer in layers]
    )
    values, ids = patching.project_to_vocab(job.model, means).topk(k, dim=-1)
    rows = [
        {
            "layer": int(layer),
            "rank": rank,
            "token_id": int(ids[i, rank]),
            "token": job.tokenizer.decode([int(ids[i, rank])]),
            "logit": float(values[i, rank]),
        }
        for i, layer in enumerate(layers)
        for rank in range(k)
    ]
    return pd.DataFrame(rows).astype({"layer": "int16", "rank": "int16", "token_id": "int32"})


def run_top_tokens(
    job: AnalysisJob, activations: Mapping[str, Path], outputs: Mapping[str, Path], *, k: int
) -> None:
    for task, path in activations.items():
        table = top_tokens(job, read_result_table(path, "activations"), k)
        write_table(outputs[task], table, job.provenance(task=task))


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The top-tokens job of one model."""
    run_top_tokens(job, request.inputs["activations"], request.outputs[""], k=request.settings["k"])
