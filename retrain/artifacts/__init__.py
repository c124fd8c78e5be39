"""Model artifacts: storage, safe formats and loading."""
