"""Small typed builders for tests: principals, projects, tokens per role."""

from __future__ import annotations

from dataclasses import dataclass, field

from governance.access import service
from governance.access.schemas import ROLES, PrincipalCreate, ProjectCreate
from governance.core.principal import Principal, PrincipalKind
from steward.api.deps import Services

OPERATOR = Principal(id=None, name="cli@test", kind=PrincipalKind.system, via="cli")


@dataclass(kw_only=True)
class World:
    """Who is who in a test: tokens by role in project 'alpha', plus strangers."""

    admin_token: str
    tokens: dict[str, str] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)
    outsider_token: str = ""
    project: str = "alpha"
    other_project: str = "beta"

    def headers(self, role: str) -> dict[str, str]:
        """Authorization header for the principal holding ``role`` in 'alpha'."""
        token = self.admin_token if role == "admin" else self.tokens[role]
        return {"Authorization": f"Bearer {token}"}


def make_principal(svc: Services, name: str, kind: PrincipalKind = PrincipalKind.user) -> Principal:
    """Create a principal and return it as an actor."""
    info = service.create_principal(
        svc.db, data=PrincipalCreate(name=name, kind=kind), actor=OPERATOR
    )
    return Principal(id=info.id, name=name, kind=kind)


def make_token(svc: Services, name: str, *, days: int | None = 30) -> str:
    """Issue a token for ``name``."""
    return service.issue_token(
        svc.db, principal=name, name="test", expires_in_days=days, actor=OPERATOR
    ).token


def build_world(svc: Services) -> World:
    """Admin (owner of '_system', 'alpha', 'beta'), one user per role in 'alpha', an outsider."""
    issued = service.bootstrap(svc.db, owner="admin", project="alpha", actor=OPERATOR)
    assert issued is not None
    admin = Principal(id=issued.id, name="admin", kind=PrincipalKind.user)
    service.create_project(svc.db, data=ProjectCreate(name="beta"), actor=admin)
    world = World(admin_token=issued.token)
    for role in ROLES:
        name = f"{role}-user"
        world.principals[role] = make_principal(svc, name)
        service.grant_role(svc.db, project="alpha", principal=name, role=role, actor=OPERATOR)
        world.tokens[role] = make_token(svc, name)
    make_principal(svc, "outsider")
    service.grant_role(svc.db, project="beta", principal="outsider", role="owner", actor=OPERATOR)
    world.outsider_token = make_token(svc, "outsider")
    service.sync_policy(svc.db, svc.policy)
    return world
