"""Rollouts: immediate, shadow and canary deployments, and rollback."""
