# Stage 1: resolve each model alias to local weights (embedded models are converted once).


rule prepare_model:
    output:
        L.model_record("{model}"),
    params:
        entry=get_model_entry,
        cache_dir=config["model_cache_dir"],
    input:
        code=code("stages.prepare_model"),
    log:
        L.log("prepare_model", "{model}"),
    benchmark:
        L.benchmark("prepare_model", "{model}")
    resources:
        mem_mb=8000,
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/prepare_model.py"
