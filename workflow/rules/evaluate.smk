# Stages 5-6: scoring, layer sweep and best layer per task; the summary table of the run.


rule evaluate:
    priority: 10
    input:
        prompts=f"{RESULTS}/prompts/{{model}}/{{task}}.json",
        icl=f"{RESULTS}/predictions/{{model}}/{{task}}.icl.parquet",
        patched=f"{RESULTS}/predictions/{{model}}/{{task}}.patched.parquet",
        code=code("stages.evaluate"),
    output:
        sweep=f"{RESULTS}/sweeps/{{model}}/{{task}}.parquet",
        eval=f"{RESULTS}/eval/{{model}}/{{task}}.parquet",
    params:
        answer=config["evaluation"]["answer"],
    resources:
        mem_mb=2000,
    log:
        log_path("evaluate", "{model}", "{task}"),
    benchmark:
        benchmark_path("evaluate", "{model}", "{task}")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/evaluate.py"


rule summarize:
    priority: 10
    input:
        evals=expand(f"{RESULTS}/eval/{{model}}/{{task}}.parquet", model=MODELS, task=TASKS),
        sweeps=expand(f"{RESULTS}/sweeps/{{model}}/{{task}}.parquet", model=MODELS, task=TASKS),
        models=expand(f"{RESULTS}/models/{{model}}.json", model=MODELS),
        code=code("stages.summarize"),
    output:
        f"{RESULTS}/summary.csv",
    params:
        models=MODELS,
        tasks=TASKS,
        categories={task: REGISTRY[task].family for task in TASKS},
    resources:
        mem_mb=2000,
    log:
        log_path("summarize", "all"),
    benchmark:
        benchmark_path("summarize", "all")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/summarize.py"
