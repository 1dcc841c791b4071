"""Task recognition versus task learning (issue 23): does a task vector form when the
demonstrations' pairing is wrong (recognition) or when the mapping can only be learnt from them
(learning)? ``conditions`` builds the prompts of each condition from the run's examples, with no
model; the model job, scoring and report section come with the analysis registry.
"""
