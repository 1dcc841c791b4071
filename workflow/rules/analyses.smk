# The paper's analyses and their extensions: one job per model covering all of its tasks,
# each switchable off in config (analyses.<name>.enabled).

CONFLICT_TASKS = sorted({task for pair in PAIRS for task in pair})


if ANALYSES["geometry"]:

    rule geometry:
        input:
            model=get_model_record,
            prompts=per_task("prompts", "{model}", ".json"),
            code=code("stages.analyses"),
        output:
            analysis_outputs("geometry", "{model}"),
        params:
            tasks=TASKS,
            settings=config["analyses"]["geometry"],
            batch_size=config["evaluation"]["batch_size"],
        threads: 2
        resources:
            gpu=1,
            mem_mb=16000,
        log:
            log_path("geometry", "{model}"),
        benchmark:
            benchmark_path("geometry", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/geometry.py"


if ANALYSES["top_tokens"]:

    rule top_tokens:
        input:
            model=get_model_record,
            activations=per_task("activations", "{model}", ".parquet"),
            code=code("stages.analyses"),
        output:
            analysis_outputs("top_tokens", "{model}"),
        params:
            tasks=TASKS,
            settings=config["analyses"]["top_tokens"],
        threads: 2
        resources:
            gpu=1,
            mem_mb=16000,
        log:
            log_path("top_tokens", "{model}"),
        benchmark:
            benchmark_path("top_tokens", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/top_tokens.py"


if ANALYSES["conflicts"] and PAIRS:

    rule conflicts:
        input:
            model=get_model_record,
            prompts=[f"{RESULTS}/prompts/{{model}}/{t}.json" for t in CONFLICT_TASKS],
            activations=[f"{RESULTS}/activations/{{model}}/{t}.parquet" for t in CONFLICT_TASKS],
            data=[f for t in CONFLICT_TASKS for f in task_data_files(REGISTRY[t], DATA)],
            code=code("stages.analyses"),
        output:
            analysis_outputs("conflicts", "{model}"),
        params:
            pairs=PAIRS,
            tasks={t: REGISTRY[t].to_dict() for t in CONFLICT_TASKS},
            settings=config["analyses"]["conflicts"],
            batch_rows=config["evaluation"]["batch_rows"],
            max_answer_tokens=ANSWER_TOKENS,
        threads: 2
        resources:
            gpu=1,
            mem_mb=16000,
        log:
            log_path("conflicts", "{model}"),
        benchmark:
            benchmark_path("conflicts", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/conflicts.py"


if ANALYSES["order"]:

    rule order:
        input:
            model=get_model_record,
            prompts=per_task("prompts", "{model}", ".json"),
            code=code("stages.analyses"),
        output:
            analysis_outputs("order", "{model}"),
        params:
            tasks=TASKS,
            settings=config["analyses"]["order"],
            batch_size=config["evaluation"]["batch_size"],
            batch_rows=config["evaluation"]["batch_rows"],
            max_answer_tokens=ANSWER_TOKENS,
        threads: 2
        resources:
            gpu=1,
            mem_mb=16000,
        log:
            log_path("order", "{model}"),
        benchmark:
            benchmark_path("order", "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/order.py"
