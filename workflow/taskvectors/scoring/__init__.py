"""From raw predictions to numbers a researcher can trust: answers scored as the paper scores them,
intervals, baselines."""
