"""Compliance reports: model cards and project governance reports built from Steward's records.

``document`` and ``blocks`` are the report's data and its presentation; ``model_report`` and
``project_report`` collect the records; ``render`` writes HTML, Markdown, JSON and PDF;
``signing`` signs and verifies a rendered file; ``service`` generates, stores and lists.
"""
