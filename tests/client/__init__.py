"""Tests of the Python SDK against the real app over real HTTP."""
