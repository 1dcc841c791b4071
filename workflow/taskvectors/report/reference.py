"""The paper's published numbers and the explicit maps from its names to ours.

The CSVs live in ``data/reference/`` (see its README); this module only turns their frames into
the shapes the report compares against. Names are mapped by hand-written tables, never guessed
from spelling, so that a new model alias never silently picks up the wrong paper row.
"""

from __future__ import annotations

import re

import pandas as pd

from taskvectors.report.headline import model_means, paper_filter

# Our registry's task names → the paper's released results table.
PAPER_TASK_NAMES = {
    "algorithmic_list_first": "List first",
    "algorithmic_list_last": "List last",
    "algorithmic_next_letter": "Next letter",
    "algorithmic_prev_letter": "Prev letter",
    "algorithmic_to_lower": "To lower",
    "algorithmic_to_upper": "To upper",
    "translation_en_es": "En es",
    "translation_en_fr": "En fr",
    "translation_es_en": "Es en",
    "translation_fr_en": "Fr en",
    "linguistic_antonyms": "Antonyms",
    "linguistic_plural_singular": "Plural singular",
    "linguistic_present_simple_gerund": "Present simple gerund",
    "linguistic_present_simple_past_simple": "Present simple past simple",
    "knowledge_country_capital": "Country capital",
    "knowledge_location_continent": "Location continent",
    "knowledge_location_religion": "Location religion",
    "knowledge_person_language": "Person language",
}

# Model names of the per-layer file → those of the main results table.
PAPER_LAYER_MODELS = {"gpt-j_6B": "GPT-J 6B", "llama_7B": "LLaMA 7B", "pythia_6.9B": "Pythia 6.9B"}

PAPER_MODELS = (
    "Pythia 2.8B",
    "Pythia 6.9B",
    "Pythia 12B",
    "GPT-J 6B",
    "LLaMA 7B",
    "LLaMA 13B",
    "LLaMA 30B",
)

# Conflicting tasks, LLaMA 13B, 4 demos of A with θ_B patched at B's best layer.
# Source: Hendel et al. 2023, §5 and the authors' outputs/figures/overriding_results_llama_13B.tex
# (rates at which the prediction is A's or B's answer, under ICL and under the patched θ_B).
PAPER_CONFLICTS_MODEL = "LLaMA 13B"
PAPER_CONFLICTS_LLAMA_13B = (
    # (task A: demos, task B: vector, ICL→A, ICL→B, TV→A, TV→B)
    ("algorithmic_next_letter", "algorithmic_to_upper", 0.91, 0.00, 0.10, 0.77),
    ("algorithmic_list_last", "algorithmic_list_first", 0.95, 0.05, 0.20, 0.78),
    ("algorithmic_prev_letter", "algorithmic_next_letter", 0.51, 0.14, 0.08, 0.74),
    (
        "linguistic_present_simple_past_simple",
        "linguistic_present_simple_gerund",
        0.98,
        0.00,
        0.01,
        0.97,
    ),
    ("translation_en_es", "translation_en_fr", 0.93, 0.04, 0.91, 0.07),
)

_OURS_FROM_PAPER = {paper: ours for ours, paper in PAPER_TASK_NAMES.items()}


_DERIVATIVE = re.compile(r"dedup|instruct|chat|code|tiny|vicuna|alpaca|open-?llama|gpt-?jt")
_LLAMA_VERSION = re.compile(r"llama-?\d+(?:\.\d+)?(?!\.?\d*b)")  # llama-2-7b, llama3.1-8b


def _normalise(name: str) -> str:
    return re.sub(r"[\s_/]+", "-", name.strip().lower())


def match_paper_model(*names: str | None) -> str | None:
    """The paper model that one of ``names`` (alias, HF repo id, ...) denotes, or None.

    GPT-J matches with or without its size (the paper has only the 6B); Pythia and LLaMA need the
    size (``pythia-6.9b``, ``huggyllama/llama-7b``; LLaMA-1 33B is the paper's "30B"). Deduped
    Pythia, LLaMA 2/3, and fine-tunes or look-alikes are different models and never match.
    """
    for name in names:
        if not name:
            continue
        s = _normalise(name)
        if _DERIVATIVE.search(s):
            continue
        if re.search(r"(?<![a-z])gpt-?j(?![a-z])", s):
            return "GPT-J 6B"
        size = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)b(?![a-z])", s)
        if not size:
            continue
        if re.search(r"(?<![a-z])pythia", s):
            model = f"Pythia {size.group(1)}B"
        elif re.search(r"(?<![a-z])llama", s) and not _LLAMA_VERSION.search(s):
            model = f"LLaMA {'30' if size.group(1) == '33' else size.group(1)}B"
        else:
            continue
        if model in PAPER_MODELS:
            return model
    return None


def paper_task_results(reference: pd.DataFrame) -> pd.DataFrame:
    """The paper's main results in our column names: ``paper_model, task, category, baseline, tv,
    icl`` with ``task`` in our naming (rows of tasks we have no name for are dropped)."""
    frame = reference.rename(
        columns={"model": "paper_model", "hypothesis_tv": "tv", "regular_icl": "icl"}
    )
    frame["task"] = frame["task"].map(_OURS_FROM_PAPER)
    frame = frame.dropna(subset=["task"])
    return frame[["paper_model", "task", "category", "baseline", "tv", "icl"]].reset_index(
        drop=True
    )


def paper_model_means(reference: pd.DataFrame) -> pd.DataFrame:
    """The paper's per-model means after its own filter (the bars of its Fig. 4)."""
    results = paper_task_results(reference).rename(columns={"paper_model": "model"})
    kept, _ = paper_filter(results)
    order = [m for m in PAPER_MODELS if m in set(kept["model"])]
    return model_means(kept, model_order=order)


def paper_layer_curves(by_layer: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's dev accuracy per layer in long form, and its mean over tasks per model.

    Returns:
        ``(per_task, mean)``: ``paper_model, task, layer, depth, accuracy[, is_best]`` per task,
        and ``paper_model, layer, depth, accuracy, n_tasks`` averaged over tasks.
    """
    layer_columns = [c for c in by_layer.columns if re.fullmatch(r"L\d+", c)]
    long = by_layer.melt(
        id_vars=["model", "task", "n_layers", "best_layer_0idx"],
        value_vars=layer_columns,
        var_name="column",
        value_name="accuracy",
    ).dropna(subset=["accuracy"])
    long["layer"] = long["column"].str[1:].astype(int)
    long = long[long["layer"] < long["n_layers"]]
    long["paper_model"] = long["model"].map(PAPER_LAYER_MODELS).fillna(long["model"])
    long["depth"] = long["layer"] / (long["n_layers"] - 1)
    long["is_best"] = long["layer"] == long["best_layer_0idx"]
    per_task = long.sort_values(["paper_model", "task", "layer"])[
        ["paper_model", "task", "layer", "depth", "accuracy", "is_best"]
    ].reset_index(drop=True)
    mean = (
        per_task.groupby(["paper_model", "layer"], sort=True)
        .agg(depth=("depth", "first"), accuracy=("accuracy", "mean"), n_tasks=("task", "nunique"))
        .reset_index()
    )
    return per_task, mean


def paper_conflicts() -> pd.DataFrame:
    """``PAPER_CONFLICTS_LLAMA_13B`` as a frame: ``task_a, task_b, icl_to_a, icl_to_b, tv_to_a,
    tv_to_b``."""
    columns = ["task_a", "task_b", "icl_to_a", "icl_to_b", "tv_to_a", "tv_to_b"]
    return pd.DataFrame(PAPER_CONFLICTS_LLAMA_13B, columns=columns)
