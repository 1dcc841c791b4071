"""Which function vector (FV) each task gets under every condition, from the files of the
``function_vectors`` analysis (declared in ``reads_analyses``; its code is never imported).

Todd et al.'s FV is the sum of a few *universal* heads' mean outputs, added at one layer of a
zero-shot query. The heads measure where the model carries a task; the means say which task. So
this analysis keeps the function_vectors analysis's heads, k and layer, and takes the means from
each condition's own demonstrations: the FV then asks, like θ(S), what S told the model.

* A task the function_vectors analysis ran on keeps its own choice: the heads, layer and variant
  recorded in its ``<task>.fv.safetensors``.
* Any other task (the novel ones) gets the most common k and the most common layer of those files
  (ties to the smaller), the top-k heads of the universal ranking of the ``<task>.cie.parquet``
  files (every file holds the same one, over the tasks that passed the filter), and their variant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from taskvectors.engine.vectors import VectorArtifact, load_vector
from taskvectors.results.storage import read_table

#: The analysis whose files give the heads, k and layer.
SOURCE = "function_vectors"


@dataclass(frozen=True)
class FunctionVectorChoice:
    """The FV recipe of one task: heads ``(layer, head)`` whose means are summed, the layer the
    sum is added at, the variant (``raw`` / ``normalised``, :func:`taskvectors.engine.vectors.
    function_vector`), and ``source``: ``own`` (the task's FV file) or ``most_common``."""

    heads: tuple[tuple[int, int], ...]
    layer: int
    variant: str
    source: str

    @property
    def k(self) -> int:
        return len(self.heads)


def most_common(values: Iterable[int]) -> int:
    """The most frequent value, the smallest on ties."""
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value))


def universal_ranking(cie_files: Iterable[Path]) -> list[tuple[int, int]]:
    """Every head ``(layer, head)`` by its universal rank (``rank_universal``, 0 first); the
    files must agree, since the function_vectors job writes one ranking into all of them."""
    rankings = []
    for path in cie_files:
        table = read_table(path).sort_values("rank_universal")
        rankings.append([(int(r.layer), int(r.head)) for r in table.itertuples(index=False)])
    if not rankings:
        raise ValueError("no head-effect (cie) file to take the universal heads from")
    if any(ranking != rankings[0] for ranking in rankings[1:]):
        raise ValueError("the cie files disagree on the universal head ranking")
    return rankings[0]


def choose(
    tasks: Sequence[str], artifacts: Mapping[str, VectorArtifact], ranking: Sequence[tuple]
) -> dict[str, FunctionVectorChoice]:
    """Each task's recipe (module docstring) from the FV ``artifacts`` by task and the universal
    head ``ranking``."""
    if not artifacts:
        raise ValueError("no function-vector file to take k and the layer from")
    common_k = most_common(len(a.heads) for a in artifacts.values())
    common_layer = most_common(a.layer for a in artifacts.values())
    variants = Counter(str(a.settings.get("variant", "raw")) for a in artifacts.values())
    common_variant = min(variants, key=lambda v: (-variants[v], v))
    chosen = {}
    for task in tasks:
        own = artifacts.get(task)
        if own is not None:
            variant = str(own.settings.get("variant", "raw"))
            chosen[task] = FunctionVectorChoice(tuple(own.heads), own.layer, variant, "own")
        else:
            heads = tuple(tuple(head) for head in ranking[:common_k])
            chosen[task] = FunctionVectorChoice(heads, common_layer, common_variant, "most_common")
    return chosen


def choices_from_files(
    tasks: Sequence[str],
    reads: Mapping[str, Mapping[str, Mapping[str, Path]]],
    problem: Callable[[VectorArtifact], str | None] = lambda artifact: None,
) -> dict[str, FunctionVectorChoice]:
    """Each task's recipe from the job's ``reads`` (``JobRequest.reads``); empty when the
    function_vectors analysis is not enabled (then the job writes no ``fv`` rows).

    ``problem`` says why a file cannot serve this job's model (e.g. made on another model:
    :func:`taskvectors.engine.vectors.mismatch`); any problem raises ``ValueError``.
    """
    files = reads.get(SOURCE)
    if not files:
        return {}
    artifacts = {task: load_vector(path) for task, path in files["fv"].items()}
    for task, artifact in artifacts.items():
        found = problem(artifact)
        if found:
            raise ValueError(f"{files['fv'][task]}: cannot use this function vector: {found}")
    return choose(tasks, artifacts, universal_ranking(files["cie"].values()))
