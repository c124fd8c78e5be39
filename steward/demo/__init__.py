"""``steward demo``: the whole monitoring loop on Adult census data, on an accelerated clock."""
