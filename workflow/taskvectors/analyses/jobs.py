"""What every analysis model job shares: one model load for all of its tasks, one provenance
block, and the best layer of each task read from its sweep.

An analysis job covers all of a model's tasks because loading a model costs more than most tasks'
analysis; it gets its file paths from its rule (``outputs[task]``) and reads its inputs through the
typed readers of :mod:`taskvectors.results.files`.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from taskvectors.engine.models import ModelRecord, load_model
from taskvectors.results.files import best_layer, read_json_result, read_result_table
from taskvectors.results.provenance import provenance


@dataclass
class AnalysisJob:
    """A loaded model and the job's settings; ``block`` is the provenance every output carries."""

    record: ModelRecord
    model: Any
    tokenizer: Any
    block: dict[str, Any]

    @classmethod
    def start(cls, model_record_path: str | Path, name: str, settings: Mapping[str, Any]):
        record = ModelRecord.from_dict(read_json_result(model_record_path, "prepare_model"))
        model, tokenizer = load_model(record)
        threads = torch.get_num_threads()  # float32 sums can differ in the last bits with it
        block = provenance(
            model=record.to_dict(), analysis=name, torch_threads=threads, **dict(settings)
        )
        return cls(record, model, tokenizer, block)

    def provenance(self, **extra: Any) -> dict[str, Any]:
        return {**self.block, **extra}

    def release_model(self) -> None:
        """Free the model's memory; the job goes on with its tokenizer (e.g. GD's random-init
        control, a second model as large, is built only after the first is freed)."""
        self.model = None
        gc.collect()


def best_layer_of(sweep_path: str | Path) -> int | None:
    """The task's best layer from its sweep file (:func:`taskvectors.results.files.best_layer`)."""
    return best_layer(read_result_table(sweep_path, "sweep"))
