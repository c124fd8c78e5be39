"""Who acts: the authenticated principal every service call is made for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class PrincipalKind(StrEnum):
    """Kinds of principals."""

    user = "user"
    service = "service"
    system = "system"


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """An authenticated caller."""

    id: UUID | None
    name: str
    kind: PrincipalKind = PrincipalKind.user
    via: str = "token"

    @property
    def ref(self) -> str:
        """Stable text reference used in audit entries."""
        return f"{self.kind}:{self.name}"


SYSTEM = Principal(id=None, name="steward", kind=PrincipalKind.system, via="internal")
