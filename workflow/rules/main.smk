# Stages 2-4: one model job per (model, task), its scoring, and the run's summary tables.

# In `sweep_test: best` mode the model job scores its dev sweep to pick the test layer, so the
# scoring code is one of its inputs; in `all` mode it never scores, and a scoring edit leaves it.
RUN_TASK_CODE = ["stages.run_task"] + (["scoring.evaluation"] if EVALUATION["sweep_test"] == "best" else [])


rule run_task:
    # The headline results first: analyses wait for the main stages when both are ready.
    priority: 10
    input:
        model=L.model_record("{model}"),
        data=get_task_data,
        code=code(*RUN_TASK_CODE),
    output:
        prompts=L.prompts("{model}", "{task}"),
        activations=L.activations("{model}", "{task}"),
        predictions=L.predictions("{model}", "{task}"),
    params:
        task=get_task_entry,
        data_dir=str(DATA),
        prompts=config["prompts"],
        evaluation={
            k: EVALUATION[k] for k in ("batch_size", "batch_rows", "max_answer_tokens", "sweep_test")
        },
    threads: config["model_job_threads"]
    resources:
        gpu=1,
        mem_mb=model_mem_mb,
    log:
        L.log("run_task", "{model}", "{task}"),
    benchmark:
        L.benchmark("run_task", "{model}", "{task}")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/run_task.py"


rule evaluate:
    priority: 10
    input:
        prompts=L.prompts("{model}", "{task}"),
        predictions=L.predictions("{model}", "{task}"),
        code=code("stages.evaluate"),
    output:
        sweep=L.sweep("{model}", "{task}"),
        eval=L.eval("{model}", "{task}"),
    params:
        answer=EVALUATION["answer"],
        prompts=config["prompts"],
    resources:
        mem_mb=2000,
    log:
        L.log("evaluate", "{model}", "{task}"),
    benchmark:
        L.benchmark("evaluate", "{model}", "{task}")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/evaluate.py"


rule summarize:
    priority: 10
    input:
        evals=per_model_task(L.eval),
        sweeps=per_model_task(L.sweep),
        prompts=per_model_task(L.prompts),
        models=[L.model_record(m) for m in MODELS],
        code=code("stages.summarize"),
    output:
        summary=report(L.summary(), caption="../report/summary.rst", category="Tables"),
        models=report(L.summary_models(), caption="../report/summary.rst", category="Tables"),
        provenance=L.summary_provenance(),
    params:
        models=MODELS,
        tasks=TASKS,
        categories={task: REGISTRY[task].family for task in TASKS},
    resources:
        mem_mb=2000,
    log:
        L.log("summarize", "all"),
    benchmark:
        L.benchmark("summarize", "all")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/summarize.py"
