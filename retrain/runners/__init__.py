"""Runners: where a pipeline step executes (local processes or a Dask cluster)."""
