# Stage 1: resolve each model alias to local weights (embedded models are converted once).


rule prepare_model:
    output:
        f"{RESULTS}/models/{{model}}.json",
    params:
        entry=get_model_entry,
        cache_dir=config["model_cache_dir"],
    input:
        code("stages.prepare_model"),
    log:
        log_path("prepare_model", "{model}"),
    benchmark:
        benchmark_path("prepare_model", "{model}")
    resources:
        mem_mb=8000,
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/prepare_model.py"
