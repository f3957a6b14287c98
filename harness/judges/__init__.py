"""judges: LLM judge clients, the DeepEval absolute judge, the pairwise judge, agreement statistics."""
