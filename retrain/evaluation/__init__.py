"""Evaluation runs: prompt variants over a dataset, scored, aggregated and compared."""
