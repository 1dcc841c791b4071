"""Function vectors on tiny random models of every architecture: heads, indirect effects, vectors.

The head hooks depend on where each architecture keeps its attention output projection (GPT-2's is
a ``Conv1D`` with a transposed weight and a bias, GPT-NeoX's is ``attention.dense``) and on how it
is called, and the function vector on whether the block normalises its attention output (Gemma 3),
so every test runs on each tiny architecture (``tiny`` fixture) or names the one it is about.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from taskvectors.engine import heads as fv_heads
from taskvectors.engine import patching
from taskvectors.engine import vectors as fv
from taskvectors.engine.heads import (
    answer_first_tokens,
    average_over_tasks,
    head_activations,
    head_shape,
    indirect_effects,
    indirect_effects_naive,
    mean_head_activations,
    output_projection,
    output_projections,
    shuffled_outputs,
    top_heads,
)
from taskvectors.engine.layers import decoder_blocks, record_last_position
from taskvectors.tasks.prompts import get_template
from tiny_models import ARCHITECTURES, tiny_model

TEMPLATE = get_template("paper")
PAIRS = [("ab", "c"), ("de", "f"), ("gh", "i"), ("jk", "l"), ("mn", "o"), ("pq", "r")]
QUERIES = [("st", "u"), ("vw", "x"), ("yz", "a")]
ATOL = 1e-5


def clean_prompts() -> list[str]:
    """Three ICL prompts with different demonstrations (and lengths: the batch is padded)."""
    return [
        TEMPLATE.icl_prompt(PAIRS[i : 2 * i + 2], query) for i, (query, _) in enumerate(QUERIES)
    ]


def corrupted_prompts() -> list[str]:
    return [
        TEMPLATE.icl_prompt(shuffled_outputs(PAIRS[i : 2 * i + 3], "test", i), query)
        for i, (query, _) in enumerate(QUERIES)
    ]


def targets(tokenizer, prompts: list[str]) -> list[int]:
    """The first token of ``QUERIES[i]``'s answer after ``prompts[i]``."""
    answers = [answer for _, answer in QUERIES][: len(prompts)]
    return answer_first_tokens(tokenizer, TEMPLATE, prompts, answers)


def hidden_size(model) -> int:
    return model.config.get_text_config().hidden_size


# --- heads --------------------------------------------------------------------------------------


def test_head_shape_reads_the_projection_width(tiny):
    model, _ = tiny
    shape = head_shape(model)
    config = model.config.get_text_config()
    assert shape.n_layers == config.num_hidden_layers
    assert shape.n_heads == config.num_attention_heads
    for projection in output_projections(model):
        weight, _ = fv_heads.projection_matrix(projection)
        assert tuple(weight.shape) == (hidden_size(model), shape.n_heads * shape.head_dim)


def test_head_dim_is_not_hidden_size_over_heads():
    """Gemma 3 270M writes 4 heads of 256 into 640 channels; here 4 heads of 16 into 32."""
    model, _ = tiny_model("gemma3_text", head_dim=16)
    assert head_shape(model).head_dim == 16
    assert hidden_size(model) // head_shape(model).n_heads == 8


def test_missing_projection_names_the_block_children():
    block = nn.Module()
    block.mixer = nn.Linear(4, 4)
    block.attention_norm = nn.LayerNorm(4)
    with pytest.raises(
        ValueError, match=r"block 3 .*mixer \(Linear\), attention_norm \(LayerNorm\)"
    ):
        output_projection(block, 3)


def test_mlp_projection_is_never_taken(tiny):
    model, _ = tiny
    for block, projection in zip(decoder_blocks(model), output_projections(model), strict=True):
        owner = next(
            name for name, child in block.named_children() if projection in child.modules()
        )
        assert "attn" in owner or "attention" in owner


def test_head_activations_are_the_projection_input(tiny):
    """The recorded heads, projected, are the attention output the block computes."""
    model, tokenizer = tiny
    prompts = clean_prompts()
    acts = head_activations(model, tokenizer, prompts, batch_size=2)  # (n, L, H, hd)
    shape = head_shape(model)
    assert acts.shape == (len(prompts), shape.n_layers, shape.n_heads, shape.head_dim)
    outputs = []
    hooks = [
        p.register_forward_hook(lambda m, a, out: outputs.append(out[:, -1].detach()))
        for p in output_projections(model)
    ]
    try:
        batch = patching.encode(tokenizer, prompts)
        patching._forward(model, batch.input_ids, batch.attention_mask)
    finally:
        for hook in hooks:
            hook.remove()
    for layer, projection in enumerate(output_projections(model)):
        projected = projection(acts[:, layer].reshape(len(prompts), -1))
        torch.testing.assert_close(projected, outputs[layer], atol=ATOL, rtol=1e-4)


def test_clean_means_average_only_the_correctly_answered_prompts(tiny):
    """The greedy token the filter reads is the model's argmax at the last position; the means
    are over the prompts whose accepted first tokens contain it, else over every prompt."""
    model, tokenizer = tiny
    prompts = clean_prompts()
    acts = head_activations(model, tokenizer, prompts)
    _, logits = patching.read_out(model, patching.encode(tokenizer, prompts))
    predicted = logits.argmax(-1).tolist()
    wrong = [(token + 1) % len(tokenizer) for token in predicted]
    accepted = [{predicted[0], wrong[0]}, {wrong[1]}, {predicted[2]}]
    clean = fv_heads.correct_mean_head_activations(
        model, tokenizer, prompts, accepted, batch_size=2
    )
    assert (clean.n_prompts, clean.n_correct, clean.n_used) == (3, 2, 2)
    torch.testing.assert_close(clean.means, acts[[0, 2]].mean(0), atol=ATOL, rtol=1e-5)
    assert (clean.means - acts.mean(0)).abs().max() > 1e-6  # the filter changed the mean
    none = fv_heads.correct_mean_head_activations(model, tokenizer, prompts, [{t} for t in wrong])
    assert (none.n_prompts, none.n_correct, none.n_used) == (3, 0, 3)
    torch.testing.assert_close(none.means, acts.mean(0), atol=ATOL, rtol=1e-5)


def test_clean_means_need_accepted_tokens_for_every_prompt():
    model, tokenizer = tiny_model("llama")
    with pytest.raises(ValueError, match="one set of accepted first tokens per prompt"):
        fv_heads.correct_mean_head_activations(model, tokenizer, clean_prompts(), [{1}])


def test_head_slots_sum_to_the_projection_of_the_concatenated_heads(tiny):
    model, tokenizer = tiny
    means = mean_head_activations(model, tokenizer, clean_prompts())
    shape = head_shape(model)
    for layer, projection in enumerate(output_projections(model)):
        heads = [(layer, head) for head in range(shape.n_heads)]
        slots = fv.head_contributions(model, means, heads)  # (H, d)
        _, bias = fv_heads.projection_matrix(projection)
        total = slots.sum(0) + (0 if bias is None else bias)
        with torch.no_grad():
            expected = projection(means[layer].reshape(1, -1))[0]
        torch.testing.assert_close(total, expected, atol=ATOL, rtol=1e-5)
        with_bias = fv.function_vector(model, means, heads, include_bias=True)
        torch.testing.assert_close(with_bias, expected, atol=ATOL, rtol=1e-5)


# --- causal indirect effect ---------------------------------------------------------------------


def test_patching_a_head_with_its_own_activation_has_no_effect(tiny):
    model, tokenizer = tiny
    for prompt in corrupted_prompts()[:1]:
        own = head_activations(model, tokenizer, [prompt])[0]
        effects = indirect_effects(model, tokenizer, [prompt], targets(tokenizer, [prompt]), own)
        assert effects.abs().max() < 1e-6


def test_batched_indirect_effects_equal_one_head_at_a_time(tiny):
    model, tokenizer = tiny
    means = mean_head_activations(model, tokenizer, clean_prompts())
    prompts = corrupted_prompts()
    ids = targets(tokenizer, prompts)
    reference = indirect_effects_naive(model, tokenizer, prompts, ids, means)
    shape = head_shape(model)
    assert reference.shape == (len(prompts), shape.n_layers, shape.n_heads)
    assert reference.abs().max() > 1e-4  # the heads matter: the comparison is not 0 == 0
    for batch_rows in (7, 40, 10_000):  # split prompts, two whole prompts a chunk, one chunk
        batched = indirect_effects(model, tokenizer, prompts, ids, means, batch_rows=batch_rows)
        torch.testing.assert_close(batched, reference, atol=1e-6, rtol=1e-4)


def test_patch_heads_removes_its_hooks_after_an_error(tiny):
    model, tokenizer = tiny
    projections = output_projections(model)
    shape = head_shape(model)
    values = torch.zeros(1, shape.head_dim)
    with (
        pytest.raises(RuntimeError, match="boom"),
        fv_heads.patch_heads(
            projections, shape.head_dim, torch.tensor([0]), torch.tensor([0]), values
        ),
    ):
        raise RuntimeError("boom")
    assert all(not p._forward_pre_hooks for p in projections)


def test_top_heads_are_ranked_with_ties_to_the_lower_index():
    effect = torch.tensor([[0.1, 0.5, 0.0], [0.5, -0.2, 0.3]])
    assert top_heads(effect, 3) == [(0, 1), (1, 0), (1, 2)]
    assert top_heads(effect, 0) == []


def test_universal_effect_is_the_mean_over_tasks():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    assert torch.equal(average_over_tasks({"a": a, "b": b}), torch.tensor([[0.5, 1.5]]))
    assert top_heads(average_over_tasks({"a": a, "b": b}), 1) == [(0, 1)]
    with pytest.raises(ValueError):
        average_over_tasks({})


def test_shuffled_outputs_permute_the_outputs_deterministically():
    demos = tuple(PAIRS)
    shuffled = shuffled_outputs(demos, 41, "task", 3)
    assert [x for x, _ in shuffled] == [x for x, _ in demos]
    assert sorted(y for _, y in shuffled) == sorted(y for _, y in demos)
    assert shuffled == shuffled_outputs(demos, 41, "task", 3)
    draws = {shuffled_outputs(demos, 41, "task", i) for i in range(10)}
    assert len(draws) > 1


# --- the function vector and the intervention ---------------------------------------------------


def test_adding_a_zero_vector_changes_nothing(tiny):
    model, tokenizer = tiny
    prompts = [TEMPLATE.zero_shot_prompt(q) for q, _ in QUERIES]
    layers = list(range(head_shape(model).n_layers))
    zero = torch.zeros(hidden_size(model))
    decoded = fv.add_vector(model, tokenizer, prompts, zero, layers, include_unpatched=True)
    logits = decoded.first_logits.reshape(len(prompts), len(layers) + 1, -1)
    torch.testing.assert_close(logits, logits[:, :1].expand_as(logits), atol=ATOL, rtol=1e-5)


def test_adding_a_vector_is_replacing_by_hidden_plus_vector(tiny):
    """The added vector changes the output, and exactly as writing ``h + v`` into the stream."""
    model, tokenizer = tiny
    prompts = [TEMPLATE.zero_shot_prompt(q) for q, _ in QUERIES]
    layers = list(range(head_shape(model).n_layers))
    vector = torch.randn(hidden_size(model)) * 5
    added = fv.add_vector(
        model, tokenizer, prompts, vector, layers, include_unpatched=True, batch_rows=4
    )
    logits = added.first_logits.reshape(len(prompts), len(layers) + 1, -1)
    assert (logits[:, 1:] - logits[:, :1]).abs().amax(-1).min() > 1e-3
    hidden, _ = patching.read_out(model, patching.encode(tokenizer, prompts))  # (L, n, d)
    replaced = patching.sweep_layers(
        model, tokenizer, prompts, hidden.transpose(0, 1) + vector, layers, include_unpatched=True
    )
    torch.testing.assert_close(added.first_logits, replaced.first_logits, atol=1e-4, rtol=1e-4)
    naive = patching.sweep_layers_naive(
        model, tokenizer, prompts, vector.expand(len(prompts), len(layers), -1), layers, add=True
    )
    torch.testing.assert_close(added.first_logits, naive.first_logits, atol=1e-4, rtol=1e-4)
    assert added.tokens.tolist() == naive.tokens.tolist()


def test_token_probabilities_are_the_softmax_of_the_first_logits(tiny):
    model, tokenizer = tiny
    prompts = [TEMPLATE.zero_shot_prompt(q) for q, _ in QUERIES]
    decoded = fv.add_vector(model, tokenizer, prompts, torch.zeros(hidden_size(model)), [0])
    ids = torch.tensor(targets(tokenizer, prompts))
    expected = torch.softmax(decoded.first_logits, -1)[torch.arange(len(ids)), ids]
    torch.testing.assert_close(fv.token_probabilities(decoded, ids), expected)


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "gemma3_text"])
def test_variants_coincide_without_an_attention_output_norm(arch):
    model, tokenizer = tiny_model(arch)
    assert all(fv.attention_output_norm(block) is None for block in decoder_blocks(model))
    means = mean_head_activations(model, tokenizer, clean_prompts())
    heads = top_heads(torch.rand(head_shape(model).n_layers, head_shape(model).n_heads), 3)
    raw = fv.function_vector(model, means, heads, variant="raw", include_bias=True)
    normalised = fv.function_vector(model, means, heads, variant="normalised", include_bias=True)
    assert torch.equal(raw, normalised)


def test_gemma_normalised_vector_is_what_the_block_adds():
    """With one prompt's heads as the means and all heads of a layer chosen, the normalised
    vector is the block's normalised attention output at the last token; the raw one is not."""
    model, tokenizer = tiny_model("gemma3_text")
    prompt = clean_prompts()[2]
    shape = head_shape(model)
    blocks = decoder_blocks(model)
    assert all(fv.attention_output_norm(block) is not None for block in blocks)
    norms = [fv.attention_output_norm(block) for block in blocks]
    with record_last_position(norms) as entered:  # what joins the residual stream
        means = head_activations(model, tokenizer, [prompt])[0]
    for layer in range(shape.n_layers):
        heads = [(layer, head) for head in range(shape.n_heads)]
        normalised = fv.function_vector(model, means, heads, variant="normalised")
        raw = fv.function_vector(model, means, heads, variant="raw")
        torch.testing.assert_close(normalised, entered[layer][0], atol=ATOL, rtol=1e-4)
        assert not torch.allclose(raw, normalised, atol=1e-3)


def test_gemma_normalised_heads_are_shares_of_the_layer():
    """Each head's normalised contribution is its raw one scaled channel-wise by the same map,
    so a subset of heads is a part of the layer's addition, not rescaled to its size."""
    model, tokenizer = tiny_model("gemma3_text")
    means = mean_head_activations(model, tokenizer, clean_prompts())
    heads = [(1, 0), (1, 2), (2, 3)]
    raw = fv.head_contributions(model, means, heads, variant="raw")
    normalised = fv.head_contributions(model, means, heads, variant="normalised")
    ratio_0, ratio_1 = normalised[0] / raw[0], normalised[1] / raw[1]
    torch.testing.assert_close(ratio_0, ratio_1, atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="variant"):
        fv.head_contributions(model, means, heads, variant="scaled")


# --- vectors as files ---------------------------------------------------------------------------


def artifact_for(model, kind: str = "function", /, **changes) -> fv.VectorArtifact:
    fields = {
        "vector": torch.randn(hidden_size(model)),
        "kind": kind,
        "layer": 1,
        "model": "tiny",
        "revision": "r1",
        "task": "letters",
        "heads": ((1, 0), (0, 2)) if kind == "function" else (),
        "settings": {"template": TEMPLATE.to_dict(), "variant": "raw", "k": 2},
    }
    return fv.VectorArtifact(**(fields | changes))


def test_saved_vector_round_trips(tiny, tmp_path):
    model, _ = tiny
    artifact = artifact_for(model)
    loaded = fv.load_vector(fv.save_vector(tmp_path / "v.safetensors", artifact))
    assert torch.equal(loaded.vector, artifact.vector.float())
    for name in ("kind", "layer", "model", "revision", "task", "heads", "settings"):
        assert getattr(loaded, name) == getattr(artifact, name)
    none = fv.load_vector(
        fv.save_vector(tmp_path / "n.safetensors", artifact_for(model, revision=None))
    )
    assert none.revision is None


@pytest.mark.parametrize("kind", ["function", "task"])
def test_applied_vector_adds_or_replaces_at_its_layer(tiny, tmp_path, kind):
    model, tokenizer = tiny
    artifact = artifact_for(model, kind)
    path = fv.save_vector(tmp_path / f"{kind}.safetensors", artifact)
    queries = [q for q, _ in QUERIES]
    answers = fv.apply_vector(
        model, tokenizer, path, queries, model_name="tiny", revision="r1", max_new_tokens=2
    )
    prompts = [TEMPLATE.zero_shot_prompt(q) for q in queries]
    vectors = artifact.vector.expand(len(queries), head_shape(model).n_layers, -1)
    expected = patching.sweep_layers_naive(
        model, tokenizer, prompts, vectors, [1], include_unpatched=False,
        max_new_tokens=2, add=kind == "function",
    )  # fmt: skip
    assert answers.answers == expected.answers
    assert answers.tokens.tolist() == expected.tokens.tolist()


def test_mismatched_model_is_refused_with_the_reason(tiny, tmp_path):
    model, tokenizer = tiny
    path = fv.save_vector(tmp_path / "v.safetensors", artifact_for(model))
    cases = {
        "other": ("r1", "made on model 'tiny', not 'other'"),
        "tiny": ("r2", "revision 'r1' of tiny, not 'r2'"),
    }
    for name, (revision, reason) in cases.items():
        with pytest.raises(fv.VectorMismatchError, match=reason):
            fv.apply_vector(model, tokenizer, path, ["ab"], model_name=name, revision=revision)
    narrow = artifact_for(model, vector=torch.zeros(hidden_size(model) // 2))
    with pytest.raises(fv.VectorMismatchError, match=f"has hidden size {hidden_size(model)}"):
        fv.apply_vector(model, tokenizer, narrow, ["ab"], model_name="tiny", revision="r1")
    deep = artifact_for(model, layer=99)
    with pytest.raises(fv.VectorMismatchError, match="layer 99 does not exist"):
        fv.apply_vector(model, tokenizer, deep, ["ab"], model_name="tiny", revision="r1")


def test_a_file_that_is_not_a_vector_is_refused(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors at all")
    with pytest.raises(fv.VectorFileError, match="not a readable safetensors file"):
        fv.load_vector(junk)
    with pytest.raises(fv.VectorFileError, match="not a readable"):
        fv.load_vector(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(fv.VectorFileError, match="not a taskvectors vector file"):
        fv.load_vector(tmp_path / "other.safetensors")


def test_artifacts_refuse_inconsistent_fields():
    vector = torch.zeros(4)
    with pytest.raises(ValueError, match="kind"):
        fv.VectorArtifact(vector, "steering", 0, "m", None, "t")
    with pytest.raises(ValueError, match="task vector has no heads"):
        fv.VectorArtifact(vector, "task", 0, "m", None, "t", heads=((0, 0),))
    with pytest.raises(ValueError, match="1-D"):
        fv.VectorArtifact(torch.zeros(2, 2), "task", 0, "m", None, "t")


def test_apply_command_answers_queries_and_refuses_another_model(tmp_path, capsys):
    from taskvectors.cli import main as cli
    from tiny_models import save_tiny_model

    folder = save_tiny_model("llama", tmp_path / "llama")
    config = tmp_path / "config.yaml"
    config.write_text(f"models:\n  tiny: {{source: local, path: '{folder}'}}\n")
    model, tokenizer = tiny_model("llama")
    artifact = artifact_for(model, model=str(folder), revision=None)
    path = fv.save_vector(tmp_path / "v.safetensors", artifact)
    queries = tmp_path / "queries.txt"
    queries.write_text("vw\n\nyz\n")
    argv = ["apply", str(path), "st", "--file", str(queries), "--model", "tiny"]
    assert cli.main([*argv, "--config", str(config), "--max-new-tokens", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = fv.apply_vector(
        model, tokenizer, artifact, ["st", "vw", "yz"], model_name=str(folder), max_new_tokens=2
    )
    assert lines == [f"{q}\t{a}" for q, a in zip(["st", "vw", "yz"], expected.answers, strict=True)]
    other = fv.save_vector(tmp_path / "o.safetensors", artifact_for(model, model="elsewhere"))
    assert cli.main(["apply", str(other), "st", "--model", "tiny", "--config", str(config)]) == 2
    assert "refused: it was made on model 'elsewhere'" in capsys.readouterr().err
