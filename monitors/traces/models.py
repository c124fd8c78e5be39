"""Tables of trace capture: each project's PII-redaction setting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, CanonicalJSON, UTCDateTime


class RedactionRow(Base):
    """A project's redaction setting; a project without a row uses every built-in rule."""

    __tablename__ = "monitor_trace_redaction"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    builtins: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    # [{"name": ..., "pattern": ...}], checked by ``redact.check_pattern`` before they are stored
    custom: Mapped[list[dict[str, Any]]] = mapped_column(CanonicalJSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
