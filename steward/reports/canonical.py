"""Canonical JSON of a report: the bytes its digest and signature are computed over."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def canonical_bytes(value: BaseModel | dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: equal documents give equal bytes."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)  # fmt: skip
    return text.encode()


def digest(value: BaseModel | dict[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()
