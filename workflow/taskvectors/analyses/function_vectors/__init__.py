"""Function vectors (Todd et al., ICLR 2024) beside the paper's task vectors.

A few attention heads carry the demonstrated task; the sum of their mean outputs, added to the
residual stream of a zero-shot prompt, makes the model do the task. :mod:`.heads` reads the heads
and measures their causal indirect effect; :mod:`.vectors` builds the function vector, adds it to
queries, and saves and applies task and function vectors as files.
"""
