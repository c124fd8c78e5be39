"""Alerts raised by monitors, and their notification channels (signed webhooks)."""
