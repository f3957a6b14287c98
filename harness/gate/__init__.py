"""gate: baselines, thresholds, paired statistics and pass/fail verdicts."""
