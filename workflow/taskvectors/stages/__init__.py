"""The pipeline's stages: one function per Snakemake rule, each reading and writing result files."""
