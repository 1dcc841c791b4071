"""The function_vectors analysis: its raw-file layout and its scoring on hand-made raw tables
(the compute core is tested in tests/test_function_vectors.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taskvectors.analyses.function_vectors import ANALYSIS
from taskvectors.analyses.function_vectors.job import clipped_ks, passes_filter
from taskvectors.analyses.function_vectors.score import score_tables
from taskvectors.analyses.function_vectors.synthetic import raw_tables as function_vectors_raw
from taskvectors.pipeline.config import load_config
from taskvectors.pipeline.run_plan import RunPlan
from taskvectors.results.layout import Layout
from taskvectors.tasks.registry import load_registry

REPO = Path(__file__).resolve().parents[1]


def test_a_part_with_its_own_extension_keeps_it():
    layout = Layout("results", "reports")
    assert layout.analysis("gd", "m", "t", "dist").endswith("t.dist.parquet")
    assert layout.analysis("function_vectors", "m", "t", "fv.safetensors").endswith(
        "analyses/function_vectors/m/t.fv.safetensors"
    )
    assert layout.analysis("function_vectors", "m", "t").endswith("t.parquet")


def test_the_job_outputs_are_named_by_part_without_extension():
    config = load_config(REPO / "config" / "config.yaml")
    plan = RunPlan(config, load_registry(REPO / "data"))
    outputs = plan.analysis_outputs("function_vectors", "m")
    assert set(outputs) == {"raw", "cie", "geometry", "fv", "tv"}
    assert all(path.endswith(".fv.safetensors") for path in outputs["fv"])
    assert plan.analysis_tasks("function_vectors") == list(plan.tasks)  # every task by default
    assert len(outputs["raw"]) == len(plan.tasks) == 18


def test_ks_are_clipped_to_the_heads_and_deduplicated():
    assert clipped_ks([16, 1, 2, 4, 8], 6) == [1, 2, 4, 6]


@pytest.fixture(scope="module")
def table():
    return score_tables(*function_vectors_raw(), model="m")


def test_the_table_has_the_declared_columns(table):
    assert list(table.columns) == list(ANALYSIS.score_columns)


def test_fv_and_tv_accuracies_are_on_the_same_examples(table):
    acc = table[(table["kind"] == "accuracy") & (table["metric"] == "first_token")]
    row = acc[(acc["task"] == "translation_fr_en")].set_index("condition")
    assert row.loc["fv", "value"] == pytest.approx(0.75)
    assert row.loc["tv", "value"] == pytest.approx(0.5)
    assert row.loc["icl", "value"] == 1.0
    assert set(row.index) == {
        "fv", "fv_task_heads", "icl_shuffled", "icl_shuffled_fv", "tv", "icl", "baseline",
        "majority", "copy",
    }  # fmt: skip
    assert (row["n"] == 20).all()
    assert (row["low"] <= row["value"]).all() and (row["value"] <= row["high"]).all()
    assert row.loc["fv", "k"] == 2 and row.loc["fv", "layer"] == 1


def test_shuffled_icl_and_the_task_heads_fv_are_scored_beside_the_fv(table):
    acc = table[(table["kind"] == "accuracy") & (table["task"] == "algorithmic_to_upper")]
    for metric in ("first_token", "full_answer"):
        row = acc[acc["metric"] == metric].set_index("condition")
        assert row.loc["fv_task_heads", "value"] == pytest.approx(0.5)
        assert row.loc["icl_shuffled", "value"] == pytest.approx(0.8)
        assert row.loc["icl_shuffled_fv", "value"] == pytest.approx(0.9)
        assert row.loc["icl_shuffled", "k"] == -1 and row.loc["icl_shuffled", "layer"] == -1
        assert (row.loc["icl_shuffled_fv", ["k", "layer"]] == [2, 1]).all()
        assert (row.loc["fv_task_heads", ["k", "layer"]] == [2, 1]).all()
        assert (row["low"] <= row["value"]).all() and (row["value"] <= row["high"]).all()
    overall = table[(table["kind"] == "accuracy") & (table["task"] == "overall")]
    shuffled = overall[overall["condition"] == "icl_shuffled"]
    assert set(shuffled["metric"]) == {"first_token", "full_answer"}
    assert (shuffled["n"] == 60).all() and shuffled["value"].eq(0.8).all()


def test_the_paired_conditions_leave_the_curves_to_the_fv(table):
    k = table[(table["kind"] == "k_curve") & (table["task"] == "algorithmic_to_upper")]
    assert sorted(k["k"]) == [1, 2] and (k["n"] == 20).all()


def test_the_head_means_record_how_many_clean_prompts_they_used(table):
    rows = table[table["kind"] == "mean_prompts"].set_index("task")
    kept = rows.loc["algorithmic_to_upper"]
    assert kept["value"] == pytest.approx(0.7) and kept["n"] == 10
    assert kept["low"] < 0.7 < kept["high"]
    assert "7 of 10" in kept["text"]
    fallback = rows.loc["translation_fr_en"]
    assert fallback["value"] == 0 and "none of 10" in fallback["text"]
    assert "all 10" in fallback["text"]


def test_the_paired_difference_and_verdict(table):
    overall = table[(table["kind"] == "fv_minus_tv") & (table["task"] == "overall")].iloc[0]
    assert overall["value"] == pytest.approx(0.25)
    assert overall["n"] == 60
    assert overall["low"] < 0.25 < overall["high"]
    verdict = table[table["kind"] == "verdict"].iloc[0]
    assert verdict["value"] == pytest.approx(0.25)
    assert "function vector" in verdict["text"] and "60 test queries" in verdict["text"]
    if verdict["low"] > 0:
        assert "better than" in verdict["text"]


def test_the_k_curve_and_the_layer_curve(table):
    k = table[(table["kind"] == "k_curve") & (table["task"] == "overall")].set_index("k")
    assert k.loc[2, "value"] == pytest.approx(0.75) and k.loc[1, "value"] == pytest.approx(0.5)
    layers = table[(table["kind"] == "layer_curve") & (table["task"] == "overall")]
    best = layers.loc[layers.groupby("k")["value"].idxmax()]
    assert set(best["layer"]) == {1}
    assert len(layers) == 2 * 4


def test_the_heads_heatmap_top_heads_and_overlap(table):
    mean = table[table["kind"] == "cie_mean"]
    assert len(mean) == 4 * 3
    top = mean.loc[mean["value"].idxmax()]
    assert (top["layer"], top["head"]) == (1, 2)
    families = set(table.loc[table["kind"] == "cie_family", "task"])
    assert families == {"algorithmic", "translation", "knowledge"}
    universal = table[(table["kind"] == "top_head") & (table["task"] == "overall")]
    first = universal[universal["k"] == 1].iloc[0]
    assert (first["layer"], first["head"]) == (1, 2)
    assert "averaged over 2 tasks" in first["text"]  # the third task fails the filter
    overlap = table[(table["kind"] == "head_overlap") & (table["task"] == "overall")].iloc[0]
    assert 0 < overlap["value"] <= 1 and overlap["n"] == 3


def test_geometry_and_filter_rows(table):
    cos = table[(table["kind"] == "cosine") & (table["task"] == "algorithmic_to_upper")]
    assert np.allclose(sorted(cos["value"]), [0.0, 0.1, 0.2, 0.3])
    tokens = table[(table["kind"] == "fv_token") & (table["task"] == "algorithmic_to_upper")]
    assert list(tokens.sort_values("k")["text"]) == [" A", " B", " C"]
    filters = table[table["kind"] == "filter"].set_index("task")
    assert filters.loc["knowledge_country_capital", "text"] == "fails"
    assert filters.loc["algorithmic_to_upper", "value"] == pytest.approx(0.8)


def test_the_paper_filter_needs_icl_clearly_above_the_baseline():
    evals = function_vectors_raw()[3]["translation_fr_en"]
    assert passes_filter(evals)
    same = evals.copy()
    same.loc[same["condition"] == "icl", "correct"] = same.loc[
        same["condition"] == "baseline", "correct"
    ].to_numpy()
    assert not passes_filter(same)


@pytest.mark.parametrize(("arch", "expected"), [("gemma3_text", "normalised"), ("llama", "raw")])
def test_auto_variant_is_normalised_where_the_block_normalises_its_attention(arch, expected):
    from taskvectors.analyses.function_vectors.job import resolve_variant
    from tiny_models import tiny_model

    model, _ = tiny_model(arch)
    assert resolve_variant(model, "auto") == expected
    assert resolve_variant(model, "raw") == "raw"


def test_dev_rows_are_scored_by_first_token_id_and_the_earliest_best_layer_wins():
    import torch

    from taskvectors.analyses.function_vectors.job import earliest_argmax, first_token_hits
    from taskvectors.engine.patching import Decoded
    from taskvectors.results.files import Example

    examples = [
        Example(0, "dev", "a", ("A",), (), (), (7,)),
        Example(1, "dev", "b", ("B",), (), (), (8, 9)),
    ]
    tokens = torch.tensor([[7], [1], [7], [9], [8], [2]])  # 2 examples x 3 layers
    decoded = Decoded(tokens, torch.empty(0), [""] * 6, [""] * 6)
    hits = first_token_hits(decoded, examples, 3)
    assert hits.tolist() == [[True, False, True], [True, True, False]]
    assert earliest_argmax(hits.mean(0)) == 0
    assert earliest_argmax(np.zeros(3)) is None


def test_the_cie_schedule_is_the_forwards_indirect_effects_runs():
    """The GPU projection counts forwards from ``cie_chunks``: one prefix and one single-token
    forward per chunk, as ``indirect_effects`` runs them."""
    import torch

    from taskvectors.engine.heads import (
        cie_chunks,
        head_shape,
        indirect_effects,
        mean_head_activations,
    )
    from tiny_models import tiny_model

    model, tokenizer = tiny_model("llama")
    shape = head_shape(model)
    n_variants = shape.n_layers * shape.n_heads + 1
    prompts = ["Q: ab\nA: cd\n\nQ: ef\nA:", "Q: gh\nA: ij\n\nQ: kl\nA:", "Q: mn\nA:"]
    means = mean_head_activations(model, tokenizer, prompts)
    calls = []
    hook = model.base_model.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        for batch_rows in (5, n_variants, 2 * n_variants + 1, 10_000):
            calls.clear()
            indirect_effects(model, tokenizer, prompts, [3, 4, 5], means, batch_rows=batch_rows)
            chunks = cie_chunks(len(prompts), n_variants, batch_rows)
            assert len(calls) == 2 * len(chunks)
            covered = torch.cat([torch.arange(r.start, r.stop) for r in chunks])
            assert covered.tolist() == list(range(len(prompts) * n_variants))
    finally:
        hook.remove()


def test_the_gpu_projection_follows_the_cost_model():
    from taskvectors.analyses.function_vectors.bench import Architecture, Gpu, cie_cost

    arch = Architecture("toy", n_layers=2, n_heads=3, d_model=4, block_params=100, vocab=10)
    gpu = Gpu("toy", flops=1e3, bandwidth=1e9)  # compute-bound: seconds are FLOPs / 1000
    c, v, tokens, n = 200, 80, 9, 4
    whole = cie_cost(arch, n, tokens, batch_rows=100, gpu=gpu)  # every prompt in one chunk
    assert whole["forwards"] == 2
    assert whole["flops"] == n * ((tokens - 1) * c + 7 * (c + v))
    assert whole["seconds"] == pytest.approx(whole["flops"] / 1e3)
    assert whole["naive_forwards"] == n * 7
    assert whole["naive_flops"] == n * 7 * (tokens * c + v)
    split = cie_cost(arch, n, tokens, batch_rows=3, gpu=gpu)  # prompts split over chunks
    assert split["forwards"] == 2 * 10  # ceil(28 / 3) chunks
    assert split["flops"] > whole["flops"]  # prefixes run again in each chunk they touch
    slow_memory = Gpu("toy", flops=1e30, bandwidth=1.0)  # memory-bound: every forward reads
    bound = cie_cost(arch, n, tokens, batch_rows=100, gpu=slow_memory)
    assert bound["seconds"] == pytest.approx(2 * arch.weight_bytes)


def test_what_the_fv_adds_to_shuffled_icl_is_a_paired_difference(table):
    gains = table[table["kind"] == "shuffled_fv_gain"].set_index("task")
    task = gains.loc["algorithmic_to_upper"]
    assert task["value"] == pytest.approx(0.1) and task["n"] == 20  # 0.9 with, 0.8 without
    assert task["low"] <= 0.1 <= task["high"]
    overall = gains.loc["overall"]
    assert overall["value"] == pytest.approx(0.1) and overall["n"] == 60
