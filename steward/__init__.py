"""Steward, the application: the REST API, the CLI, migrations, metrics and the demo."""
