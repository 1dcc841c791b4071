"""The results contract: where every file lives, how it is stored, what it holds and where it came
from (docs/outputs.md)."""
