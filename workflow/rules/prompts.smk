# Stage 2: the task's prompts for a model's tokenizer (filtering, seeded dev/test splits).


rule build_prompts:
    priority: 10
    input:
        model=get_model_record,
        data=get_task_data,
        code=code("stages.build_prompts"),
    output:
        f"{RESULTS}/prompts/{{model}}/{{task}}.json",
    params:
        task=get_task_entry,
        data_dir=str(DATA),
        prompts=config["prompts"],
    log:
        log_path("build_prompts", "{model}", "{task}"),
    benchmark:
        benchmark_path("build_prompts", "{model}", "{task}")
    resources:
        mem_mb=4000,
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/build_prompts.py"
