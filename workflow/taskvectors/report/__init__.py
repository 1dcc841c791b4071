"""The run's report: one self-contained HTML page with the paper's analyses of the results.

``build_report`` is the entry point (the Snakemake ``report`` rule calls it); ``figures`` holds the
plotting functions and ``page`` the blocks the Jinja2 template renders.
"""

from taskvectors.report.build import build_report

__all__ = ["build_report"]
