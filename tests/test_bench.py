"""The sweep benchmark and the ``taskvectors`` command line, on a tiny model (fast)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from taskvectors.cli import bench_pipeline, bench_sweep, bench_vocab
from taskvectors.cli import main as cli
from taskvectors.engine import devices
from taskvectors.engine.models import ModelLoadError
from tiny_models import save_tiny_model, tiny_model

KEYS = {
    "n_layers", "n_examples", "n_rows", "threads", "dtype", "repeats",
    "forward_tokens", "forward_seconds", "forward_tokens_per_s",
    "naive_sweep_seconds", "optimised_sweep_seconds", "floor_seconds",
    "speedup_naive_over_optimised", "optimised_over_floor",
    "agree", "tokens_equal", "max_abs_logit_diff",
    "greedy_sweep_seconds", "speedup_naive_over_greedy", "greedy_tokens_equal",
}  # fmt: skip


def test_sweep_set_prompts():
    sweep = bench_sweep.sweep_set(40)  # more than the list holds: queries cycle
    assert len(sweep.prompts) == len(sweep.dummy_prompts) == 40
    assert sweep.prompts[0] == "example:Russia->"
    for prompt, dummies in zip(sweep.prompts, sweep.dummy_prompts, strict=True):
        assert len(dummies) == bench_sweep.N_DUMMIES
        assert all(d.startswith("example:France->Paris\n") and d.count("\n") == 5 for d in dummies)
        assert prompt not in {d.rsplit("\n", 1)[1] for d in dummies}  # x' differs from the query


@pytest.mark.parametrize("arch", ["gpt2", "gemma3_text"])
def test_run_bench_on_tiny_model(arch):
    model, tokenizer = tiny_model(arch)
    result = bench_sweep.run_bench(model, tokenizer, n_examples=3, repeats=1)
    assert set(result) == KEYS
    assert result["agree"] is True and result["tokens_equal"] is True
    assert result["greedy_tokens_equal"] is True
    assert result["n_rows"] == 3 * result["n_layers"] == 3 * model.config.num_hidden_layers
    for key in (
        "forward_seconds",
        "naive_sweep_seconds",
        "optimised_sweep_seconds",
        "floor_seconds",
    ):
        assert result[key] > 0
    assert result["speedup_naive_over_optimised"] == pytest.approx(
        result["naive_sweep_seconds"] / result["optimised_sweep_seconds"]
    )
    json.dumps(result)  # JSON-ready
    table = bench_sweep.format_table({"model": arch, **result})
    assert "3 = " in table and "sweeps agree" in table and "True" in table


def test_model_spec_without_config():
    assert cli.model_spec("gemma-3-270m", None).source == "embedded"
    with pytest.raises(ModelLoadError, match="'pythia'.*--config"):
        cli.model_spec("pythia", None)


def test_model_spec_from_config(tmp_path):
    config = tmp_path / "config.yaml"
    models = {"tiny": {"source": "local", "path": "/somewhere"}}
    config.write_text(yaml.safe_dump({"models": models}))
    spec = cli.model_spec("tiny", config)
    assert (spec.alias, spec.source, spec.name_or_path) == ("tiny", "local", "/somewhere")
    with pytest.raises(ModelLoadError, match="'other'.*tiny"):
        cli.model_spec("other", config)


CPU_KEYS = {
    "cpu",
    "cpu_native_bf16_detected",
    "cpu_native_bf16_used",
    "TASKVECTORS_CPU_BF16",
    "float32_gflops_1_thread",
}


@pytest.mark.parametrize(("forced", "says"), [("0", "(forced off)"), ("1", "(forced on)")])
def test_cpu_kind_says_when_the_capability_is_forced(monkeypatch, forced, says):
    monkeypatch.setenv("TASKVECTORS_CPU_BF16", forced)
    kind = devices.cpu_kind()
    assert kind["cpu_native_bf16_used"] is (forced == "1")
    line = devices.describe_cpu_kind(kind)
    assert line.startswith("CPU: ") and "GFLOP/s" in line
    assert (says in line) is (kind["cpu_native_bf16_detected"] != (forced == "1"))


def test_cli_bench_json(tmp_path, capsys):
    folder = save_tiny_model("llama", tmp_path / "tiny-llama")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"models": {"tiny": {"source": "local", "path": str(folder)}}})
    )
    argv = [
        "bench",
        "--model",
        "tiny",
        "--config",
        str(config),
        "--examples",
        "2",
        "--repeats",
        "1",
    ]
    assert cli.main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == KEYS | CPU_KEYS | {"model"}
    assert result["model"] == "tiny" and result["agree"] is True
    assert result["dtype"] == "float32"
    assert result["float32_gflops_1_thread"] > 0
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "optimised sweep" in printed and "bfloat16" in printed.splitlines()[0]
    cli.main([*argv, "--dtype", "bfloat16", "--json"])  # a random model's tokens may tie
    assert json.loads(capsys.readouterr().out)["dtype"] == "bfloat16"


def test_vocab_bench_times_both_argmaxes_and_checks_their_tokens():
    torch.manual_seed(0)
    weight = torch.randn(5000, 32)
    rows = bench_vocab.bench_vocab(weight, [1, 3, 40], tile=700, repeats=1)
    assert [row["rows"] for row in rows] == [1, 3, 40]
    assert all(row["same_tokens"] is True for row in rows)
    assert all(row["one_product_ms"] > 0 and row["tiled_ms"] > 0 for row in rows)
    one, tiled = rows[2]["one_product_ms"], rows[2]["tiled_ms"]
    assert rows[2]["speedup"] == pytest.approx(one / tiled)


def test_cli_bench_vocab_prints_the_cpu_kind_then_one_line_per_row_count(monkeypatch, capsys):
    """The embedded model's weight is replaced by a small random one: the wiring is tested here,
    the real model's figures are the benchmark's business."""
    monkeypatch.setattr(bench_vocab, "model_weight", lambda alias: torch.randn(3000, 16))
    argv = ["bench", "vocab", "--rows", "2", "5", "--repeats", "1", "--tile", "512"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("CPU: ") and "GFLOP/s" in lines[0]
    assert "3000 tokens" in lines[1] and "tiles of 512" in lines[1]
    assert [line.split()[0] for line in lines[3:]] == ["2", "5"]
    assert all(line.endswith("yes") for line in lines[3:])
    assert cli.main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["vocab"] == 3000 and [row["rows"] for row in result["rows"]] == [2, 5]


def test_pipeline_bench_names_its_target_before_the_configfile(tmp_path):
    """``--configfile`` takes every argument after it: a target placed there is read as a config."""
    command = bench_pipeline.snakemake_command(tmp_path, tmp_path / "bench_sweep.yaml", 2)
    target = str(tmp_path / "results" / "summary.csv")
    assert command.index(target) < command.index("--configfile")
    assert command[-2:] == ["--configfile", str(tmp_path / "bench_sweep.yaml")]


def test_cli_reports_load_errors(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": {"gone": {"source": "local", "path": "/nope"}}}))
    assert cli.main(["bench", "--model", "gone", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "taskvectors bench:" in error and "'gone'" in error


def test_cli_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main([])


def test_cli_rejects_non_positive_counts(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--examples", "0"])
    assert "positive integer" in capsys.readouterr().err
