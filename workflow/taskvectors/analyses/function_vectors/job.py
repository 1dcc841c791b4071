"""Stage ``function_vectors``: which heads carry the task, and does their vector do it?

Per model (one load for every task), on the prompt documents of the main run:

1. per task, the mean head outputs over the ``n_mean`` clean ICL prompts (dev examples) that the
   model answers correctly (the authors' filter; every prompt when none is);
2. per task, the causal indirect effect (CIE) of every head on ``n_cie`` prompts whose
   demonstration outputs are shuffled (:func:`taskvectors.engine.heads.indirect_effects`, batched on
   a prefix cache);
3. the universal heads: top heads of the CIE averaged over the tasks that pass the paper's filter
   (ICL's accuracy interval above the baseline's accuracy; every task if none passes);
4. per task and k in ``ks``, the function vector (FV) of the top-k universal heads added at every
   layer of ``n_dev`` dev zero-shot queries (the layer curve); the layer is the earliest dev argmax
   (as the task vector's), and the k the best on dev; then the first ``n_test`` test queries (the
   main run's, so ICL, the TV and the FV are paired) at each k's layer;
5. on the same test queries, at the chosen k and layer: the FV of the task's own top-k heads (by
   its own CIE, condition ``fv_task_heads``), and ICL with the demonstration outputs shuffled,
   answered plain (``icl_shuffled``) and with the FV added (``icl_shuffled_fv``);
6. the cosine between the chosen FV and the mean task vector at every layer, and its top tokens;
7. the chosen FV and the mean task vector (at its best layer) saved as vector files.

Raw files per task: ``<task>.parquet`` (predictions of every condition, unscored),
``<task>.cie.parquet`` (mean CIE per head with its task and universal ranks, and how many clean
prompts the means kept), ``<task>.geometry.parquet`` (cosines, top tokens)
and ``<task>.fv.safetensors`` / ``<task>.tv.safetensors``
(:func:`taskvectors.engine.vectors.save_vector`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from taskvectors.analyses.jobs import AnalysisJob, best_layer_of
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine import heads as fh
from taskvectors.engine import patching
from taskvectors.engine import vectors as fv
from taskvectors.engine.inference import vectors_by_example
from taskvectors.engine.layers import decoder_blocks
from taskvectors.results.files import (
    Example,
    PromptDocument,
    read_prompt_document,
    read_result_table,
)
from taskvectors.results.storage import write_table
from taskvectors.scoring.stats import wilson_interval
from taskvectors.tasks.prompts import PromptTemplate, get_template

log = logging.getLogger(__name__)


# --- small pieces -----------------------------------------------------------------------------


def resolve_variant(model, variant: str) -> str:
    """``auto`` → ``normalised`` when the blocks normalise their attention output (Gemma 2/3,
    OLMo 2), else ``raw`` (the two coincide there); ``raw``/``normalised`` as given."""
    if variant != "auto":
        return variant
    norm = fv.attention_output_norm(decoder_blocks(model)[0])
    return "raw" if norm is None else "normalised"


def clipped_ks(ks: Sequence[int], n_heads_total: int) -> list[int]:
    """The distinct ``ks`` clipped to the model's number of heads, ascending."""
    return sorted({min(int(k), n_heads_total) for k in ks})


def icl_prompts(template: PromptTemplate, examples: Sequence[Example]) -> list[str]:
    return [template.icl_prompt(list(ex.demos), ex.query) for ex in examples]


def corrupted_prompts(
    template: PromptTemplate, examples: Sequence[Example], seed: int, task: str
) -> list[str]:
    """ICL prompts with the demonstration outputs shuffled (seeded per run, task and example)."""
    return [
        template.icl_prompt(
            list(fh.shuffled_outputs(ex.demos, seed, task, ex.example_id)), ex.query
        )
        for ex in examples
    ]


def passes_filter(evals: pd.DataFrame) -> bool:
    """The paper's filter: ICL does the task better than the zero-shot baseline, i.e. the lower
    end of ICL's 95% Wilson interval lies above the baseline's accuracy (headline score)."""
    icl = evals.loc[evals["condition"] == "icl", "correct"].astype(bool)
    baseline = evals.loc[evals["condition"] == "baseline", "correct"].astype(bool)
    if icl.empty or baseline.empty:
        return False
    low, _ = wilson_interval(int(icl.sum()), len(icl))
    return bool(low > baseline.mean())


def mean_task_vectors(activations: Path, document: PromptDocument) -> torch.Tensor:
    """The mean test θ ``(n_layers, d_model)`` of the task."""
    test = document.split("test")
    return vectors_by_example(read_result_table(activations, "activations"), test).mean(0)


def first_token_hits(
    decoded: patching.Decoded, examples: Sequence[Example], per: int
) -> np.ndarray:
    """``(n, per)`` bool: whether each row's first token id is one of its example's accepted
    answers' first tokens (rows prompt-major, ``per`` rows per example).

    The job chooses the layer and k with this token-level score, so that it imports no scoring
    code (the scoring stage scores the text, as ``evaluate`` does)."""
    accepted = [ex.answer_first_token_ids for ex in examples for _ in range(per)]
    hits = patching.first_token_accepted(decoded.tokens[:, 0], accepted)
    return np.array(hits, dtype=bool).reshape(len(examples), per)


def earliest_argmax(accuracy: np.ndarray) -> int | None:
    """The first index of the highest accuracy, None when every accuracy is 0."""
    return int(np.argmax(accuracy)) if accuracy.size and accuracy.max() > 0 else None


# --- per task ---------------------------------------------------------------------------------


@dataclass
class TaskHeads:
    """One task's clean mean head outputs ``(L, H, head_dim)`` (over ``clean.n_used`` of
    ``clean.n_prompts`` clean prompts) and mean CIE ``(L, H)`` over ``n_cie`` prompts."""

    clean: fh.CleanMeans
    cie: torch.Tensor
    n_cie: int

    @property
    def means(self) -> torch.Tensor:
        return self.clean.means

    def counts(self) -> dict[str, int]:
        """How many clean prompts the means had, answered correctly and used."""
        return {
            "n_mean_prompts": self.clean.n_prompts,
            "n_mean_correct": self.clean.n_correct,
            "n_mean_used": self.clean.n_used,
        }


def task_heads(job: AnalysisJob, document: PromptDocument, settings: Mapping) -> TaskHeads:
    """Steps 1–2 for one task."""
    template = get_template(document.template)
    dev = document.split("dev")
    clean_examples = dev[: settings["n_mean"]]
    clean = fh.correct_mean_head_activations(
        job.model, job.tokenizer, icl_prompts(template, clean_examples),
        [ex.answer_first_token_ids for ex in clean_examples],
    )  # fmt: skip
    corrupted_examples = dev[: settings["n_cie"]]
    seed = document.settings["seed"]
    corrupted = corrupted_prompts(template, corrupted_examples, seed, document.task_name)
    # The corrupted prompt ends as the clean one does, so the answer's first token in context is
    # the one the prompt file recorded (the canonical answer's).
    targets = [ex.answer_first_token_ids[0] for ex in corrupted_examples]
    effects = fh.indirect_effects(job.model, job.tokenizer, corrupted, targets, clean.means)
    return TaskHeads(clean, effects.mean(0), len(corrupted))


@dataclass
class TaskVectors:
    """One task's predictions, the chosen k and layer, the chosen FV ``(d_model,)`` and the
    task's own top-k heads."""

    predictions: pd.DataFrame
    k: int
    layer: int
    vector: torch.Tensor
    own_heads: list[tuple[int, int]]


def _prediction_rows(
    split: str,
    examples: Sequence[Example],
    decoded: patching.Decoded,
    k: int,
    layers: Sequence[int],
    condition: str = "fv",
) -> pd.DataFrame:
    """Rows of an :func:`taskvectors.engine.vectors.add_vector` result, prompt-major over ``layers``
    (layer ``-1``: the unpatched row)."""
    n_layers = len(layers)
    return pd.DataFrame(
        {
            "split": split,
            "example_id": [ex.example_id for ex in examples for _ in layers],
            "condition": condition,
            "k": k,
            "layer": [layer for _ in examples for layer in layers],
            "token_id": decoded.tokens[:, 0].tolist() if n_layers else [],
            "first_token": decoded.first_tokens,
            "answer": decoded.answers,
        }
    )


def task_vectors(
    job: AnalysisJob,
    document: PromptDocument,
    heads: TaskHeads,
    ranked: Sequence[tuple[int, int]],
    ks: Sequence[int],
    settings: Mapping,
    variant: str,
    evaluation: Mapping,
) -> TaskVectors:
    """Step 4 for one task: the dev layer curve (of the largest k, or of every k with
    ``curve: every_k``), each k's layer (its curve's earliest argmax, else the largest k's), the
    chosen k (best dev accuracy, smallest k on ties), then test at each k's layer; then step 5 at
    the chosen k and layer (:func:`paired_conditions`). Dev answers are scored by first token id
    (:func:`first_token_hits`)."""
    means = heads.means
    template = get_template(document.template)
    dev = document.split("dev")[: settings["n_dev"]]
    test = document.split("test")[: settings["n_test"]]
    n_layers = len(decoder_blocks(job.model))
    layers = list(range(n_layers))
    rows = evaluation["batch_rows"]
    dev_prompts = [template.zero_shot_prompt(ex.query) for ex in dev]
    test_prompts = [template.zero_shot_prompt(ex.query) for ex in test]
    frames, best = [], {}
    vectors = {}
    every_k = settings["curve"] == "every_k"
    for k in sorted(ks, reverse=True):  # the largest k first: the others may use its layer
        vectors[k] = fv.function_vector(job.model, means, ranked[:k], variant=variant)
        tried = layers if every_k or not best else [best[max(ks)][1]]
        decoded = fv.add_vector(
            job.model, job.tokenizer, dev_prompts, vectors[k], tried, keep_first_logits=False,
            batch_rows=rows,
        )  # fmt: skip
        accuracy = first_token_hits(decoded, dev, len(tried)).mean(0)
        index = earliest_argmax(accuracy)
        if index is None:  # nothing works on dev: the authors' |L|/3 (or the largest k's layer)
            index = tried.index(n_layers // 3) if n_layers // 3 in tried else 0
        best[k] = (float(accuracy[index]), tried[index])
        frames.append(_prediction_rows("dev", dev, decoded, k, tried))
    chosen_k = max(ks, key=lambda k: (best[k][0], -k))
    for k in ks:
        # Full answers for the chosen k only: every greedy step projects onto the whole
        # vocabulary (262k rows on Gemma), which would dominate the job; the k curve is scored
        # on the first token.
        layer, steps = best[k][1], evaluation["max_answer_tokens"] if k == chosen_k else 1
        decoded = fv.add_vector(
            job.model, job.tokenizer, test_prompts, vectors[k], [layer], keep_first_logits=False,
            max_new_tokens=steps, batch_rows=rows,
        )  # fmt: skip
        frames.append(_prediction_rows("test", test, decoded, k, [layer]))
    layer = best[chosen_k][1]
    own_heads = fh.top_heads(heads.cie, chosen_k)
    own_vector = fv.function_vector(job.model, means, own_heads, variant=variant)
    frames += paired_conditions(
        job, document, test, vectors[chosen_k], own_vector, chosen_k, layer, evaluation
    )
    predictions = pd.concat(frames, ignore_index=True)
    predictions["chosen"] = (
        (predictions["condition"] == "fv")
        & (predictions["k"] == chosen_k)
        & (predictions["layer"] == layer)
    )
    predictions = predictions.astype({"k": "int16", "layer": "int16", "token_id": "int32"})
    return TaskVectors(predictions, chosen_k, layer, vectors[chosen_k], own_heads)


def paired_conditions(
    job: AnalysisJob,
    document: PromptDocument,
    test: Sequence[Example],
    vector: torch.Tensor,
    own_vector: torch.Tensor,
    k: int,
    layer: int,
    evaluation: Mapping,
) -> list[pd.DataFrame]:
    """Step 5 on the test queries ``test``, full answers: the task's own-heads FV ``own_vector``
    ``(d_model,)`` added to the zero-shot query (``fv_task_heads``), and the shuffled-output ICL
    prompt answered plain (``icl_shuffled``, layer ``-1``) and with the chosen FV ``vector``
    ``(d_model,)`` added at ``layer`` (``icl_shuffled_fv``). The two shuffled conditions are one
    :func:`taskvectors.engine.vectors.add_vector` call: the unpatched row and the patched row share
    the prompt's prefix cache, so each costs a single-token forward plus its answer."""
    template = get_template(document.template)
    steps, rows = evaluation["max_answer_tokens"], evaluation["batch_rows"]
    zero_shot = [template.zero_shot_prompt(ex.query) for ex in test]
    own = fv.add_vector(
        job.model, job.tokenizer, zero_shot, own_vector, [layer], keep_first_logits=False,
        max_new_tokens=steps, batch_rows=rows,
    )  # fmt: skip
    shuffled = corrupted_prompts(template, test, document.settings["seed"], document.task_name)
    answered = fv.add_vector(
        job.model, job.tokenizer, shuffled, vector, [layer], include_unpatched=True,
        keep_first_logits=False, max_new_tokens=steps, batch_rows=rows,
    )  # fmt: skip
    plain, added = _split_rows(answered, 2)
    return [
        _prediction_rows("test", test, own, k, [layer], "fv_task_heads"),
        _prediction_rows("test", test, plain, -1, [-1], "icl_shuffled"),
        _prediction_rows("test", test, added, k, [layer], "icl_shuffled_fv"),
    ]


def _split_rows(decoded: patching.Decoded, per: int) -> list[patching.Decoded]:
    """The ``per`` variants of a prompt-major :class:`taskvectors.engine.patching.Decoded`, each as
    its own ``Decoded`` (rows ``j, j + per, ...``)."""
    parts = []
    for j in range(per):
        rows = list(range(j, len(decoded.answers), per))
        logits = decoded.first_logits[rows] if decoded.first_logits.numel() else torch.empty(0)
        parts.append(
            patching.Decoded(
                decoded.tokens[rows],
                logits,
                [decoded.first_tokens[i] for i in rows],
                [decoded.answers[i] for i in rows],
            )
        )
    return parts


def cie_table(task: TaskHeads, universal: torch.Tensor, passes: bool) -> pd.DataFrame:
    """``layer, head, cie, cie_universal, rank_task, rank_universal, passes_filter, n_prompts``
    per head (ranks from 0, largest effect first; ``n_prompts`` corrupted prompts), and the
    clean prompts of the means: ``n_mean_prompts, n_mean_correct, n_mean_used``."""
    n_layers, n_heads = task.cie.shape
    total = n_layers * n_heads
    rank_task, rank_universal = np.empty(total, int), np.empty(total, int)
    for ranks, effect in ((rank_task, task.cie), (rank_universal, universal)):
        order = fh.top_heads(effect, total)
        ranks[[layer * n_heads + head for layer, head in order]] = np.arange(total)
    grid_layer, grid_head = np.divmod(np.arange(total), n_heads)
    return pd.DataFrame(
        {
            "layer": grid_layer.astype("int16"),
            "head": grid_head.astype("int16"),
            "cie": task.cie.flatten().numpy(),
            "cie_universal": universal.flatten().numpy(),
            "rank_task": rank_task.astype("int32"),
            "rank_universal": rank_universal.astype("int32"),
            "passes_filter": passes,
            "n_prompts": task.n_cie,
            **task.counts(),
        }
    )


def geometry_table(
    job: AnalysisJob, vector: torch.Tensor, thetas: torch.Tensor, layer: int, top_k: int
) -> pd.DataFrame:
    """``kind, layer, rank, token, value``: the cosine of the FV with the mean θ at each layer
    (``cosine``), and the FV's top tokens through the final norm and unembedding (``token``)."""
    cosines = torch.nn.functional.cosine_similarity(thetas.float(), vector[None].float(), dim=-1)
    rows = [
        {"kind": "cosine", "layer": i, "rank": -1, "token": "", "value": float(c)}
        for i, c in enumerate(cosines)
    ]
    values, ids = patching.project_to_vocab(job.model, vector[None]).float().topk(top_k, dim=-1)
    rows += [
        {
            "kind": "token",
            "layer": layer,
            "rank": rank,
            "token": job.tokenizer.decode([int(ids[0, rank])]),
            "value": float(values[0, rank]),
        }  # fmt: skip
        for rank in range(top_k)
    ]
    return pd.DataFrame(rows).astype({"layer": "int16", "rank": "int16"})


# --- the job ----------------------------------------------------------------------------------


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The function-vector job of one model: every task's raw files (module docstring)."""
    settings, evaluation = request.settings, request.config["evaluation"]
    inputs = request.inputs
    shape = fh.head_shape(job.model)
    variant = resolve_variant(job.model, settings["variant"])
    ks = clipped_ks(settings["ks"], shape.n_layers * shape.n_heads)
    documents = {t: read_prompt_document(inputs["prompts"][t]) for t in request.tasks}
    started = time.perf_counter()
    heads: dict[str, TaskHeads] = {}
    for task in request.tasks:
        heads[task] = task_heads(job, documents[task], settings)
        log.info("%s: head means and CIE (%.1f s so far)", task, time.perf_counter() - started)
    passes = {t: passes_filter(read_result_table(inputs["evals"][t], "eval")) for t in heads}
    kept = [t for t in request.tasks if passes[t]] or list(request.tasks)
    universal = fh.average_over_tasks({t: heads[t].cie for t in kept})
    ranked = fh.top_heads(universal, max(ks))
    model_name, revision = fv.model_identity(job.record)
    for task in request.tasks:
        document = documents[task]
        found = task_vectors(job, document, heads[task], ranked, ks, settings, variant, evaluation)
        thetas = mean_task_vectors(inputs["activations"][task], document)
        tv_layer = best_layer_of(inputs["sweeps"][task])
        block = job.provenance(
            task=task, variant=variant, ks=ks, chosen_k=found.k, layer=found.layer,
            tv_layer=tv_layer, heads=[list(h) for h in ranked[: found.k]],
            filter_tasks=kept, passes_filter=passes[task],
            task_heads=[list(h) for h in found.own_heads], clean_means=heads[task].counts(),
        )  # fmt: skip
        write_table(request.output(task), found.predictions, block)
        write_table(
            request.output(task, "cie"), cie_table(heads[task], universal, passes[task]), block
        )
        geometry = geometry_table(job, found.vector, thetas, found.layer, settings["top_k_tokens"])
        write_table(request.output(task, "geometry"), geometry, block)
        common = {"template": document.template, "seed": document.settings["seed"]}
        fv.save_vector(
            request.output(task, "fv"),
            fv.VectorArtifact(
                found.vector, "function", found.layer, model_name, revision, task,
                tuple(ranked[: found.k]),
                {**common, "variant": variant, "k": found.k, "n_mean": settings["n_mean"],
                 "n_cie": settings["n_cie"], "filter_tasks": kept},
            ),
        )  # fmt: skip
        at = tv_layer if tv_layer is not None else found.layer
        fv.save_vector(
            request.output(task, "tv"),
            fv.VectorArtifact(
                thetas[at].float(), "task", at, model_name, revision, task, (),
                {**common, "best_layer": tv_layer, "mean_over": "test examples"},
            ),
        )  # fmt: skip
        log.info(
            "%s: FV k=%d at layer %d (%.1f s so far)", task, found.k, found.layer,
            time.perf_counter() - started,
        )  # fmt: skip
