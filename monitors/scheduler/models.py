"""The leader lease of the monitoring daemons (bookkeeping, not governed state)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.core.db import Base, UTCDateTime


class LeaseRow(Base):
    """Who leads, until when; ``epoch`` grows with every change of holder (a fencing token)."""

    __tablename__ = "monitor_leases"
    __table_args__ = {"info": {"governed": False}}  # noqa: RUF012

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    epoch: Mapped[int] = mapped_column(BigInteger, default=1)
