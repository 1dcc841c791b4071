"""The function_vectors job's steps on a tiny model: the clean means' counts, the per-task heads'
function vector, and shuffled-label ICL without and with the function vector.

The job's predictions are raw greedy tokens, so each condition is checked against an independent
decoding of what it claims to be (a full forward of the same prompt, patched or not).
"""

from __future__ import annotations

import pytest
import torch

from taskvectors.analyses.function_vectors.job import (
    TaskHeads,
    cie_table,
    paired_conditions,
    task_heads,
    task_vectors,
)
from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.engine import heads as fh
from taskvectors.engine import patching
from taskvectors.engine import vectors as fv
from taskvectors.results.files import Example, PromptDocument
from taskvectors.tasks.prompts import get_template
from tiny_models import tiny_model

TEMPLATE = get_template("paper")
SEED = 41
TASK = "algorithmic_to_upper"
WORDS = ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st", "uv", "wx"]
EVALUATION = {"batch_rows": 64, "max_answer_tokens": 3}
SETTINGS = {"n_mean": 3, "n_cie": 2, "n_dev": 2, "n_test": 3, "curve": "largest_k"}


def document(tokenizer) -> PromptDocument:
    """Three dev and three test examples of a to-upper task, four demonstrations each."""
    examples = []
    for example_id in range(6):
        demos = tuple(
            (WORDS[(example_id + j) % len(WORDS)], WORDS[(example_id + j) % len(WORDS)].upper())
            for j in range(1, 5)
        )
        query = WORDS[example_id]
        prompt = TEMPLATE.icl_prompt(list(demos), query)
        first = fh.answer_first_tokens(tokenizer, TEMPLATE, [prompt], [query.upper()])
        examples.append(
            Example(
                example_id,
                "dev" if example_id < 3 else "test",
                query,
                (query.upper(),),
                demos,
                (),
                tuple(first),
            )  # fmt: skip
        )
    return PromptDocument(
        task={"name": TASK, "scoring": "exact"}, template="paper", settings={"seed": SEED},
        filter={}, splits={}, examples=tuple(examples),
    )  # fmt: skip


@pytest.fixture(scope="module", params=["llama", "gemma3_text"])
def setup(request):
    model, tokenizer = tiny_model(request.param)
    return AnalysisJob(None, model, tokenizer, {}), document(tokenizer)


def shuffled_prompts(doc: PromptDocument) -> list[str]:
    """The test queries' ICL prompts with their demonstration outputs shuffled, built here."""
    return [
        TEMPLATE.icl_prompt(
            list(fh.shuffled_outputs(ex.demos, SEED, TASK, ex.example_id)), ex.query
        )
        for ex in doc.split("test")
    ]


def greedy(job: AnalysisJob, prompts: list[str]) -> patching.Decoded:
    """Plain greedy answers, one full forward per prompt batch (no prefix cache)."""
    batch = patching.encode(job.tokenizer, prompts)
    return patching.decode(job.model, job.tokenizer, batch, max_new_tokens=3)


def by_condition(frames) -> dict:
    table = {frame["condition"].iloc[0]: frame for frame in frames}
    assert set(table) == {"fv_task_heads", "icl_shuffled", "icl_shuffled_fv"}
    return table


def test_a_zero_function_vector_leaves_shuffled_icl_as_it_is(setup):
    job, doc = setup
    test = doc.split("test")
    zero = torch.zeros(job.model.config.get_text_config().hidden_size)
    rows = by_condition(paired_conditions(job, doc, test, zero, zero, 2, 1, EVALUATION))
    plain, added = rows["icl_shuffled"], rows["icl_shuffled_fv"]
    reference = greedy(job, shuffled_prompts(doc))
    assert plain["token_id"].tolist() == reference.tokens[:, 0].tolist()
    assert plain["answer"].tolist() == reference.answers
    assert added["token_id"].tolist() == plain["token_id"].tolist()
    assert added["answer"].tolist() == plain["answer"].tolist()
    assert plain["example_id"].tolist() == added["example_id"].tolist() == [3, 4, 5]
    assert (plain["layer"] == -1).all() and (added["layer"] == 1).all() and (added["k"] == 2).all()


def test_shuffled_icl_with_the_fv_adds_it_at_the_layer_at_the_last_token(setup):
    job, doc = setup
    test = doc.split("test")
    torch.manual_seed(0)
    vector = torch.randn(job.model.config.get_text_config().hidden_size) * 5
    zero = torch.zeros_like(vector)
    rows = by_condition(paired_conditions(job, doc, test, vector, zero, 2, 1, EVALUATION))
    prompts = shuffled_prompts(doc)
    n_layers = len(fh.output_projections(job.model))
    reference = patching.sweep_layers_naive(
        job.model, job.tokenizer, prompts, vector.expand(len(prompts), n_layers, -1), [1],
        include_unpatched=False, max_new_tokens=3, add=True,
    )  # fmt: skip
    assert rows["icl_shuffled_fv"]["token_id"].tolist() == reference.tokens[:, 0].tolist()
    assert rows["icl_shuffled_fv"]["answer"].tolist() == reference.answers
    # the zero own-heads vector: the zero-shot queries answered as they are
    zero_shot = greedy(job, [TEMPLATE.zero_shot_prompt(ex.query) for ex in test])
    assert rows["fv_task_heads"]["answer"].tolist() == zero_shot.answers


def heads_of(job: AnalysisJob, cie: torch.Tensor) -> TaskHeads:
    means = fh.mean_head_activations(job.model, job.tokenizer, ["Q: ab\nA: AB\n\nQ: cd\nA:"])
    return TaskHeads(fh.CleanMeans(means, 1, 1, 1), cie, 2)


def universal_effect(job: AnalysisJob) -> torch.Tensor:
    shape = fh.head_shape(job.model)
    return torch.arange(shape.n_layers * shape.n_heads, dtype=torch.float32).reshape(
        shape.n_layers, shape.n_heads
    ) % 5 + torch.linspace(0, 0.1, shape.n_layers * shape.n_heads).reshape(
        shape.n_layers, shape.n_heads
    )  # fmt: skip


def test_the_task_heads_fv_is_the_universal_fv_when_the_rankings_agree(setup):
    job, doc = setup
    universal = universal_effect(job)
    ranked = fh.top_heads(universal, 2)
    found = task_vectors(
        job, doc, heads_of(job, universal.clone()), ranked, [1, 2], SETTINGS, "raw", EVALUATION
    )
    table = found.predictions
    own = table[table["condition"] == "fv_task_heads"].reset_index(drop=True)
    chosen = table[table["chosen"] & (table["split"] == "test")].reset_index(drop=True)
    assert found.own_heads == ranked[: found.k]
    assert len(own) == len(chosen) == SETTINGS["n_test"]
    assert own["answer"].tolist() == chosen["answer"].tolist()
    assert own["token_id"].tolist() == chosen["token_id"].tolist()
    assert (own["k"] == found.k).all() and (own["layer"] == found.layer).all()
    assert set(table["condition"]) == {"fv", "fv_task_heads", "icl_shuffled", "icl_shuffled_fv"}
    assert not table.loc[table["condition"] != "fv", "chosen"].any()


def test_the_task_heads_fv_uses_the_tasks_own_ranking(setup):
    job, doc = setup
    universal = universal_effect(job)
    ranked = fh.top_heads(universal, 2)
    own_effect = -universal  # the task ranks the heads the other way round
    found = task_vectors(
        job, doc, heads_of(job, own_effect), ranked, [1, 2], SETTINGS, "raw", EVALUATION
    )
    assert found.own_heads == fh.top_heads(own_effect, found.k)
    assert set(found.own_heads).isdisjoint(ranked[: found.k])
    own = found.predictions[found.predictions["condition"] == "fv_task_heads"]
    vector = fv.function_vector(job.model, heads_of(job, own_effect).means, found.own_heads)
    zero_shot = [TEMPLATE.zero_shot_prompt(ex.query) for ex in doc.split("test")]
    reference = fv.add_vector(
        job.model, job.tokenizer, zero_shot, vector, [found.layer], max_new_tokens=3
    )
    assert own["answer"].tolist() == reference.answers


def test_the_cie_table_records_the_clean_prompts_the_means_used(setup):
    job, doc = setup
    heads = task_heads(job, doc, SETTINGS)
    assert heads.clean.n_prompts == SETTINGS["n_mean"]
    assert heads.clean.n_used == (heads.clean.n_correct or SETTINGS["n_mean"])
    table = cie_table(heads, heads.cie, True)
    counts = table[["n_mean_prompts", "n_mean_correct", "n_mean_used"]].drop_duplicates()
    assert counts.values.tolist() == [
        [heads.clean.n_prompts, heads.clean.n_correct, heads.clean.n_used]
    ]
