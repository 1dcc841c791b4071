"""Stage 1, ``prepare_model``: resolve a model alias to local weights and describe it.

Embedded models are converted once into the model cache, hub models are downloaded at their pinned
revision, local folders are checked. The record written here (``models/{model}.json``) is what
every later stage loads from, so a change of revision or dtype reruns exactly that model's jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taskvectors.engine.models import ModelRecord, ModelSpec, default_cache_dir, resolve_model
from taskvectors.results.provenance import provenance
from taskvectors.results.storage import read_json, write_json


def prepare_model(
    alias: str, entry: Mapping[str, Any], out_path: Path, cache_dir: Path | None = None
) -> ModelRecord:
    """Resolve ``alias`` (config ``entry``); write its record with provenance to ``out_path``."""
    record = resolve_model(ModelSpec.from_config(alias, entry), cache_dir or default_cache_dir())
    document = record.to_dict()
    document["provenance"] = provenance(model=document, config_entry=dict(entry))
    write_json(out_path, document)
    return record


def read_model_record(path: Path) -> ModelRecord:
    """The record a ``prepare_model`` job wrote."""
    return ModelRecord.from_dict(read_json(path))
