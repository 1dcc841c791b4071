"""The fine-tuning engine on tiny random models: exact baseline at rate 0, learning, no leakage.

Each property is one the ICL-versus-GD comparison relies on: a job's answers must come from its own
demonstrations only (not from which jobs shared its batch, or in what order they ran), batched
per-example adapters must be the same computation as training one example alone, and the base
model must come out of fine-tuning exactly as it went in.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from taskvectors import engine
from taskvectors.finetune import (
    FinetuneConfig,
    TrainingJob,
    attention_projections,
    demo_tokens,
    finetune_and_answer,
)
from taskvectors.prompts import get_template
from tiny_models import ARCHITECTURES, tiny_model
from tiny_tokenizer import tiny_tokenizer

TEMPLATE = get_template("paper")
DEMOS = (("ab", "c"), ("de", "f"), ("gh", "i"), ("jk", "l"))


def jobs(rate: float, n: int = 3) -> list[TrainingJob]:
    """``n`` jobs, each with its own demos (rotations of DEMOS) and query."""
    return [
        TrainingJob(
            key=("task", i),
            demos=DEMOS[i % 4 :] + DEMOS[: i % 4],
            query=f"q{i}",
            learning_rate=rate,
        )
        for i in range(n)
    ]


def baseline(model, tokenizer, job_list, batched: bool = True) -> engine.Decoded:
    """Zero-shot answers of the jobs' queries, as one batch or (``batched=False``) one by one."""
    prompts = [TEMPLATE.zero_shot_prompt(job.query) for job in job_list]
    groups = [prompts] if batched else [[prompt] for prompt in prompts]
    parts = [
        engine.decode(model, tokenizer, engine.encode(tokenizer, group), max_new_tokens=3)
        for group in groups
    ]
    return engine.Decoded(
        torch.cat([part.tokens for part in parts]),
        torch.cat([part.first_logits for part in parts]),
        [token for part in parts for token in part.first_tokens],
        [answer for part in parts for answer in part.answers],
    )


def run(model, tokenizer, job_list, config, **options):
    defaults = {"epochs": [2], "max_new_tokens": 3, "keep_logits": True}
    return finetune_and_answer(model, tokenizer, TEMPLATE, job_list, config, **defaults | options)


def weights(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def assert_weights_equal(model, saved) -> None:
    for name, p in model.named_parameters():
        assert torch.equal(p, saved[name]), name


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_has_attention_projections(arch):
    model, _ = tiny_model(arch)
    projections = attention_projections(model)
    n_blocks = model.config.get_text_config().num_hidden_layers
    assert len(projections) >= 2 * n_blocks  # at least an input and an output map per block


def test_answer_tokens_are_what_the_demo_adds_to_the_query():
    tokenizer = tiny_tokenizer()  # merges "->z": the answer's token swallows the query's arrow
    ids, n_answer = demo_tokens(tokenizer, TEMPLATE, "ab", "go")
    assert tokenizer.convert_ids_to_tokens(ids[-n_answer:]) == ["go"]
    ids, n_answer = demo_tokens(tokenizer, TEMPLATE, "ab", "zz")
    assert tokenizer.convert_ids_to_tokens(ids[-n_answer:]) == ["->z", "z"]


@pytest.mark.parametrize("params", ["lora", "attention", "all"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_learning_rate_zero_gives_exactly_the_baseline(params, optimizer):
    model, tokenizer = tiny_model("llama")
    job_list = jobs(0.0)
    expected = baseline(model, tokenizer, job_list, batched=params == "lora")  # as it decodes
    result = run(model, tokenizer, job_list, FinetuneConfig(params=params, optimizer=optimizer))
    assert torch.equal(result.decoded[2].first_logits, expected.first_logits)
    assert result.decoded[2].answers == expected.answers


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("params", ["lora", "attention"])
def test_training_on_a_repeated_demo_learns_its_answer(arch, params):
    model, tokenizer = tiny_model(arch)
    job = TrainingJob(("task", 0), (("ab", "Q"),) * 3, "ab", learning_rate=0.02)
    config = FinetuneConfig(params=params, optimizer="adam", lora_rank=4)
    before = baseline(model, tokenizer, [job])
    assert before.first_tokens[0] != "Q"  # the random model does not know it yet
    result = run(model, tokenizer, [job], config, epochs=[30])
    losses = result.losses[0]
    assert losses[-1] < 0.1 * losses[0]
    assert result.decoded[30].first_tokens[0] == "Q"


@pytest.mark.parametrize("arch", ["gpt2", "gemma3_text"])
@pytest.mark.parametrize("batch", ["all", "sequential"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batched_adapters_equal_one_job_at_a_time(arch, batch, optimizer):
    model, tokenizer = tiny_model(arch)
    job_list = jobs(0.05, n=4)
    config = FinetuneConfig(optimizer=optimizer, batch=batch)
    together = run(model, tokenizer, job_list, config, chunk_size=4)
    alone = run(model, tokenizer, job_list, config, chunk_size=1)
    assert together.decoded[2].answers == alone.decoded[2].answers
    # float32 sums in another order (padding, batch size): equal up to rounding
    close = {"atol": 1e-4, "rtol": 1e-4}
    torch.testing.assert_close(
        together.decoded[2].first_logits, alone.decoded[2].first_logits, **close
    )
    torch.testing.assert_close(together.losses, alone.losses, **close)
    # ...and training did something, so the equality is not that of two untouched models
    untouched = baseline(model, tokenizer, job_list).first_logits
    assert (together.decoded[2].first_logits - untouched).abs().max() > 1e-3


@pytest.mark.parametrize("params", ["lora", "attention"])
def test_results_do_not_depend_on_the_order_of_the_jobs(params):
    model, tokenizer = tiny_model("qwen2")
    job_list = jobs(0.05, n=4)
    config = FinetuneConfig(params=params, optimizer="adam")
    forward = run(model, tokenizer, job_list, config, chunk_size=2)
    backward = run(model, tokenizer, job_list[::-1], config, chunk_size=2)
    assert forward.decoded[2].answers == backward.decoded[2].answers[::-1]
    torch.testing.assert_close(
        forward.decoded[2].first_logits,
        backward.decoded[2].first_logits.flip(0),
        atol=1e-4,
        rtol=1e-4,
    )


def test_same_seed_same_predictions_other_seed_other_adapters():
    model, tokenizer = tiny_model("gpt_neox")
    job_list = jobs(0.1)
    first = run(model, tokenizer, job_list, FinetuneConfig(seed=3))
    again = run(model, tokenizer, job_list, FinetuneConfig(seed=3))
    other = run(model, tokenizer, job_list, FinetuneConfig(seed=4))
    assert torch.equal(first.decoded[2].first_logits, again.decoded[2].first_logits)
    assert not torch.equal(first.decoded[2].first_logits, other.decoded[2].first_logits)


def test_jobs_of_one_key_differ_only_by_their_learning_rate():
    model, tokenizer = tiny_model("llama")
    job = jobs(0.1, n=1)[0]
    slow = dataclasses.replace(job, learning_rate=0.0)
    result = run(model, tokenizer, [job, slow, job], FinetuneConfig())
    logits = result.decoded[2].first_logits
    torch.testing.assert_close(logits[0], logits[2])
    assert torch.equal(logits[1], baseline(model, tokenizer, [job] * 3).first_logits[1])
    assert (logits[0] - logits[1]).abs().max() > 1e-3


@pytest.mark.parametrize("params", ["lora", "attention", "all"])
def test_base_weights_are_unchanged_after_training(params):
    model, tokenizer = tiny_model("gemma3_text")
    saved = weights(model)
    result = run(model, tokenizer, jobs(0.1), FinetuneConfig(params=params, optimizer="adam"))
    assert result.losses[:, -1].mean() < result.losses[:, 0].mean()  # it did train
    assert_weights_equal(model, saved)
    assert not any(p.requires_grad for p in model.parameters())


def test_checkpoint_epochs_continue_one_training_run():
    model, tokenizer = tiny_model("gpt2")
    job_list = jobs(0.05)
    config = FinetuneConfig(optimizer="adam")
    both = run(model, tokenizer, job_list, config, epochs=[0, 1, 3])
    only_three = run(model, tokenizer, job_list, config, epochs=[3])
    assert torch.equal(both.decoded[3].first_logits, only_three.decoded[3].first_logits)
    untouched = baseline(model, tokenizer, job_list)
    assert torch.equal(both.decoded[0].first_logits, untouched.first_logits)
    assert both.losses.shape == (3, 3)


def test_sequential_batches_take_one_step_per_demo_in_the_jobs_order():
    model, tokenizer = tiny_model("llama")
    job = jobs(0.05, n=1)[0]
    reordered = dataclasses.replace(job, demos=job.demos[::-1])
    config = FinetuneConfig(batch="sequential", optimizer="adam")
    result = run(model, tokenizer, [job, reordered], config, epochs=[1])
    assert result.losses.shape == (2, len(DEMOS))
    assert not torch.equal(result.decoded[1].first_logits[0], result.decoded[1].first_logits[1])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="params"):
        FinetuneConfig(params="mlp")
    with pytest.raises(ValueError, match="optimizer"):
        FinetuneConfig(optimizer="lbfgs")
    model, tokenizer = tiny_model("gpt2")
    uneven = [jobs(0.1)[0], dataclasses.replace(jobs(0.1)[1], demos=DEMOS[:2])]
    with pytest.raises(ValueError, match="same number of demos"):
        run(model, tokenizer, uneven, FinetuneConfig(batch="sequential"))


@pytest.mark.parametrize("params", ["lora", "attention"])
def test_bfloat16_training_learns_and_answers_with_the_model_itself(params):
    model, tokenizer = tiny_model("gemma3_text")
    saved = weights(model)
    job = TrainingJob(("task", 0), (("ab", "Q"),) * 3, "ab", learning_rate=0.02)
    config = FinetuneConfig(params=params, optimizer="adam", autocast="bfloat16")
    result = run(model, tokenizer, [job], config, epochs=[30])
    assert result.decoded[30].first_tokens[0] == "Q"
    assert_weights_equal(model, saved)
    # a zero rate still answers exactly like the float32 model (answers never run in bfloat16)
    frozen = run(model, tokenizer, [dataclasses.replace(job, learning_rate=0.0)], config)
    assert torch.equal(
        frozen.decoded[2].first_logits, baseline(model, tokenizer, [job]).first_logits
    )
