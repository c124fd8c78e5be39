"""Monitoring statistics: drift, data quality, performance, fairness and attribution drift."""
