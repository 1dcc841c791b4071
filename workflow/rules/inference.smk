# Stages 3-4: task vectors and ICL predictions; baseline and patched predictions at every layer.


rule extract:
    # The headline results first: analyses wait for the main stages when both are ready.
    priority: 10
    input:
        model=get_model_record,
        prompts=f"{RESULTS}/prompts/{{model}}/{{task}}.json",
        code=code("stages.extract"),
    output:
        activations=f"{RESULTS}/activations/{{model}}/{{task}}.parquet",
        icl=f"{RESULTS}/predictions/{{model}}/{{task}}.icl.parquet",
    params:
        batch_size=config["evaluation"]["batch_size"],
        max_answer_tokens=ANSWER_TOKENS,
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
    log:
        log_path("extract", "{model}", "{task}"),
    benchmark:
        benchmark_path("extract", "{model}", "{task}")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/extract.py"


rule patch:
    priority: 10
    input:
        model=get_model_record,
        prompts=f"{RESULTS}/prompts/{{model}}/{{task}}.json",
        activations=f"{RESULTS}/activations/{{model}}/{{task}}.parquet",
        code=code("stages.patch"),
    output:
        f"{RESULTS}/predictions/{{model}}/{{task}}.patched.parquet",
    params:
        batch_rows=config["evaluation"]["batch_rows"],
        max_answer_tokens=ANSWER_TOKENS,
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
    log:
        log_path("patch", "{model}", "{task}"),
    benchmark:
        benchmark_path("patch", "{model}", "{task}")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/patch.py"
