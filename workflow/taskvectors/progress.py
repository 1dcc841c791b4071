"""The progress bar of long stages, on stderr (rules route stderr to the job's log)."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def progress(iterable: Iterable, total: int | None = None, desc: str = "") -> Iterable:
    """A tqdm bar that updates at most every two seconds (logs stay short)."""
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=2.0, ncols=100)
