# The report: one self-contained HTML page with the paper's results and analyses.


def get_report_analyses(wildcards):
    names = [n for n, on in ANALYSES.items() if on and not (n == "conflicts" and not PAIRS)]
    return [path for m in MODELS for n in names for path in analysis_outputs(n, m)]


rule report:
    input:
        summary=f"{RESULTS}/summary.csv",
        sweeps=expand(f"{RESULTS}/sweeps/{{model}}/{{task}}.parquet", model=MODELS, task=TASKS),
        analyses=get_report_analyses,
        reference=["data/reference/hendel2023_main_results.csv",
                   "data/reference/hendel2023_dev_accuracy_by_layer.csv"],
        code=code("report.build"),
    output:
        f"{REPORTS}/index.html",
    params:
        results_dir=RESULTS,
        reports_dir=REPORTS,
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
    script:
        "../scripts/report.py"
