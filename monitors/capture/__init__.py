"""Inference capture: Parquet logs of what endpoints received and returned, and labels."""
