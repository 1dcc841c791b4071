"""The GD stage's compute on a tiny random model: shared orders, the grid choice, the tables.

The model is random, so these tests check the bookkeeping the stage relies on — which examples,
orders and demonstrations each condition sees, which grid point wins, what the distribution
metrics mean — and the invariants that tie GD to the other conditions (a zero learning rate is
the baseline; GD's logits equal to the baseline's give the baseline's KL).
"""

from __future__ import annotations

import string

import pandas as pd
import pytest
import torch

from taskvectors.analyses.gd import ANALYSIS
from taskvectors.analyses.gd.compute import (
    COMPARISON_COLUMNS,
    GDSettings,
    Hyperparameters,
    choose_hyperparameters,
    demo_count_predictions,
    distribution_comparison,
    gd_predictions,
    grid_accuracy,
    grid_predictions,
    kl_divergence,
    order_predictions,
    random_init_comparison,
    random_init_model,
    resampled_examples,
    top_overlap,
)
from taskvectors.engine import patching
from taskvectors.pipeline.config import ConfigError
from taskvectors.results.files import PromptDocument
from taskvectors.tasks.orders import demo_permutations
from taskvectors.tasks.prompts import get_template
from tiny_models import tiny_model

LETTERS = string.ascii_lowercase[:20]


def document(n_dev: int = 3, n_test: int = 4) -> PromptDocument:
    """A prompt document (as in prompts/{model}/{task}.json) for lowercase -> uppercase."""
    examples = []
    for i in range(n_dev + n_test):
        query = LETTERS[i]
        others = [c for c in LETTERS if c != query]
        demos = [[c, c.upper()] for c in others[i : i + 3]]
        examples.append(
            {
                "example_id": i,
                "split": "dev" if i < n_dev else "test",
                "query": query,
                "answers": [query.upper()],
                "demos": demos,
                "dummies": others[i + 3 : i + 5],
            }
        )
    return PromptDocument.from_dict(
        {
            "task": {"name": "to_upper", "scoring": "exact"},
            "template": {"name": "paper", "demonstration": "example:{x}->{y}", "separator": "\n"},
            "settings": {"seed": 41, "n_demos": 3},
            "examples": examples,
        }
    )


SMALL = {"learning_rates": [0.0, 0.01], "epochs": [1, 2], "n_dev": 3, "n_test": 4,
         "chunk_size": 4, "autocast": "none", "patience": None}  # fmt: skip
SETTINGS = GDSettings.from_config(SMALL, seed=41)


@pytest.fixture(scope="module")
def tiny():
    return tiny_model("llama")


def test_orders_start_with_the_identity_and_are_distinct():
    orders = demo_permutations(41, "task", 5, 6)
    assert orders[0] == (0, 1, 2, 3, 4)
    assert len(set(orders)) == 6
    assert all(sorted(order) == [0, 1, 2, 3, 4] for order in orders)
    assert orders == demo_permutations(41, "task", 5, 6)  # seeded, not hash()-dependent
    assert orders != demo_permutations(41, "other", 5, 6)
    assert len(demo_permutations(1, "t", 3, 6)) == 6  # all 3! orders when asked for all
    with pytest.raises(ValueError, match="only 6"):
        demo_permutations(41, "task", 3, 7)


def test_grid_ties_go_to_fewest_epochs_then_smallest_rate():
    doc = document()
    rows = [
        {"example_id": 0, "learning_rate": rate, "epochs": epochs, "first_token": answer}
        for rate, epochs, answer in [
            (0.1, 1, "x"),
            (0.01, 1, "x"),
            (0.1, 2, "A"),
            (0.01, 4, "A"),
            (0.001, 4, "A"),
        ]
    ]
    chosen, table = grid_accuracy(pd.DataFrame(rows), doc)
    assert chosen == Hyperparameters(learning_rate=0.1, epochs=2)
    assert table["is_best"].sum() == 1
    assert list(table.columns) == ["learning_rate", "epochs", "accuracy", "n", "is_best"]


def test_a_zero_rate_in_the_grid_answers_like_the_baseline(tiny):
    model, tokenizer = tiny
    doc = document()
    grid = grid_predictions(model, tokenizer, doc, SETTINGS, max_new_tokens=2)
    assert len(grid) == 3 * 2 * 2  # dev examples x rates x epochs
    assert set(grid["condition"]) == {"gd"} and set(grid["split"]) == {"dev"}
    template = get_template(doc.template)
    prompts = [template.zero_shot_prompt(ex.query) for ex in doc.examples[:3]]
    baseline = patching.decode(
        model, tokenizer, patching.encode(tokenizer, prompts), max_new_tokens=2
    )
    for epochs in (1, 2):
        at_zero = grid[(grid["learning_rate"] == 0.0) & (grid["epochs"] == epochs)]
        assert list(at_zero["answer"]) == baseline.answers


def test_early_stopping_drops_the_later_epochs_of_a_rate_whose_dev_loss_is_flat(tiny):
    model, tokenizer = tiny
    settings = GDSettings.from_config(
        {**SMALL, "learning_rates": [0.0, 0.05], "epochs": [1, 2, 4], "patience": 1}, seed=41
    )
    grid = grid_predictions(model, tokenizer, document(), settings)
    assert set(grid.loc[grid["learning_rate"] == 0.0, "epochs"]) == {1}  # stopped after 1
    assert len(grid[grid["learning_rate"] == 0.0]) == 3
    chosen, table = grid_accuracy(grid, document())
    points = set(zip(table.learning_rate, table.epochs, strict=True))
    assert (chosen.learning_rate, chosen.epochs) in points and (0.0, 2) not in points


def test_early_stopping_with_large_patience_answers_as_the_full_grid(tiny):
    model, tokenizer = tiny
    patient = GDSettings.from_config({**SMALL, "learning_rates": [0.05], "patience": 100}, seed=41)
    full = GDSettings.from_config({**SMALL, "learning_rates": [0.05]}, seed=41)
    stopped = grid_predictions(model, tokenizer, document(), patient)
    plain = grid_predictions(model, tokenizer, document(), full)
    pd.testing.assert_frame_equal(stopped, plain)


def test_choose_hyperparameters_returns_a_grid_point(tiny):
    model, tokenizer = tiny
    chosen, table = choose_hyperparameters(model, tokenizer, document(), SETTINGS)
    assert (chosen.learning_rate, chosen.epochs) in {(r, e) for r in (0.0, 0.01) for e in (1, 2)}
    assert len(table) == 4 and (table["n"] == 3).all()


def test_kl_and_overlap_mean_what_they_say():
    reference = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    other = torch.tensor([[-1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    kl = kl_divergence(reference, other)
    p, q = reference.softmax(-1), other.softmax(-1)
    expected = (p * (p.log() - q.log())).sum(-1)
    torch.testing.assert_close(kl.float(), expected)
    assert kl[0] > 0 and kl[1] == 0
    assert kl_divergence(reference, reference).abs().max() < 1e-12
    assert top_overlap(reference, other, 2)[0] == 0.0
    assert top_overlap(reference, reference, 2).tolist() == [1.0, 1.0]


def test_kl_a_few_rows_at_a_time_equals_all_rows_at_once(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    reference, other = (torch.randn(7, 300, generator=generator) for _ in range(2))
    monkeypatch.setattr("taskvectors.analyses.gd.compute.KL_ROWS", 3)
    few = kl_divergence(reference, other)
    monkeypatch.setattr("taskvectors.analyses.gd.compute.KL_ROWS", 100)
    torch.testing.assert_close(few, kl_divergence(reference, other), rtol=0, atol=1e-12)
    assert kl_divergence(reference[:0], other[:0]).shape == (0,)


def test_distribution_comparison_places_gd_beside_tv_and_baseline(tiny):
    model, tokenizer = tiny
    doc = document()
    test = doc.split("test")
    run = gd_predictions(model, tokenizer, doc, SETTINGS, Hyperparameters(0.0, 1))
    assert list(run.predictions.columns[:7]) == [
        "example_id",
        "split",
        "condition",
        "layer",
        "token_id",
        "first_token",
        "answer",
    ]
    assert run.first_logits.shape == (4, len(tokenizer))
    thetas = torch.randn(4, model.config.hidden_size)
    frame = distribution_comparison(model, tokenizer, doc, test, run.first_logits, thetas, 1)
    assert list(frame.columns) == list(COMPARISON_COLUMNS)
    # GD at rate 0 is the baseline: same distribution, same distance to ICL
    pd.testing.assert_series_equal(
        frame["kl_icl_gd"], frame["kl_icl_baseline"], check_names=False, atol=1e-6
    )
    assert (frame["kl_icl_tv"] != frame["kl_icl_baseline"]).any()  # the patch changes something


def test_order_predictions_pair_icl_and_gd_on_the_same_orders(tiny):
    model, tokenizer = tiny
    doc = document()
    frame = order_predictions(
        model, tokenizer, doc, SETTINGS, Hyperparameters(0.05, 1), n_examples=2, n_permutations=2
    )
    assert len(frame) == 2 * 3 * 2
    counts = frame.groupby(["condition", "permutation"]).size()
    assert set(counts) == {2} and set(frame["permutation"]) == {0, 1, 2}
    icl = frame[frame["condition"] == "icl"]
    assert set(icl["example_id"]) == {3, 4}


def test_demo_counts_resample_fresh_demos_without_the_query(tiny):
    model, tokenizer = tiny
    doc = document()
    test = doc.split("test")
    for k in (1, 4):
        resampled = resampled_examples(doc, test, k)
        assert resampled == resampled_examples(doc, test, k)  # seeded
        for ex in resampled:
            assert len(ex.demos) == k and len(set(ex.demos)) == k
            assert all(x != ex.query and x not in ex.dummies for x, _ in ex.demos)
    frame = demo_count_predictions(
        model, tokenizer, doc, SETTINGS, Hyperparameters(0.01, 1), 1, counts=(1, 4), n_examples=2
    )
    assert len(frame) == 2 * 3 * 2  # counts x conditions x examples
    assert set(frame["condition"]) == {"icl", "tv", "gd"}
    assert set(frame.loc[frame["condition"] == "tv", "layer"]) == {1}


def test_random_init_control_is_tagged_and_leaves_the_global_rng_alone(tiny):
    model, tokenizer = tiny
    state = torch.random.get_rng_state()
    control = random_init_model(model.config, 41, dtype=model.dtype, device=model.device)
    assert torch.equal(state, torch.random.get_rng_state())
    again = random_init_model(model.config, 41, dtype=model.dtype)
    assert all(
        torch.equal(a, b) for a, b in zip(control.parameters(), again.parameters(), strict=True)
    )
    assert not torch.equal(model.lm_head.weight, control.lm_head.weight)
    frame = random_init_comparison(
        control, tokenizer, document(), SETTINGS, Hyperparameters(0.01, 1), 1, n_examples=2
    )
    assert set(frame["model_init"]) == {"random"} and len(frame) == 2
    assert frame[["kl_icl_gd", "kl_icl_tv", "kl_icl_baseline"]].ge(0).all().all()


def test_settings_from_config_ignore_switches_and_build_the_finetune_config():
    settings = GDSettings.from_config(
        {"enabled": True, "learning_rates": [0.1], "epochs": [3], "optimizer": "sgd"}, seed=7
    )
    assert settings.learning_rates == (0.1,) and settings.epochs == (3,)
    assert settings.seed == 7 and settings.finetune_config().seed == 7
    assert settings.finetune_config("sequential").batch == "sequential"
    assert settings.finetune_config().optimizer == "sgd"


def test_settings_take_their_defaults_from_the_schema_alone():
    schema = ANALYSIS.schema["properties"]
    settings = GDSettings.from_config({"n_dev": 3}, seed=41)
    assert settings.n_dev == 3
    assert settings.n_test == schema["n_test"]["default"]
    assert settings.learning_rates == tuple(schema["learning_rates"]["default"])
    assert settings.autocast == schema["autocast"]["default"]
    assert settings.patience == schema["patience"]["default"]
    with pytest.raises(ConfigError, match="n_dev"):
        GDSettings.from_config({"n_dev": 0}, seed=41)
