"""Stage ``geometry`` (paper §4): ``n_vectors`` task vectors per task at every layer, for
``score_analysis`` to map with t-SNE and to test whether vectors of one task sit closer together
than vectors of different tasks.

Model-free: the vectors are rows of the task's activations table (``run_task``), where every
example's θ comes from its own sampled demonstrations and dummy queries, so nothing is recomputed.
The examples taken are the first ``n_vectors`` in a fixed order: the test split, then dev, each by
``example_id``. Test comes first because the geometry layer is chosen on dev accuracy; with the
default sizes (``n_vectors`` = ``n_test`` = 50) the vectors are exactly the test examples'. The
start-up checks refuse ``n_vectors`` above ``n_dev + n_test`` (``preflight.analysis_problems``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from taskvectors.analyses.spec import JobRequest
from taskvectors.results.files import read_result_table, table_provenance
from taskvectors.results.provenance import provenance
from taskvectors.results.storage import column_vectors, vectors_column, write_table

#: The order in which splits give their examples (then ``example_id`` within a split).
SPLIT_ORDER = ("test", "dev")


def geometry_vectors(activations: pd.DataFrame, n_vectors: int) -> pa.Table:
    """The rows of the first ``n_vectors`` examples of an activations table (test, then dev, by
    ``example_id``), every layer, as an activations table sorted by layer and then that order (one
    row group of ``n_vectors`` rows per layer).

    Raises ``ValueError`` when the table holds fewer than ``n_vectors`` examples.
    """
    rank = {split: i for i, split in enumerate(SPLIT_ORDER)}
    table = activations.assign(
        split_rank=activations["split"].map(rank).fillna(len(rank)).astype(int)
    )
    examples = table.drop_duplicates(["split", "example_id"]).sort_values(
        ["split_rank", "example_id"]
    )
    if len(examples) < n_vectors:
        raise ValueError(
            f"{n_vectors} vectors per task requested, but the activations hold "
            f"{len(examples)} examples (prompts.n_dev + prompts.n_test)"
        )
    chosen = examples.iloc[:n_vectors][["split", "example_id"]].assign(order=range(n_vectors))
    rows = table.merge(chosen, on=["split", "example_id"]).sort_values(["layer", "order"])
    return pa.table(
        {
            "example_id": pa.array(rows["example_id"], pa.int32()),
            "split": pa.array(rows["split"], pa.string()),
            "layer": pa.array(rows["layer"], pa.int16()),
            "hidden": vectors_column(column_vectors(rows)),
        }
    )


def run_geometry(
    activations: Mapping[str, Path],
    outputs: Mapping[str, Path],
    settings: Mapping[str, Any],
) -> None:
    """Write ``outputs[task]``: θ of ``settings["n_vectors"]`` examples of ``activations[task]``,
    every layer.

    Each output carries the model record and prompt settings of the activations it was taken
    from, with the analysis ``settings``.
    """
    n_vectors = settings["n_vectors"]
    for task, path in activations.items():
        source = table_provenance(path, "run_task")
        try:
            table = geometry_vectors(read_result_table(path, "activations"), n_vectors)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        block = provenance(
            model=source.get("model"),
            analysis="geometry",
            prompts=source.get("settings", {}).get("prompts"),
            **dict(settings),
        )
        write_table(outputs[task], table, {**block, "task": task}, row_group_size=n_vectors)


def run(job: None, request: JobRequest) -> None:
    """The geometry job of one model (model-free: ``job`` is None)."""
    run_geometry(request.inputs["activations"], request.outputs[""], request.settings)
