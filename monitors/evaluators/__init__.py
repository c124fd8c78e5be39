"""Evaluators of LLM answers: deterministic text metrics, and judges behind OpenAI-style APIs."""
