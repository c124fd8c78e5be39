"""Data files of the reports: the versioned regulatory mapping (``regulatory.yaml``)."""
