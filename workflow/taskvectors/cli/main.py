"""The ``taskvectors`` command line: tools around the pipeline that need no Snakemake run.

Subcommands:

* ``bench [sweep]``: time the layer sweep on one model (see :mod:`taskvectors.cli.bench_sweep`), to
  check that the cached sweep pays off on a given machine before launching a full reproduction;
  ``bench pipeline|gd|fv|load|vocab`` run the other benchmarks (a 3-task pipeline, GD's
  fine-tuning, the function vectors' head patching, a model load, the float32 vocabulary argmax)
  with their own options (``--help``).
* ``tasks``: list the registry's tasks (and a config's user tasks) with their pair counts, so that
  a user task file is validated before a run.
* ``check``: run the pipeline's start-up checks on a config (strict YAML, schema, folders, task
  files, sizes) and list every problem; Snakemake reports a YAML syntax error in a
  ``--configfile`` without its line, this names the file and line.
* ``apply``: answer queries with a saved task or function vector (see
  :mod:`taskvectors.engine.vectors`), refused when it was made on another model.

A config that cannot be read or is invalid is one line per problem on stderr, exit status 2.

A model is named by its alias. Without ``--config`` the alias must be an embedded model (the
default ``gemma-3-270m``); with ``--config`` it is looked up in the file's ``models:`` mapping, so
hub and local models work exactly as in the pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from taskvectors.engine.devices import DTYPES
from taskvectors.engine.models import (
    EMBEDDED_MODELS,
    ModelLoadError,
    ModelSpec,
    load_model,
    resolve_model,
)
from taskvectors.pipeline.config import ConfigError, load_config, naming_file, read_config_file

DEFAULT_MODEL = "gemma-3-270m"


def model_spec(alias: str, config_path: Path | None) -> ModelSpec:
    """The spec of ``alias``: from the config's ``models:`` mapping, or an embedded model."""
    if config_path is None:
        if alias not in EMBEDDED_MODELS:
            raise ModelLoadError(
                f"model {alias!r} is not embedded ({sorted(EMBEDDED_MODELS)}); "
                "pass --config to look it up in a config's models: mapping"
            )
        return ModelSpec.from_config(alias, {"source": "embedded"})
    entries = read_config_file(config_path).get("models") or {}
    if alias not in entries:
        raise ModelLoadError(f"model {alias!r} is not in {config_path} (models: {sorted(entries)})")
    return ModelSpec.from_config(alias, entries[alias])


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def bench(args: argparse.Namespace) -> int:
    """Run the benchmark; exit status 1 if the two sweeps disagree."""
    from taskvectors.cli.bench_sweep import format_table, run_bench

    spec = model_spec(args.model, args.config)
    if args.dtype is not None:
        spec = replace(spec, dtype=args.dtype)
    from taskvectors.engine.devices import cpu_kind, describe_cpu_kind

    kind = cpu_kind()  # before the model loads: the probe runs on an idle process
    model, tokenizer = load_model(resolve_model(spec))
    result = {
        "model": args.model,
        **kind,
        **run_bench(model, tokenizer, args.examples, args.repeats),
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(describe_cpu_kind(kind))
        print(format_table(result))
    return 0 if result["agree"] and result["greedy_tokens_equal"] else 1


def list_tasks(args: argparse.Namespace) -> int:
    """Print one line per task: name, family, scoring, filter, default, pairs."""
    from taskvectors.tasks.files import TaskDataError
    from taskvectors.tasks.registry import load_pairs, load_registry

    config = load_config(args.config) if args.config else {}
    data_dir = Path(args.data_dir or config.get("data_dir", "data"))
    try:
        registry = load_registry(data_dir, config.get("user_tasks"))
        rows = [(spec, len(load_pairs(spec, data_dir))) for spec in registry.values()]
    except TaskDataError as error:
        print(f"taskvectors tasks: {error}", file=sys.stderr)
        return 2
    print(f"{'task':40} {'family':12} {'scoring':8} {'filter':13} {'default':8} pairs")
    for spec, n_pairs in rows:
        default = "yes" if spec.default else ""
        print(
            f"{spec.name:40} {spec.family:12} {spec.scoring:8} {spec.filter:13} {default:8} "
            f"{n_pairs}"
        )
    return 0


def run_config(path: Path):
    """The validated config and task registry of a run, as its start-up checks build them."""
    from taskvectors.pipeline.preflight import startup_config

    try:
        return startup_config(read_config_file(path), [path])
    except ConfigError as error:
        raise naming_file(error, path) from None


def check(args: argparse.Namespace) -> int:
    """Run the start-up checks of a pipeline run on a config; exit status 2 lists the problems."""
    config, registry = run_config(args.config)
    print(
        f"{args.config}: ok ({len(config['models'])} model(s), {len(registry)} tasks known, "
        f"results in {config['results_dir']})",
        file=sys.stderr if args.show else sys.stdout,
    )
    if args.show:
        print(annotated_config(config), end="")
    return 0


def annotated_config(config: dict) -> str:
    """``config`` as YAML, with a comment naming the folder an empty ``model_cache_dir`` means."""
    from taskvectors.engine.model_files import default_cache_dir

    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    if config.get("model_cache_dir"):
        return text
    comment = f"  # empty: the default, here {default_cache_dir()}"
    return text.replace("\nmodel_cache_dir: ''\n", f"\nmodel_cache_dir: ''{comment}\n", 1)


def verify(args: argparse.Namespace) -> int:
    """Check every result file of a run; exit status 1 lists the bad ones (``--fix`` deletes)."""
    from taskvectors.results.verify import verify_run

    config, registry = run_config(args.config)
    findings = list(verify_run(config, registry))
    bad = [f for f in findings if f.problem and not f.missing]
    missing = [f for f in findings if f.missing]
    for finding in bad:
        action = "deleted" if args.fix else "bad"
        print(f"{action}: {finding.path}: {finding.problem}")
        if args.fix:  # with the job's other outputs, so that Snakemake reruns the job
            for path in (finding.path, *finding.siblings):
                path.unlink(missing_ok=True)
    for finding in missing:
        print(f"missing: {finding.path}: {finding.problem}")
    print(
        f"{len(findings) - len(missing)} result files checked, {len(bad)} bad, "
        f"{len(missing)} missing",
        file=sys.stderr,
    )
    if bad and not args.fix:
        print("rerun with --fix to delete them; the next run rebuilds them", file=sys.stderr)
    return 1 if (bad or missing) and not args.fix else 0


def check_model_command(args: argparse.Namespace) -> int:
    """Say whether the suite supports a model and what it needs, from its config alone."""
    from taskvectors.engine.model_check import check_model, format_check

    check = check_model(
        args.source, revision=args.revision, trust_remote_code=args.trust_remote_code
    )
    print(format_check(check))
    return 0 if check.supported else 1


def apply_command(args: argparse.Namespace) -> int:
    """Answer queries (arguments, or one per line of ``--file``) with a saved vector applied."""
    from taskvectors.engine.vectors import (
        VectorFileError,
        VectorMismatchError,
        apply_vector,
        model_identity,
    )

    queries = list(args.queries)
    if args.file is not None:
        lines = args.file.read_text(encoding="utf-8").splitlines()
        queries += [line for line in lines if line.strip()]
    if not queries:
        print("taskvectors apply: no queries (give them as arguments or --file)", file=sys.stderr)
        return 2
    record = resolve_model(model_spec(args.model, args.config))
    model, tokenizer = load_model(record)
    name, revision = model_identity(record)
    try:
        decoded = apply_vector(
            model, tokenizer, args.vector, queries, args.template, model_name=name,
            revision=revision, max_new_tokens=args.max_new_tokens,
        )  # fmt: skip
    except (VectorFileError, VectorMismatchError) as error:
        print(f"taskvectors apply: {error}", file=sys.stderr)
        return 2
    for query, answer in zip(queries, decoded.answers, strict=True):
        line = {"query": query, "answer": answer}
        print(json.dumps(line, ensure_ascii=False) if args.json else f"{query}\t{answer}")
    return 0


def add_model_arguments(command: argparse.ArgumentParser) -> None:
    """``--model``, and the ``--config`` whose ``models:`` mapping holds it (:func:`model_spec`)."""
    command.add_argument(
        "--model", default=DEFAULT_MODEL, help="model alias (default: %(default)s)"
    )
    command.add_argument(
        "--config", type=Path, help="config file whose models: mapping holds the alias"
    )


def add_run_config_argument(command: argparse.ArgumentParser, help_text: str) -> None:
    """``--config`` of a command that reads a whole run's config, default config/config.yaml."""
    command.add_argument(
        "--config",
        type=Path,
        default=Path("config/config.yaml"),
        help=f"{help_text} (default: %(default)s)",
    )


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="taskvectors", description=__doc__.split("\n")[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    bench_parser = commands.add_parser(
        "bench",
        help="time the naive and the cached layer sweep against their floor ([sweep]), or run "
        f"another benchmark: bench {{{','.join(OTHER_BENCHES)}}} ... (each has its --help)",
    )
    add_model_arguments(bench_parser)
    bench_parser.add_argument(
        "--examples",
        type=positive_int,
        default=16,
        help="zero-shot prompts to sweep (default: %(default)s)",
    )
    bench_parser.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="timed runs; the fastest counts (default: %(default)s)",
    )
    bench_parser.add_argument(
        "--dtype",
        choices=["auto", *DTYPES],
        help="load dtype (default: the model entry's, auto for embedded models)",
    )
    bench_parser.add_argument("--json", action="store_true", help="print one JSON object")
    bench_parser.set_defaults(run=bench)
    tasks_parser = commands.add_parser("tasks", help="list the tasks and their pair counts")
    tasks_parser.add_argument("--config", type=Path, help="a config whose user_tasks to include")
    tasks_parser.add_argument(
        "--data-dir", help="task data folder (default: the config's, or data)"
    )
    tasks_parser.set_defaults(run=list_tasks)
    check_parser = commands.add_parser(
        "check", help="run the start-up checks of a run on a config and list every problem"
    )
    add_run_config_argument(check_parser, "the config file")
    check_parser.add_argument(
        "--show",
        action="store_true",
        help="print the config the run resolves, every default filled in (YAML)",
    )
    check_parser.set_defaults(run=check)
    verify_parser = commands.add_parser(
        "verify", help="check every result file of a run (opens, schema, provenance vs config)"
    )
    add_run_config_argument(verify_parser, "the run's config file")
    verify_parser.add_argument(
        "--fix", action="store_true", help="delete the bad files so the next run rebuilds them"
    )
    verify_parser.set_defaults(run=verify)
    model_parser = commands.add_parser(
        "check-model",
        help="pre-flight a hub id or local folder: blocks, unembedding, memory (no weights)",
    )
    model_parser.add_argument("source", help="a hub id (needs network) or a local model folder")
    model_parser.add_argument("--revision", help="hub revision (branch, tag or commit)")
    model_parser.add_argument("--trust-remote-code", action="store_true")
    model_parser.set_defaults(run=check_model_command)
    apply_parser = commands.add_parser(
        "apply", help="answer queries with a saved task or function vector (safetensors)"
    )
    apply_parser.add_argument("vector", type=Path, help="a vector file written by a run")
    apply_parser.add_argument("queries", nargs="*", help="queries (inputs x, without template)")
    apply_parser.add_argument("--file", type=Path, help="more queries, one per line")
    add_model_arguments(apply_parser)
    apply_parser.add_argument(
        "--template", help="prompt template name (default: the one stored with the vector)"
    )
    apply_parser.add_argument(
        "--max-new-tokens", type=positive_int, default=16, help="answer length (%(default)s)"
    )
    apply_parser.add_argument("--json", action="store_true", help="one JSON object per line")
    apply_parser.set_defaults(run=apply_command)
    return main_parser


#: ``taskvectors bench <name> ...``: the other benchmarks, each with its own command line.
OTHER_BENCHES = {
    "pipeline": "taskvectors.cli.bench_pipeline",
    "gd": "taskvectors.analyses.gd.bench",
    "fv": "taskvectors.analyses.function_vectors.bench",
    "load": "taskvectors.cli.bench_load",
    "vocab": "taskvectors.cli.bench_vocab",
}


def other_bench(name: str, argv: Sequence[str]) -> int:
    """Run the benchmark ``name`` of :data:`OTHER_BENCHES` with its own arguments."""
    import importlib

    module = importlib.import_module(OTHER_BENCHES[name])
    sys.argv = [f"taskvectors bench {name}", *argv]
    return int(module.main(list(argv)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"] and argv[1:2] == ["sweep"]:
        argv = ["bench", *argv[2:]]
    if argv[:1] == ["bench"] and len(argv) > 1 and argv[1] in OTHER_BENCHES:
        return other_bench(argv[1], argv[2:])
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, ModelLoadError, OSError) as error:
        print(f"taskvectors {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
