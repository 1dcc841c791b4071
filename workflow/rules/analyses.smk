# The paper's analyses and their extensions. Each is a model job per model (one model load for all
# of its tasks) writing raw predictions or vectors, and a model-free `score_analysis` job per model
# writing the documented score table the report renders. Each is switchable (analyses.<name>).

from taskvectors.pipeline import analysis_task_list
from taskvectors.prompt_files import resolve_spacing

CONFLICT_TASKS = sorted({task for pair in PAIRS for task in pair})


def analysis_tasks(name):
    """The tasks an analysis covers (order and prompt_format may take a subset)."""
    if name == "conflicts":
        return CONFLICT_TASKS
    selection = config["analyses"][name].get("tasks", "all")
    spacing = config["prompts"].get("spacing")
    auto = [t for t in TASKS if resolve_spacing(REGISTRY[t], spacing) == "auto"]
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


for _name in [n for n in enabled_analyses() if n in MODEL_JOB_INPUTS]:

    rule:
        name:
            _name
        input:
            unpack(model_job_inputs(_name, *MODEL_JOB_INPUTS[_name])),
        output:
            analysis_raw(_name, "{model}")
            + ([L.gd_distributions("{model}", t) for t in analysis_tasks("gd")] if _name == "gd" else []),
        params:
            name=_name,
            tasks=analysis_tasks(_name),
            task_specs={t: REGISTRY[t].to_dict() for t in analysis_tasks(_name)},
            pairs=PAIRS,
            data_dir=str(DATA),
            prompts=config["prompts"],
            settings=config["analyses"][_name],
            evaluation=EVALUATION,
        threads: 2
        resources:
            gpu=1,
            mem_mb=16000,
        log:
            L.log(_name, "{model}"),
        benchmark:
            L.benchmark(_name, "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            f"../scripts/{_name}.py"


def score_inputs(wildcards):
    name, model = wildcards.analysis, wildcards.model
    inputs = {"raw": analysis_raw(name, model), "code": code("stages.score_analyses")}
    if name == "gd":
        inputs["distributions"] = [L.gd_distributions(model, t) for t in analysis_tasks("gd")]
    if name != "conflicts":
        kinds = ("prompts", "sweeps") + (("evals",) if name == "prompt_format" else ())
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
        modes={t: REGISTRY[t].scoring for t in TASKS},
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
