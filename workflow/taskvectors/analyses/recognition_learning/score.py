"""Scoring of the recognition/learning analysis: its raw files into one long score table.

Per task × condition (``docs``: the analysis's README section), with ``method`` icl / tv / fv
(when the job had function vectors) / baseline and ``target`` condition (the condition's own
answer) or gold:

* ``accuracy`` (test, Wilson interval); ``accuracy_shown``: ICL on the examples whose target some
  demonstration shows (what S can teach under ``abstract``);
* ``sweep`` (dev, TV per layer against the condition's target) and ``best_layer`` (its earliest
  argmax, the layer of the test TV rows);
* ``diff_vs_gold``: accuracy against the condition's target minus gold's, paired by query;
* ``above_baseline``: accuracy against gold minus the zero-shot baseline's, paired — *recognition*
  when the condition is shuffled or random and the interval is above 0;
* ``above_chance``: accuracy against the condition's target minus chance (1 / the number of
  distinct targets of the task's test queries), paired with it — *learning* when the condition is
  abstract, or the task is novel, and the interval is above 0.

``task = "overall"`` rows pool the queries of the familiar tasks (family ``familiar``) or of the
novel ones (``novel``) for the two verdict metrics. Bootstrap seeds come from ``derived_seed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from taskvectors.analyses.recognition_learning import ANALYSIS
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.analyses.tables import accuracy_table, score_table
from taskvectors.results.files import read_result_table
from taskvectors.scoring.answers import answer_column, is_correct
from taskvectors.scoring.evaluation import earliest_best_layer
from taskvectors.scoring.stats import paired_bootstrap
from taskvectors.seeding import derived_seed

NOVEL_FAMILY = "novel"
RECOGNITION = ("shuffled", "random")
LEARNING = ("abstract",)
#: The methods compared with gold, the baseline and chance (``fv`` only when the raw rows have it).
METHODS = ("icl", "tv", "fv")
#: The methods whose test rows are patched at a layer (the table keeps it).
PATCHED = ("tv", "fv")
NO_LAYER = -1
#: (verdict when the interval is above 0, verdict otherwise).
VERDICTS = {
    "recognition": ("recognition", "no recognition shown"),
    "learning": ("learning", "no learning shown"),
    "above baseline": ("above baseline", "not above baseline"),
    "above chance": ("above chance", "not above chance"),
}


def scored_rows(raw: pd.DataFrame, column: str) -> pd.DataFrame:
    """The raw rows with ``hit_target`` and ``hit_gold`` (dev TV rows score the first token, as
    the main sweep does; test rows score ``column``)."""
    rows = raw.copy()
    dev = rows["split"] == "dev"
    rows["prediction"] = np.where(dev, rows["first_token"], rows[column])
    rows["prediction"] = rows["prediction"].fillna("").astype(str)
    for name in ("target", "gold"):
        rows[f"hit_{name}"] = [
            is_correct(p, list(answers), mode)
            for p, answers, mode in zip(
                rows["prediction"], rows[name], rows["scoring"], strict=True
            )
        ]
    targets = rows[rows["split"] == "test"].groupby(["task", "condition"])["target"]
    distinct = targets.agg(lambda t: len({tuple(a)[0] for a in t}))
    rows["chance"] = [
        1.0 / distinct.get((t, c), 1) for t, c in zip(rows["task"], rows["condition"], strict=True)
    ]
    return rows


def _long(table: pd.DataFrame, **fields) -> pd.DataFrame:
    frame = table.rename(columns={"accuracy": "value"}).assign(**fields)
    return frame


def accuracy_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """``accuracy`` per (task, condition, method, target), ``accuracy_shown`` for ICL, ``sweep``
    per dev layer and ``best_layer``."""
    keys = ["task", "family", "condition", "method"]
    test = rows[rows["split"] == "test"]
    frames = []
    for target in ("target", "gold"):
        table = accuracy_table(test, [*keys, "layer"], f"hit_{target}")
        name = "condition" if target == "target" else "gold"
        frames.append(_long(table, target=name, metric="accuracy"))
    shown = test[(test["method"] == "icl") & test["target_shown"].astype(bool)]
    if len(shown):
        table = accuracy_table(shown, [*keys, "layer"], "hit_target")
        frames.append(_long(table, target="condition", metric="accuracy_shown"))
    dev = rows[(rows["split"] == "dev") & (rows["method"] == "tv")]
    sweep = _long(accuracy_table(dev, [*keys, "layer"], "hit_target"), metric="sweep")
    frames.append(sweep.assign(target="condition"))
    frames.append(best_layer_rows(sweep))
    table = pd.concat(frames, ignore_index=True)
    table["layer"] = table["layer"].where(table["method"].isin(PATCHED), NO_LAYER)
    chance = rows.groupby(["task", "condition"])["chance"].first()
    table["chance"] = [
        chance[(t, c)] for t, c in zip(table["task"], table["condition"], strict=True)
    ]
    return table.assign(verdict="")


def best_layer_rows(sweep: pd.DataFrame) -> pd.DataFrame:
    """``best_layer`` per (task, condition): the earliest dev argmax (NaN when all are 0)."""
    records = []
    for (task, family, condition), group in sweep.groupby(["task", "family", "condition"]):
        layer = earliest_best_layer(group["layer"].tolist(), group["value"].tolist())
        records.append(
            {"task": task, "family": family, "condition": condition, "method": "tv",
             "target": "condition", "metric": "best_layer", "n": int(group["n"].iloc[0]),
             "layer": NO_LAYER if layer is None else layer,
             "value": np.nan if layer is None else float(layer), "low": np.nan, "high": np.nan}
        )  # fmt: skip
    return pd.DataFrame(records)


def _hits(rows: pd.DataFrame, condition: str, method: str, hit: str) -> pd.Series:
    """Test hits of one condition and method indexed by (task, example_id)."""
    chosen = rows[(rows["condition"] == condition) & (rows["method"] == method)]
    chosen = chosen[chosen["split"] == "test"]
    return chosen.set_index(["task", "example_id"])[hit].astype(float)


def paired_row(
    a: pd.Series, b: pd.Series, *, key: tuple, metric: str, target: str, verdicts: tuple[str, str]
) -> dict:
    """``mean(a) − mean(b)`` over their common queries with its paired bootstrap interval; the
    first verdict when the interval is above 0, the second otherwise."""
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
    task, family, condition, method = key
    interval = paired_bootstrap(
        joined["a"].to_numpy(), joined["b"].to_numpy(),
        seed=derived_seed("recognition_learning", metric, task, condition, method),
    )  # fmt: skip
    verdict = verdicts[0] if interval.n and interval.low > 0 else verdicts[1]
    return {
        "task": task, "family": family, "condition": condition, "method": method,
        "target": target, "metric": metric, "layer": NO_LAYER, "value": interval.estimate,
        "low": interval.low, "high": interval.high, "n": interval.n, "verdict": verdict,
    }  # fmt: skip


def comparison_rows(rows: pd.DataFrame, key: tuple, tasks: list[str], novel: bool) -> list[dict]:
    """``diff_vs_gold``, ``above_baseline`` and ``above_chance`` of one (task or pool, condition,
    method); ``tasks``: the tasks pooled."""
    _, _, condition, method = key
    part = rows[rows["task"].isin(tasks)]
    target, gold = (
        _hits(part, condition, method, "hit_target"),
        _hits(part, condition, method, "hit_gold"),
    )
    chance = _hits(part, condition, method, "chance")
    records = []
    if condition != "gold" and (part["condition"] == "gold").any():
        reference = _hits(part, "gold", method, "hit_gold")
        verdicts = ("above gold", "not above gold")
        records.append(paired_row(target, reference, key=key, metric="diff_vs_gold",
                                  target="condition", verdicts=verdicts))  # fmt: skip
    baseline = _hits(part, condition, "baseline", "hit_gold")
    named = (condition in RECOGNITION or condition == "gold") and not novel
    verdicts = VERDICTS["recognition" if named else "above baseline"]
    records.append(paired_row(gold, baseline, key=key, metric="above_baseline", target="gold",
                              verdicts=verdicts))  # fmt: skip
    verdicts = VERDICTS["learning" if condition in LEARNING or novel else "above chance"]
    records.append(paired_row(target, chance, key=key, metric="above_chance",
                              target="condition", verdicts=verdicts))  # fmt: skip
    return records


def _methods(rows: pd.DataFrame) -> list[str]:
    """The compared methods these rows have (``fv`` is absent without function vectors)."""
    present = set(rows["method"])
    return [method for method in METHODS if method in present]


def comparisons(rows: pd.DataFrame) -> pd.DataFrame:
    """The paired rows per task and for the familiar and novel pools, for each method the rows
    have."""
    records = []
    for (task, family, condition), group in rows.groupby(["task", "family", "condition"]):
        for method in _methods(group):
            key = (task, family, condition, method)
            records += comparison_rows(rows, key, [task], family == NOVEL_FAMILY)
    families = rows.groupby("task")["family"].first()
    for pool, novel in (("familiar", False), ("novel", True)):
        tasks = [t for t, f in families.items() if (f == NOVEL_FAMILY) == novel]
        part = rows[rows["task"].isin(tasks)]
        for condition in part["condition"].drop_duplicates():
            for method in _methods(part[part["condition"] == condition]):
                key = ("overall", pool, condition, method)
                records += comparison_rows(part, key, tasks, novel)
    table = pd.DataFrame(records)
    table["chance"] = np.nan
    return table


def score_recognition_learning(raw: Mapping[str, Path], column: str) -> pd.DataFrame:
    """The analysis's long score table (``ANALYSIS.score_columns``) from its raw files."""
    frames = [read_result_table(path) for path in raw.values()]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return score_table(ANALYSIS.score_columns, [])
    rows = scored_rows(pd.concat(frames, ignore_index=True), column)
    table = score_table(ANALYSIS.score_columns, [accuracy_rows(rows), comparisons(rows)])
    return table.astype({"layer": "int64", "n": "int64"})


def score(request: ScoreRequest) -> pd.DataFrame:
    return score_recognition_learning(
        request.raw[""], answer_column(request.config["evaluation"]["answer"])
    )
