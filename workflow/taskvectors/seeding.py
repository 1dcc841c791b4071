"""Seeds that do not depend on the process: SHA-256 of the parts that identify a draw.

Python's ``hash()`` of a string changes with ``PYTHONHASHSEED``; every sampler of the suite takes
its seed from here instead, so the same config gives the same prompts, orders and tables in any
process.
"""

from __future__ import annotations

import hashlib


def derived_seed(*parts: object) -> int:
    """A 64-bit seed from ``sha256`` of the parts joined by ``:`` (stable across processes)."""
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")
