# The paper's analyses and their extensions. Each is a model job per model (one model load for all
# of its tasks) writing raw predictions or vectors, and a model-free `score_analysis` job per model
# writing the documented score table the report renders. Each is switchable (analyses.<name>).

from taskvectors.pipeline import analysis_task_list
from taskvectors.prompt_files import resolve_spacing
from taskvectors.prompts import get_template

CONFLICT_TASKS = sorted({task for pair in PAIRS for task in pair})


def analysis_tasks(name):
    """The tasks an analysis covers (order and prompt_format may take a subset)."""
    if name == "conflicts":
        return CONFLICT_TASKS
    selection = config["analyses"][name].get("tasks", "all")
    spacing = config["prompts"].get("spacing")
    auto = [t for t in TASKS if resolve_spacing(REGISTRY[t], spacing) == "auto"]
    template = get_template(config["prompts"]["template"])
    if name == "prompt_format" and template.spaced() == template:
        return []  # a template that is its own spaced form has no other spacing to compare
    return analysis_task_list(name, selection, TASKS, auto)


def analysis_inputs(name, model, *kinds):
    """Per-task inputs of an analysis job: prompts, activations, sweeps or data files."""
    tasks = analysis_tasks(name)
    paths = {"prompts": L.prompts, "activations": L.activations, "sweeps": L.sweep, "evals": L.eval}
    inputs = {kind: [paths[kind](model, t) for t in tasks] for kind in kinds if kind in paths}
    if "data" in kinds:
        inputs["data"] = sorted({f for t in tasks for f in task_data_files(REGISTRY[t], DATA)})
    return inputs


def model_job_inputs(name, *kinds):
    def inputs(wildcards):
        return {
            "model": L.model_record(wildcards.model),
            **analysis_inputs(name, wildcards.model, *kinds),
            "code": code(f"stages.{name}"),
        }

    return inputs


MODEL_JOB_INPUTS = {
    "geometry": ("prompts",),
    "top_tokens": ("activations", "sweeps"),
    "conflicts": ("prompts", "data"),
    "order": ("prompts", "sweeps"),
    "prompt_format": ("prompts", "sweeps", "data"),
    "gd": ("prompts", "activations", "sweeps"),
}


# One model job per analysis and model (written out: Snakemake resolves a rule's script lazily,
# so rules made in a loop would all run the last script).
if "geometry" in enabled_analyses():

    rule geometry:
        input:
            unpack(model_job_inputs("geometry", *MODEL_JOB_INPUTS["geometry"])),
        output:
            analysis_raw("geometry", "{model}"),
        params:
            tasks=analysis_tasks("geometry"),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks("geometry")},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"]["geometry"],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=model_mem_mb,
        log:
            L.log("geometry", "{model}"),
        benchmark:
            L.benchmark("geometry", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/geometry.py"


if "top_tokens" in enabled_analyses():

    rule top_tokens:
        input:
            unpack(model_job_inputs("top_tokens", *MODEL_JOB_INPUTS["top_tokens"])),
        output:
            analysis_raw("top_tokens", "{model}"),
        params:
            tasks=analysis_tasks("top_tokens"),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks("top_tokens")},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"]["top_tokens"],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=model_mem_mb,
        log:
            L.log("top_tokens", "{model}"),
        benchmark:
            L.benchmark("top_tokens", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/top_tokens.py"


if "conflicts" in enabled_analyses():

    rule conflicts:
        input:
            unpack(model_job_inputs("conflicts", *MODEL_JOB_INPUTS["conflicts"])),
        output:
            analysis_raw("conflicts", "{model}"),
        params:
            tasks=analysis_tasks("conflicts"),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks("conflicts")},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"]["conflicts"],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=model_mem_mb,
        log:
            L.log("conflicts", "{model}"),
        benchmark:
            L.benchmark("conflicts", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/conflicts.py"


if "order" in enabled_analyses():

    rule order:
        input:
            unpack(model_job_inputs("order", *MODEL_JOB_INPUTS["order"])),
        output:
            analysis_raw("order", "{model}"),
        params:
            tasks=analysis_tasks("order"),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks("order")},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"]["order"],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=model_mem_mb,
        log:
            L.log("order", "{model}"),
        benchmark:
            L.benchmark("order", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/order.py"


if "prompt_format" in enabled_analyses():

    rule prompt_format:
        input:
            unpack(model_job_inputs("prompt_format", *MODEL_JOB_INPUTS["prompt_format"])),
        output:
            analysis_raw("prompt_format", "{model}"),
        params:
            tasks=analysis_tasks("prompt_format"),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks("prompt_format")},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"]["prompt_format"],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=model_mem_mb,
        log:
            L.log("prompt_format", "{model}"),
        benchmark:
            L.benchmark("prompt_format", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/prompt_format.py"


if "gd" in enabled_analyses():

    rule gd:
        input:
            unpack(model_job_inputs("gd", *MODEL_JOB_INPUTS["gd"])),
        output:
            analysis_raw("gd", "{model}") + [L.gd_distributions("{model}", t) for t in analysis_tasks("gd")],
        params:
            tasks=analysis_tasks("gd"),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks("gd")},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"]["gd"],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=model_mem_mb,
        log:
            L.log("gd", "{model}"),
        benchmark:
            L.benchmark("gd", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/gd.py"


def score_inputs(wildcards):
    name, model = wildcards.analysis, wildcards.model
    inputs = {"raw": analysis_raw(name, model), "code": code("stages.score_analyses")}
    if name == "gd":
        inputs["distributions"] = [L.gd_distributions(model, t) for t in analysis_tasks("gd")]
    if name != "conflicts":
        kinds = ("prompts", "sweeps") + (("evals",) if name in ("prompt_format", "gd") else ())
        inputs.update(analysis_inputs(name, model, *kinds))
    else:
        inputs["sweeps"] = [L.sweep(model, t) for t in CONFLICT_TASKS]
    return inputs


def get_score_tasks(wildcards):
    return analysis_tasks(wildcards.analysis)


def get_score_settings(wildcards):
    return config["analyses"][wildcards.analysis]


rule score_analysis:
    input:
        unpack(score_inputs),
    output:
        L.scores("{analysis}", "{model}"),
    params:
        tasks=get_score_tasks,
        pairs=PAIRS,
        settings=get_score_settings,
        answer=EVALUATION["answer"],
        modes={t: REGISTRY[t].scoring for t in CONFLICT_TASKS},
    wildcard_constraints:
        analysis="|".join(enabled_analyses()) or "none",
    resources:
        mem_mb=4000,
    log:
        L.log("score_analysis", "{analysis}", "{model}"),
    benchmark:
        L.benchmark("score_analysis", "{analysis}", "{model}")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/score_analysis.py"
