"""The run's report: one self-contained HTML page rendered from the run's declared result tables.

``build_report(ReportInputs(...), ...)`` is the entry point (the Snakemake ``report`` rule calls
it); ``inputs`` reads the declared files strictly, the ``*_section`` modules choose rows and
format them, ``figures*`` plot them, and ``page`` holds the blocks the Jinja2 template renders.
"""

from taskvectors.report.build import ReportInputs, build_report

__all__ = ["ReportInputs", "build_report"]
