"""The docs test: every example in README.md and docs/*.md runs against a real server."""
