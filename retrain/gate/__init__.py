"""Evaluation gates: challenger against champion on quality and fairness."""
