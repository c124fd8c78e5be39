"""Approvals: a second person lets a passing challenger deploy."""
