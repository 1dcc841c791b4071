"""Reading and writing result files: Parquet tables and JSON documents with provenance.

One place decides how results are stored, so that every stage writes the same way: Parquet with
zstd compression and the provenance block in the file's key-value metadata (key ``taskvectors``),
JSON with sorted keys and the provenance under ``provenance``. Writes are atomic (a temporary file
renamed into place), so an interrupted job never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PROVENANCE_KEY = b"taskvectors"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """Write a JSON document deterministically (sorted keys, two-space indent, trailing newline)."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_table(
    path: str | os.PathLike,
    table: pa.Table | pd.DataFrame,
    provenance: dict[str, Any],
    row_group_size: int | None = None,
) -> None:
    """Write a table to Parquet with its provenance in the file metadata."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata.pop(b"pandas", None)
    metadata[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    table = table.replace_schema_metadata(metadata)
    float_lists = [
        f"{field.name}.list.element"
        for field in table.schema
        if pa.types.is_fixed_size_list(field.type) and pa.types.is_floating(field.type.value_type)
    ]
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=row_group_size,
            use_byte_stream_split=float_lists or False,
            use_dictionary=[
                f.name for f in table.schema if not pa.types.is_fixed_size_list(f.type)
            ],
        )


def read_table(path: str | os.PathLike, **filters: Any) -> pd.DataFrame:
    """Read a Parquet result file; ``column=value`` keyword filters are pushed down."""
    expr = [(column, "==", value) for column, value in filters.items()] or None
    return pq.read_table(path, filters=expr).to_pandas()


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance block stored in a Parquet file's metadata."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[PROVENANCE_KEY])


def vectors_column(vectors: np.ndarray) -> pa.FixedSizeListArray:
    """A ``fixed_size_list<float32>[d]`` column from a ``(rows, d)`` array."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows, width = vectors.shape
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), width)


def column_vectors(table: pd.DataFrame, column: str = "hidden") -> np.ndarray:
    """The ``(rows, d)`` float32 array behind a fixed-size-list column read into pandas."""
    if len(table) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(table[column].to_numpy()).astype(np.float32, copy=False)
