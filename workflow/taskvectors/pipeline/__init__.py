"""What the Snakefile asks of Python: the config read and checked, start-up checks, the run plan,
params, code dependencies and the results lock."""
