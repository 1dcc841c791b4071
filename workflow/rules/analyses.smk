# The paper's analyses and their extensions. Each writes raw predictions or vectors per model,
# and a model-free `score_analysis` job per model writes the documented score table the report
# renders. Each is switchable (analyses.<name>). All but geometry are model jobs (one model load
# for all of a model's tasks); geometry takes its vectors from the activations of `run_task`.

# One job per analysis and model (written out: Snakemake resolves a rule's script lazily,
# so rules made in a loop would all run the last script).
if "geometry" in enabled_analyses():

    # Model-free and as cheap as evaluate (it copies rows of the activations tables): local.
    localrules:
        geometry,

    rule geometry:
        input:
            activations=[L.activations("{model}", t) for t in analysis_tasks("geometry")],
            code=code("stages.geometry"),
        output:
            analysis_raw("geometry", "{model}"),
        params:
            tasks=analysis_tasks("geometry"),
            settings=config["analyses"]["geometry"],
        threads: 1
        resources:
            mem_mb=2000,
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
