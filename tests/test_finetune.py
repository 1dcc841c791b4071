"""The fine-tuning engine on tiny random models: exact baseline at rate 0, learning, no leakage.

Each property is one the ICL-versus-GD comparison relies on: a job's answers must come from its own
demonstrations only (not from which jobs shared its batch, or in what order they ran), batched
per-example adapters must be the same computation as training one example alone, and the base
model must come out of fine-tuning exactly as it went in.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses

import pytest
import torch

from taskvectors.engine import finetune, patching, vocab_head
from taskvectors.engine.finetune import (
    FinetuneConfig,
    Plateau,
    SlotAdapters,
    TrainingJob,
    answer_counts,
    attention_projections,
    cast_copy,
    demo_tokens,
    finetune_and_answer,
    slot_loss_shares,
    slot_losses,
    training_batch,
    training_copy,
)
from taskvectors.tasks.prompts import get_template
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


def baseline(model, tokenizer, job_list, batched: bool = True) -> patching.Decoded:
    """Zero-shot answers of the jobs' queries, as one batch or (``batched=False``) one by one."""
    prompts = [TEMPLATE.zero_shot_prompt(job.query) for job in job_list]
    groups = [prompts] if batched else [[prompt] for prompt in prompts]
    parts = [
        patching.decode(model, tokenizer, patching.encode(tokenizer, group), max_new_tokens=3)
        for group in groups
    ]
    return patching.Decoded(
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


def demo_batch(tokenizer, job_list) -> finetune.TrainingBatch:
    """Every demonstration of the jobs as one training batch, row slot = the job's index."""
    rows = [(s, demo) for s, job in enumerate(job_list) for demo in job.demos]
    return training_batch(
        [demo_tokens(tokenizer, TEMPLATE, *demo) for _, demo in rows],
        [s for s, _ in rows],
        0,
        "cpu",
    )


def full_logits_losses(model, batch, n_slots) -> torch.Tensor:
    """The reference: the model's own logits at every position, cross-entropy at the answers."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float()
    token_loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), batch.input_ids[:, 1:], reduction="none"
    )
    mask = batch.predicts_answer[:, :-1].float()
    per_row_total, per_row_count = (token_loss * mask).sum(1), mask.sum(1)
    total = torch.zeros(n_slots).index_add(0, batch.row_slot, per_row_total)
    count = torch.zeros(n_slots).index_add(0, batch.row_slot, per_row_count)
    return total / count


@pytest.mark.parametrize("arch", ["gpt2", "gptj", "gemma3_text"])
def test_answer_position_losses_equal_the_full_logits_losses(arch):
    model, tokenizer = tiny_model(arch)  # gptj: untied head with a bias; gemma: soft-capping
    job_list = jobs(0.1, n=3)
    batch = demo_batch(tokenizer, job_list)
    torch.testing.assert_close(
        slot_losses(model, batch, 3), full_logits_losses(model, batch, 3), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("arch", ["gpt2", "gemma3_text"])
@pytest.mark.parametrize("params", ["lora", "all"])
def test_passes_add_up_to_the_loss_and_gradient_of_one_pass(arch, params, monkeypatch):
    model, tokenizer = tiny_model(arch)
    job_list = jobs(0.1, n=3)
    rows = [(s, d) for s, job in enumerate(job_list) for d in range(len(job.demos))]
    tokens = {
        demo: demo_tokens(tokenizer, TEMPLATE, *demo) for job in job_list for demo in job.demos
    }
    whole = demo_batch(tokenizer, job_list)
    if params == "lora":
        projections = attention_projections(model)
        shapes = [finetune._in_out_features(p) for p in projections]
        adapters = SlotAdapters(shapes, [job.key for job in job_list], FinetuneConfig(), "cpu")
        with torch.no_grad():  # B starts at zero: make the adapters matter for A's gradient
            for up in adapters.up:
                up.normal_(0, 0.1)
        tensors = adapters.tensors()

        def applied(batch):
            return adapters.applied(projections, batch.row_slot)
    else:
        tensors = [p.requires_grad_(True) for p in model.parameters()]

        def applied(batch):
            return contextlib.nullcontext()

    with torch.enable_grad(), applied(whole):
        expected_losses = slot_losses(model, whole, 3)
        expected = torch.autograd.grad(expected_losses.sum(), tensors)
    for tokens_per_pass in (1, 70):  # one row per pass; a few rows per pass
        monkeypatch.setattr(finetune, "TOKENS_PER_PASS", tokens_per_pass)
        pairs = [(slot, job_list[slot].demos[d]) for slot, d in rows]
        passes = finetune._step_passes(pairs, tokens, 0, "cpu")
        assert len(passes) > 1
        counts = sum(answer_counts(batch, 3) for batch in passes)
        losses, grads = 0, [torch.zeros_like(t) for t in tensors]
        for batch in passes:
            with torch.enable_grad(), applied(batch):
                shares = slot_loss_shares(model, batch, counts)
                for grad, part in zip(
                    grads, torch.autograd.grad(shares.sum(), tensors), strict=True
                ):
                    grad += part
            losses = losses + shares.detach()
        torch.testing.assert_close(losses, expected_losses.detach())
        for grad, reference in zip(grads, expected, strict=True):
            torch.testing.assert_close(grad, reference, atol=1e-5, rtol=1e-4)


def test_passes_hold_the_steps_rows_by_length_within_the_token_budget(monkeypatch):
    _, tokenizer = tiny_model("llama")
    job_list = [dataclasses.replace(jobs(0.1)[0], demos=(("abcdefgh", "x"),))] + jobs(0.1, n=3)
    rows = [(s, d) for s, job in enumerate(job_list) for d in range(len(job.demos))]
    tokens = {
        demo: demo_tokens(tokenizer, TEMPLATE, *demo) for job in job_list for demo in job.demos
    }
    monkeypatch.setattr(finetune, "TOKENS_PER_PASS", 40)
    pairs = [(slot, job_list[slot].demos[d]) for slot, d in rows]
    passes = finetune._step_passes(pairs, tokens, 0, "cpu")
    by_length = sorted(rows, key=lambda row: len(tokens[job_list[row[0]].demos[row[1]]][0]))
    assert by_length != rows  # the first job's long demonstration moves last
    assert torch.cat([batch.row_slot for batch in passes]).tolist() == [s for s, _ in by_length]
    widths = [batch.input_ids.shape[1] for batch in passes]
    assert widths == sorted(widths)
    for batch in passes:
        assert batch.input_ids.numel() <= 40 or len(batch.input_ids) == 1
        assert batch.attention_mask.sum(1).max() == batch.input_ids.shape[1]  # no extra padding
    assert 1 < len(passes) < len(rows)


def test_trained_answers_do_not_depend_on_the_passes(monkeypatch):
    model, tokenizer = tiny_model("gemma3_text")
    job_list = jobs(0.05, n=4)
    config = FinetuneConfig(optimizer="adam")
    monkeypatch.setattr(finetune, "TOKENS_PER_PASS", 10**6)
    one_pass = run(model, tokenizer, job_list, config)
    monkeypatch.setattr(finetune, "TOKENS_PER_PASS", 40)
    passes = run(model, tokenizer, job_list, config)
    assert passes.decoded[2].answers == one_pass.decoded[2].answers
    close = {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(
        passes.decoded[2].first_logits, one_pass.decoded[2].first_logits, **close
    )
    torch.testing.assert_close(passes.losses, one_pass.losses, **close)


@pytest.mark.parametrize("arch", ["gemma3_text", "gptj"])
def test_cast_copy_is_the_cast_deep_copy_with_tied_weights_tied(arch):
    model, _ = tiny_model(arch)
    saved = weights(model)
    cast = cast_copy(model, torch.bfloat16)
    expected = copy.deepcopy(model).to(torch.bfloat16)
    for (name, p), (_, q) in zip(
        cast.state_dict(keep_vars=True).items(),
        expected.state_dict(keep_vars=True).items(),
        strict=True,
    ):
        assert p.dtype == q.dtype and torch.equal(p, q), name
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert (cast.get_output_embeddings().weight is cast.get_input_embeddings().weight) == tied
    assert_weights_equal(model, saved)
    assert all(
        p.data_ptr() != q.data_ptr()
        for p, q in zip(cast.parameters(), model.parameters(), strict=True)
    )


def test_the_training_copy_shares_the_vocabulary_heads_bfloat16_screen(monkeypatch):
    model, _ = tiny_model("gemma3_text")  # tied embedding and unembedding
    monkeypatch.setattr(vocab_head, "SCREEN_MIN_VOCAB", 0)
    head = vocab_head.attach(model)
    if head is None or head.screen is None:
        pytest.skip("no bfloat16 screen here (the CPU has no native bfloat16)")
    copy = training_copy(model, torch.bfloat16)
    weight = copy.get_output_embeddings().weight
    assert weight.data_ptr() == head.screen.data_ptr()  # shared, not cast again
    assert copy.get_input_embeddings().weight is weight
    assert torch.equal(weight, cast_copy(model, torch.bfloat16).get_output_embeddings().weight)


def test_adapter_gradients_are_the_same_on_every_run():
    # Rows of one slot in a pass, gathered per row, sum back into the slot's gradient: the sum must
    # not depend on thread timing (a parallel scatter-add into shared slots would).
    generator = torch.Generator().manual_seed(0)
    projection = torch.nn.Linear(1024, 64)
    config = FinetuneConfig(lora_rank=4)
    adapters = SlotAdapters([(1024, 64)], [("task", i) for i in range(16)], config, "cpu")
    with torch.no_grad():
        adapters.up[0].normal_(0, 0.1, generator=generator)
    x = torch.randn(8, 6, 1024, generator=generator)
    row_slot = torch.tensor([1, 1, 2, 2, 2, 2, 2, 3])

    def gradients() -> list[torch.Tensor]:
        with adapters.applied([projection], row_slot), torch.enable_grad():
            return list(torch.autograd.grad(projection(x).square().sum(), adapters.tensors()))

    first = gradients()
    for _ in range(30):
        assert all(torch.equal(a, b) for a, b in zip(first, gradients(), strict=True))


def held_out(job_list: list[TrainingJob], answer: str = "c") -> list[TrainingJob]:
    """The jobs with a held-out answer to their query (early stopping's loss)."""
    return [dataclasses.replace(job, answer=answer) for job in job_list]


def test_the_plateau_rule_counts_evaluations_without_a_strictly_lower_loss():
    plateau = Plateau(patience=2)
    assert [plateau.stalled(loss) for loss in (3.0, 2.0, 2.0, 1.5, 1.6, 1.5)] == [
        False, False, False, False, False, True,
    ]  # fmt: skip


def test_early_stopping_stops_a_chunk_whose_held_out_loss_is_flat():
    model, tokenizer = tiny_model("llama")
    job_list = held_out(jobs(0.0))  # a zero rate: the held-out loss never moves
    config = FinetuneConfig(optimizer="adam")
    once = run(model, tokenizer, job_list, config, epochs=[1, 2, 4], patience=1)
    assert sorted(once.decoded) == [1]  # flat from epoch 0 to 1: stopped before epoch 2
    assert once.losses.shape == (3, 1)
    twice = run(model, tokenizer, job_list, config, epochs=[1, 2, 4], patience=2)
    assert sorted(twice.decoded) == [1, 2]
    assert twice.losses.shape == (3, 2)


def test_early_stopping_goes_on_while_the_held_out_loss_falls():
    model, tokenizer = tiny_model("llama")
    job = TrainingJob(("task", 0), (("ab", "Q"),) * 3, "ab", learning_rate=0.02, answer="Q")
    config = FinetuneConfig(optimizer="adam")
    result = run(model, tokenizer, [job], config, epochs=[1, 2, 3, 4], patience=1)
    assert sorted(result.decoded) == [1, 2, 3, 4]


def test_early_stopping_with_large_patience_changes_nothing():
    model, tokenizer = tiny_model("llama")
    job_list = held_out(jobs(0.05, n=4))
    config = FinetuneConfig(optimizer="adam")
    stopped = run(model, tokenizer, job_list, config, epochs=[1, 3], patience=100, chunk_size=2)
    plain = run(model, tokenizer, job_list, config, epochs=[1, 3], chunk_size=2)
    for epoch in (1, 3):
        assert torch.equal(stopped.decoded[epoch].first_logits, plain.decoded[epoch].first_logits)
        assert stopped.decoded[epoch].answers == plain.decoded[epoch].answers
    assert torch.equal(stopped.losses, plain.losses)


def test_chunks_stop_on_their_own_and_only_common_checkpoints_are_answered():
    model, tokenizer = tiny_model("llama")
    job_list = held_out(jobs(0.0, n=2)) + held_out(jobs(0.05, n=2))
    result = run(model, tokenizer, job_list, FinetuneConfig(optimizer="adam"),
                 epochs=[1, 2], patience=1, chunk_size=2)  # fmt: skip
    assert sorted(result.decoded) == [1]  # the zero-rate chunk stopped after epoch 1
    assert result.losses.shape == (4, 2) and result.losses[:2, 1].isnan().all()


def test_early_stopping_needs_held_out_answers():
    model, tokenizer = tiny_model("llama")
    with pytest.raises(ValueError, match="held-out answer"):
        run(model, tokenizer, jobs(0.0), FinetuneConfig(), patience=1)
