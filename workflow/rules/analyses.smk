# The analyses: the paper's and their extensions, each declared once in the registry
# (workflow/taskvectors/analyses/<name>/__init__.py). Each enabled analysis gets a model job per
# model (rule <name>: one model load for all of that model's tasks; an analysis whose job needs
# no model, like geometry, runs locally) writing raw files, and a model-free score job
# (score_analysis) writing the documented table the report renders. Both rules take from the
# declaration exactly the files and the config slice the analysis reads (RunPlan.job_params and
# score_params), so editing one analysis's settings reruns that analysis and nothing else.

for _name in enabled_analyses():
    _analysis = ANALYSES[_name]

    rule:
        name:
            _name
        input:
            unpack(analysis_job_inputs(_name)),
        output:
            **PLAN.analysis_outputs(_name, "{model}"),
        params:
            request=PLAN.job_params(_name),
        localrule: not _analysis.loads_model
        threads: config["model_job_threads"] if _analysis.loads_model else 1
        resources:
            **(
                {"gpu": 1, "mem_mb": model_mem_mb, "runtime": analysis_runtime(_name)}
                if _analysis.loads_model
                else {"mem_mb": 2000}
            ),
        log:
            L.log(_name, "{model}"),
        benchmark:
            L.benchmark(_name, "{model}")
        conda:
            "../../envs/taskvectors.yaml"
        script:
            "../scripts/analysis_job.py"


rule score_analysis:
    input:
        unpack(score_inputs),
    output:
        L.scores("{analysis}", "{model}"),
    params:
        request=score_params,
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
