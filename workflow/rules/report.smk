# The report: one self-contained HTML page with the paper's results and analyses.


rule report:
    input:
        summary=f"{RESULTS}/summary.csv",
        sweeps=expand(f"{RESULTS}/sweeps/{{model}}/{{task}}.parquet", model=MODELS, task=TASKS),
        evals=expand(f"{RESULTS}/eval/{{model}}/{{task}}.parquet", model=MODELS, task=TASKS),
        models=expand(f"{RESULTS}/models/{{model}}.json", model=MODELS),
        analyses=get_report_analyses,
        reference=[
            DATA / "reference" / "hendel2023_main_results.csv",
            DATA / "reference" / "hendel2023_dev_accuracy_by_layer.csv",
        ],
        code=code("report.build"),
        templates=[f"{PACKAGE_ROOT}/taskvectors/report/templates/index.html",
                   f"{PACKAGE_ROOT}/taskvectors/report/style.css"],
    output:
        f"{REPORTS}/index.html",
    params:
        models=MODELS,
        tasks=TASKS,
        pairs=PAIRS,
        analyses=ANALYSES,
        config=config,
    resources:
        mem_mb=4000,
    log:
        log_path("report", "all"),
    benchmark:
        benchmark_path("report", "all")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/report.py"
