"""Request dependencies: the service container, authentication, and route permissions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import Depends, Query, Request

from governance.access.authorization import authorize
from governance.access.enforcer import PolicyEngine
from governance.access.failures import FailureTally
from governance.access.oidc import JwtVerifier
from governance.access.schemas import SYSTEM_PROJECT, Authenticated
from governance.access.service import authenticate_credential, sync_policy
from governance.audit.sealer import Sealer
from governance.audit.signing import Signer
from governance.audit.witness import Witnesses
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.errors import Unauthenticated
from governance.core.principal import Principal
from governance.core.secrets import SecretBox
from governance.core.settings import Settings
from monitors.capture.source import EndpointSchemaSource
from retrain.scoring import Scorer
from steward.api.ratelimit import RateLimiter

MAX_PAGE = 500
Scope = Literal["project", "system", "self"]


@dataclass(kw_only=True)
class Services:
    """Everything a request may need, built once by ``create_app``."""

    settings: Settings
    db: Database
    policy: PolicyEngine
    signer: Signer
    limiter: RateLimiter
    # Where signed checkpoints are copied outside the database; the sealer started by the app.
    witnesses: Witnesses | None = None
    sealer: Sealer | None = None
    jwt: JwtVerifier | None = None
    clock: Clock = field(default_factory=SystemClock)
    # OpenLineage job namespaces mapped to the projects their events belong to.
    namespace_map: Mapping[str, str] = field(default_factory=dict)
    # Where inference ingest finds an endpoint's expected schema; None: the lineage graph.
    schema_source: EndpointSchemaSource | None = None
    # Failed authentications, audited per client and reason per interval; built from settings.
    auth_failures: FailureTally = field(init=False)
    # Seals and opens secrets at rest (webhook signing secrets); built from settings.
    secrets: SecretBox = field(init=False)
    # Scores requests and buffers their capture; built at the first scoring request.
    scorer: Scorer | None = None

    def __post_init__(self) -> None:
        interval = timedelta(seconds=self.settings.auth_failure_interval_seconds)
        self.auth_failures = FailureTally(self.db, interval=interval)
        self.secrets = SecretBox.from_settings(self.settings)


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """The authenticated principal and the project (domain) the request is about."""

    principal: Principal
    project: str | None


def services(request: Request) -> Services:
    """The app's service container."""
    svc = request.app.state.services
    assert isinstance(svc, Services)
    return svc


ServicesDep = Annotated[Services, Depends(services)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("missing bearer token")
    return credential.strip()


def current_authentication(request: Request, svc: ServicesDep) -> Authenticated:
    """Authenticate the request (once per request) and apply the caller's rate limit."""
    cached = getattr(request.state, "authenticated", None)
    if isinstance(cached, Authenticated):
        return cached
    svc.auth_failures.flush_due(svc.clock.now())
    try:
        authenticated = authenticate_credential(
            svc.db, _bearer(request), jwt=svc.jwt, clock=svc.clock
        )
    except Unauthenticated as exc:
        client = request.client.host if request.client else "unknown"
        svc.limiter.hit(f"auth-fail:{client}")
        svc.auth_failures.record(source=client, reason=exc.detail, now=svc.clock.now())
        raise
    principal = authenticated.principal
    svc.limiter.hit(principal.ref)
    sync_policy(svc.db, svc.policy)
    request.state.authenticated = authenticated
    request.state.principal = principal
    return authenticated


AuthenticatedDep = Annotated[Authenticated, Depends(current_authentication)]


def current_principal(authenticated: AuthenticatedDep) -> Principal:
    """The authenticated principal of the request."""
    return authenticated.principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(obj: str, act: str, *, scope: Scope = "project") -> Callable[..., Caller]:
    """Dependency that authenticates and authorises ``(obj, act)``; routes declare it."""

    def dependency(request: Request, svc: ServicesDep, principal: PrincipalDep) -> Caller:
        if scope == "self":
            return Caller(principal=principal, project=None)
        project = SYSTEM_PROJECT if scope == "system" else str(request.path_params["project"])
        authorize(principal, project, obj, act, db=svc.db, policy=svc.policy)
        return Caller(principal=principal, project=None if scope == "system" else project)

    dependency.steward_permission = (obj, act, scope)  # type: ignore[attr-defined]
    return dependency


def permission_of(dependency: Any) -> tuple[str, str, str] | None:
    """The (object, action, scope) a ``require`` dependency checks, for route enumeration."""
    value = getattr(dependency, "steward_permission", None)
    return value if isinstance(value, tuple) else None


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
Cursor = Annotated[str | None, Query(max_length=200, description="cursor from the previous page")]


def body_chunks(request: Request) -> Iterator[bytes]:
    """The request body as it arrives, read from the event loop by this worker thread.

    For uploads too large to buffer: a sync route streams them to disk chunk by chunk.
    """
    stream = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk
