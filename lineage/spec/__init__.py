"""The OpenLineage JSON schema, shipped as package data."""
