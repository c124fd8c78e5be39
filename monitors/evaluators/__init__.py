"""Evaluators of LLM answers: deterministic text metrics and judges behind an OpenAI-compatible API."""
