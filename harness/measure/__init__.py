"""measure: tasks (dataset + official prompt + request type) and checks (per-item values vs the baseline)."""
