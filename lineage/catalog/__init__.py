"""The organisation-wide model catalogue: published and external models, search, use in a
project."""
