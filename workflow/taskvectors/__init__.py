"""taskvectors: reproduce and extend "In-Context Learning Creates Task Vectors" on any causal LM.

The package is what the Snakemake rules call: every stage is a typed function here, unit-tested
without Snakemake. See README.md for the pipeline and docs/outputs.md for the files it writes.
"""

__version__ = "0.1.0"
