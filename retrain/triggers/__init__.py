"""Triggers: what launches a pipeline run (alerts, schedules, a person)."""
