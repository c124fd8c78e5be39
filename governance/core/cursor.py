"""Opaque page cursors: the sort key of the last item returned, as URL-safe text."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from governance.core.clock import isoformat, to_utc
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


def encode_time_cursor(when: datetime, ident: uuid.UUID) -> str:
    """The cursor after an item sorted by (time, id), newest first."""
    return encode_cursor(isoformat(when), str(ident))


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (time, id) a cursor of ``encode_time_cursor`` carries; None for no cursor."""
    if not cursor:
        return None
    when, ident = decode_cursor(cursor, arity=2)
    try:
        return to_utc(datetime.fromisoformat(when)), uuid.UUID(ident)
    except ValueError as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc
