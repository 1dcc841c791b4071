"""Puts the workflow's own taskvectors package first on sys.path.

Jobs run with ``--sdm conda`` (or in a container) get no ``PYTHONPATH`` from Snakemake, so every
script imports this module first and finds the package next to itself, installed or not.
"""

import sys
from pathlib import Path

_WORKFLOW_DIR = str(Path(__file__).resolve().parents[1])
if _WORKFLOW_DIR not in sys.path:
    sys.path.insert(0, _WORKFLOW_DIR)
