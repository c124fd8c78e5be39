"""The published JSON Schema of the JSON report format, generated from ``Report``.

``report.schema.json`` is this module's output, checked in so that readers without Steward can
validate a report; a test fails when it differs from what ``generate`` gives. Regenerate it with
``python -m steward.reports.schema``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from steward.reports.document import SCHEMA_VERSION, Report
from steward.reports.signing import Signature

SCHEMA_ID = "https://steward.dev/schemas/report/1/report.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME = "report.schema.json"


def generate() -> dict[str, Any]:
    """The schema of a report file: ``Report`` plus the optional ``signature`` member."""
    schema = Report.model_json_schema(mode="serialization")
    signature = Signature.model_json_schema(mode="serialization", by_alias=True)
    defs = {**schema.pop("$defs", {}), **signature.pop("$defs", {})}
    defs["Signature"] = signature
    schema["properties"]["signature"] = {
        "$ref": "#/$defs/Signature",
        "description": "Ed25519 signature of the file (see `steward report verify`)",
    }
    about = f"A Steward compliance report ({SCHEMA_VERSION}) in canonical JSON."
    head = {"$schema": DRAFT, "$id": SCHEMA_ID, "title": "Steward report", "description": about}
    return {**head, **{k: v for k, v in schema.items() if k != "title"}, "$defs": defs}


def render() -> str:
    """The schema as the published file's text."""
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def published() -> str:
    """The text of the published schema file shipped in the package."""
    return resources.files(__name__).joinpath(FILE_NAME).read_text("utf-8")


def write(path: Path | None = None) -> Path:
    """Write the schema to ``path`` (default: the published file in the package)."""
    target = path or Path(__file__).with_name(FILE_NAME)
    target.write_text(render(), encoding="utf-8")
    return target
