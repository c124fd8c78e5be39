"""The collectors of the model report: one module per group of sections, fed by ``records``."""
