# The report: one self-contained HTML page (plus its figures and the data behind them) rendered
# from declared inputs only: the summary tables, sweeps, model records, analysis scores, the
# paper's published numbers and the jobs' benchmark files. It computes no score.

REFERENCE = {
    "main_results": str(DATA / "reference" / "hendel2023_main_results.csv"),
    "dev_accuracy_by_layer": str(DATA / "reference" / "hendel2023_dev_accuracy_by_layer.csv"),
}


rule report:
    input:
        summary=L.summary(),
        summary_models=L.summary_models(),
        summary_provenance=L.summary_provenance(),
        sweeps=per_model_task(L.sweep),
        models=[L.model_record(m) for m in MODELS],
        scores=[L.scores(n, m) for n in enabled_analyses() for m in MODELS],
        reference=list(REFERENCE.values()),
        benchmarks=get_report_benchmarks,
        code=code("report.build")
        + code_of(*(m for n in enabled_analyses() for m in ANALYSES[n].modules("section"))),
        templates=[
            f"{PACKAGE_ROOT}/taskvectors/report/templates/index.html",
            f"{PACKAGE_ROOT}/taskvectors/report/style.css",
        ],
    output:
        page=report(L.report_page(), caption="../report/page.rst", category="Report"),
        figures=directory(L.report_figures()),
        data=directory(L.report_data()),
    params:
        models=MODELS,
        tasks=TASKS,
        analyses=enabled_analyses(),
        config=config,
    resources:
        mem_mb=4000,
    log:
        L.log("report", "all"),
    benchmark:
        L.benchmark("report", "all")
    conda:
        "../../envs/taskvectors.yaml"
    script:
        "../scripts/report.py"
