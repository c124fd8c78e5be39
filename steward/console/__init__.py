"""The web console: static pages served by ``steward serve`` at ``/`` that use only the REST API."""

from __future__ import annotations

from fastapi import FastAPI


def install_console(app: FastAPI) -> None:
    """Serve the console's shipped assets at ``/`` (after every API route)."""
    return None  # the console work (issue 15) serves its assets here
