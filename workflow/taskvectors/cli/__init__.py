"""The ``taskvectors`` command line and its benchmarks."""
