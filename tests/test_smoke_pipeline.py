"""The smoke pipeline end to end on the embedded Gemma 3 270M (config/smoke.yaml).

Runs the real workflow in a temporary working directory (so it never locks or overwrites the
repository's own runs) and checks that the paper's effect is visible even at 10 test prompts:
ICL beats the zero-shot baseline, and the patched task vector recovers part of that gain.
"""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_smoke_summary_shows_the_task_vector_effect(smoke_run):
    summary = pd.read_csv(smoke_run / "results" / "smoke" / "summary.csv")
    assert sorted(summary["category"]) == ["algorithmic", "knowledge", "linguistic", "translation"]
    assert summary["n_test"].eq(10).all()
    assert summary["n_layers"].eq(18).all()
    means = summary[["baseline", "icl", "tv"]].mean()
    assert means["icl"] - means["baseline"] >= 0.2, means
    assert means["tv"] - means["baseline"] >= 0.1, means
    assert summary["best_layer"].between(1, 16).all()


def test_smoke_report_is_written(smoke_run):
    page = smoke_run / "reports" / "smoke" / "index.html"
    assert page.exists()
    assert "gemma-3-270m" in page.read_text(encoding="utf-8")
    assert list((smoke_run / "reports" / "smoke" / "figures").glob("*.png"))
    scores = smoke_run / "results" / "smoke" / "scores"
    expected = {"geometry", "top_tokens", "order", "prompt_format"}
    assert {p.name for p in scores.iterdir()} >= expected


def test_smoke_uses_the_papers_spacing_and_records_it(smoke_run):
    summary = pd.read_csv(smoke_run / "results" / "smoke" / "summary.csv").set_index("task")
    assert summary.loc["translation_fr_en", "spacing"] == "leading"
    assert summary.loc["knowledge_country_capital", "spacing"] == "none"
    assert (summary["n_queries"] <= summary["n_test"]).all()
    for condition in ("icl", "tv", "majority", "copy"):
        assert (summary[f"{condition}_low"] <= summary[condition]).all()
