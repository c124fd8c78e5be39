"""Pipelines: versioned DAGs of steps, and their runs."""
