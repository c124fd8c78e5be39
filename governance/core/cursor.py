"""Opaque page cursors: the sort key of the last item returned, as URL-safe text."""

from __future__ import annotations

import base64
import binascii
import json

from governance.core.errors import InvalidInput


def encode_cursor(*parts: str) -> str:
    """The cursor that resumes after the item whose sort key is ``parts``."""
    text = json.dumps(list(parts), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, arity: int) -> tuple[str, ...]:
    """The sort key a cursor carries; anything not made by ``encode_cursor`` is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4))
        parts = json.loads(raw.decode())
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc
    if (
        not isinstance(parts, list)
        or len(parts) != arity
        or not all(isinstance(p, str) for p in parts)
    ):
        raise InvalidInput("malformed cursor", field="cursor")
    return tuple(parts)
