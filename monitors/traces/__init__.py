"""LLM traces: OTLP spans of an LLM application stored as inference records of an LLM endpoint."""
