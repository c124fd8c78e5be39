"""Data shipped for ``steward demo``: the Adult census data (CC BY 4.0, see attribution.json)."""
