"""Analyses of the pipeline's results: pure functions over DataFrames, no file access.

The report (``taskvectors.report``) reads the result files and hands plain tables to these
functions, so that every number on the page can be checked against a small hand-made frame in
``tests/test_analysis.py``. One module per question the paper asks:

- ``common``: which prediction column counts, task families and scoring modes;
- ``headline``: the paper's filter and the per-model means of baseline / task vector / ICL;
- ``layers``: best layers, mean curves over depth, the layer used for geometry;
- ``geometry``: cosine distances within and across tasks, t-SNE;
- ``conflicts``: demos of task A with the vector of task B (paper §5);
- ``order``: sensitivity to the order of the demonstrations;
- ``tokens``: top tokens of a task vector;
- ``reference``: the paper's published numbers and the name maps to them.
"""

from taskvectors.analysis.common import (
    prediction_column,
    scoring_mode,
    short_task_name,
    task_family,
)
from taskvectors.analysis.conflicts import conflict_rates
from taskvectors.analysis.geometry import cosine_distances, tsne_embedding, tsne_perplexity
from taskvectors.analysis.headline import model_means, paper_filter, takeaway
from taskvectors.analysis.layers import best_layer, geometry_layer, mean_layer_curve
from taskvectors.analysis.order import order_sensitivity
from taskvectors.analysis.reference import (
    match_paper_model,
    paper_conflicts,
    paper_layer_curves,
    paper_model_means,
    paper_task_results,
)
from taskvectors.analysis.tokens import display_token, top_tokens_at

__all__ = [
    "best_layer",
    "conflict_rates",
    "cosine_distances",
    "display_token",
    "geometry_layer",
    "match_paper_model",
    "mean_layer_curve",
    "model_means",
    "order_sensitivity",
    "paper_conflicts",
    "paper_filter",
    "paper_layer_curves",
    "paper_model_means",
    "paper_task_results",
    "prediction_column",
    "scoring_mode",
    "short_task_name",
    "takeaway",
    "task_family",
    "top_tokens_at",
    "tsne_embedding",
    "tsne_perplexity",
]
