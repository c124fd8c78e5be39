"""Request dependencies: the service container, authentication, and route permissions.

Authentication and authorisation are decided on the event loop when everything they need is in
memory (a credential and the role bindings checked recently, see ``AccessCache``, and an
allowed request); database work (a credential to check, bindings to reload, a denial to audit)
runs in a worker thread.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

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
# Requests that may change identities, tokens or role bindings (with a non-safe method).
ACCESS_OBJECTS = frozenset({"self", "token", "principal", "member", "project"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_ACCESS_CACHE_SECONDS = 1.0
_MAX_CREDENTIALS = 10_000


class AccessCache:
    """Credentials authenticated, and role bindings loaded, recently: trusted for ``seconds``.

    Within ``seconds`` of its last database check a credential is accepted without a read (its
    expiry is still checked on every request), and the policy engine's bindings are used as
    loaded. So a token revoked, a principal disabled or a role changed by another process (the
    CLI) takes effect within ``seconds``. A change made through this app takes effect on the
    next request: while a request that may change access runs, and once it has, nothing cached
    is used. Credentials are kept by their SHA-256 digest. ``seconds`` 0 disables the cache.
    """

    def __init__(self, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._credentials: OrderedDict[bytes, tuple[Authenticated, float, int]] = OrderedDict()
        self._generation = 0  # bumped when a change of access ends
        self._changing = 0  # requests that may change access, running now
        self._synced: tuple[float, int] | None = None  # bindings loaded: when, at which generation
        self._syncs = 0  # bindings loads noted
        # decisions (who, on what, at which policy epoch) allowed since the bindings were loaded
        self._allowed: set[tuple[object, ...]] = set()

    def generation(self) -> int | None:
        """The generation to stamp what is read now on, or None while access may be changing."""
        with self._lock:
            return None if self._changing else self._generation

    def recall(self, credential: str, *, now: datetime) -> Authenticated | None:
        """The credential's recent authentication, or None: it must be checked in the database."""
        key = _digest(credential)
        with self._lock:
            entry = self._credentials.get(key)
            if entry is None or not self._fresh(entry[1], entry[2], self.seconds):
                return None
        authenticated = entry[0]
        expires = authenticated.expires_at
        # an expired credential is refused (and the failure audited) by the database check
        return None if expires is not None and expires <= now else authenticated

    def remember(self, credential: str, authenticated: Authenticated, generation: int) -> None:
        """Trust ``authenticated``, read at ``generation``, for ``seconds``."""
        with self._lock:
            self._credentials[_digest(credential)] = (authenticated, self.monotonic(), generation)
            while len(self._credentials) > _MAX_CREDENTIALS:
                self._credentials.popitem(last=False)

    def policy_due(self, reload_seconds: float) -> bool:
        """Must the bindings (and the policy files, every ``reload_seconds``) be checked now?"""
        with self._lock:
            synced = self._synced
            return synced is None or not self._fresh(*synced, min(self.seconds, reload_seconds))

    def policy_synced(self, generation: int) -> None:
        """Note that the bindings were loaded from the database at ``generation``."""
        with self._lock:
            self._synced = (self.monotonic(), generation)
            self._syncs += 1
            self._allowed.clear()  # the policy files may have been reloaded too

    def decision_stamp(self) -> tuple[int, int] | None:
        """What a decision made now is valid for, or None while access may be changing."""
        with self._lock:
            return None if self._changing else (self._generation, self._syncs)

    def was_allowed(self, decision: tuple[object, ...]) -> bool:
        """Was ``decision`` allowed with the bindings and policy loaded now?"""
        with self._lock:
            return decision in self._allowed

    def allowed(self, decision: tuple[object, ...], stamp: tuple[int, int]) -> None:
        """Note that ``decision``, made at ``stamp``, was allowed."""
        with self._lock:
            if stamp == (self._generation, self._syncs) and not self._changing:
                self._allowed.add(decision)

    def begin_change(self) -> None:
        """A request that may change access starts: nothing cached is used until it ends."""
        with self._lock:
            self._changing += 1

    def end_change(self) -> None:
        """The request has ended: what was cached before it is stale."""
        with self._lock:
            self._changing -= 1
            self._generation += 1
            self._credentials.clear()
            self._allowed.clear()

    def _fresh(self, at: float, generation: int, seconds: float) -> bool:
        return (
            not self._changing
            and generation == self._generation
            and 0 <= self.monotonic() - at < seconds
        )


def _digest(credential: str) -> bytes:
    return hashlib.sha256(credential.encode()).digest()


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
    # How long a credential and the role bindings are trusted without a database read.
    access_cache_seconds: float = DEFAULT_ACCESS_CACHE_SECONDS
    # Failed authentications, audited per client and reason per interval; built from settings.
    auth_failures: FailureTally = field(init=False)
    # Seals and opens secrets at rest (webhook signing secrets); built from settings.
    secrets: SecretBox = field(init=False)
    # Credentials and bindings checked recently; built from ``access_cache_seconds``.
    access: AccessCache = field(init=False)
    # Scores requests and buffers their capture; built at the first scoring request.
    scorer: Scorer | None = None

    def __post_init__(self) -> None:
        interval = timedelta(seconds=self.settings.auth_failure_interval_seconds)
        self.auth_failures = FailureTally(self.db, interval=interval)
        self.secrets = SecretBox.from_settings(self.settings)
        self.access = AccessCache(self.access_cache_seconds)

    def endpoint_changed(self, project: str, endpoint: str) -> None:
        """What ``endpoint`` serves changed through this server: its scorer looks it up anew."""
        if self.scorer is not None:
            self.scorer.forget(project, endpoint)


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """The authenticated principal and the project (domain) the request is about."""

    principal: Principal
    project: str | None


async def services(request: Request) -> Services:
    """The app's service container."""
    svc = request.app.state.services
    assert isinstance(svc, Services)
    return svc


ServicesDep = Annotated[Services, Depends(services)]


def _bearer(header: str) -> str:
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("missing bearer token")
    return credential.strip()


async def current_authentication(request: Request, svc: ServicesDep) -> Authenticated:
    """Authenticate the request (once per request) and apply the caller's rate limit."""
    cached = getattr(request.state, "authenticated", None)
    if isinstance(cached, Authenticated):
        return cached
    header = request.headers.get("authorization", "")
    recalled = svc.access.recall(header, now=svc.clock.now())
    if recalled is None or svc.access.policy_due(svc.policy.reload_seconds):
        client = request.client.host if request.client else "unknown"
        authenticated = await run_in_threadpool(_check, svc, header, client, recalled)
    else:
        authenticated = recalled
    svc.limiter.hit(authenticated.principal.ref)
    request.state.authenticated = authenticated
    request.state.principal = authenticated.principal
    return authenticated


def _check(
    svc: Services, header: str, client: str, recalled: Authenticated | None
) -> Authenticated:
    """Authenticate in the database unless ``recalled``; load the bindings if they are due."""
    svc.auth_failures.flush_due(svc.clock.now())
    authenticated = recalled
    if authenticated is None:
        generation = svc.access.generation()  # before the read: a change meanwhile voids it
        try:
            authenticated = authenticate_credential(
                svc.db, _bearer(header), jwt=svc.jwt, clock=svc.clock
            )
        except Unauthenticated as exc:
            svc.limiter.hit(f"auth-fail:{client}")
            svc.auth_failures.record(source=client, reason=exc.detail, now=svc.clock.now())
            raise
        if generation is not None:
            svc.access.remember(header, authenticated, generation)
    if svc.access.policy_due(svc.policy.reload_seconds):
        generation = svc.access.generation()
        sync_policy(svc.db, svc.policy)
        if generation is not None:
            svc.access.policy_synced(generation)
    return authenticated


AuthenticatedDep = Annotated[Authenticated, Depends(current_authentication)]


async def current_principal(authenticated: AuthenticatedDep) -> Principal:
    """The authenticated principal of the request."""
    return authenticated.principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(obj: str, act: str, *, scope: Scope = "project") -> Callable[..., Any]:
    """Dependency that authenticates and authorises ``(obj, act)``; routes declare it."""

    async def check(request: Request, svc: ServicesDep, auth: AuthenticatedDep) -> Caller:
        principal = auth.principal  # not through PrincipalDep: one dependency fewer to solve
        if scope == "self":
            return Caller(principal=principal, project=None)
        project = SYSTEM_PROJECT if scope == "system" else str(request.path_params["project"])
        await _authorize(svc, principal, project, obj, act)
        return Caller(principal=principal, project=None if scope == "system" else project)

    async def check_change(
        request: Request, svc: ServicesDep, auth: AuthenticatedDep
    ) -> AsyncIterator[Caller]:
        caller = await check(request, svc, auth)
        if request.method in SAFE_METHODS:
            yield caller
            return
        svc.access.begin_change()
        try:
            yield caller
        finally:
            svc.access.end_change()

    dependency: Callable[..., Any] = check_change if obj in ACCESS_OBJECTS else check
    dependency.steward_permission = (obj, act, scope)  # type: ignore[attr-defined]
    return dependency


async def _authorize(svc: Services, principal: Principal, project: str, obj: str, act: str) -> None:
    decision = (principal.name, principal.kind, project, obj, act, svc.policy.epoch)
    if svc.access.was_allowed(decision):  # allowed by the bindings and policy loaded now
        return
    stamp = svc.access.decision_stamp()
    # What the in-memory policy allows is decided on the event loop; anything else may be a
    # denial, which is audited (a database write), so it is decided in a worker thread.
    if svc.policy.enforce(principal.name, project, obj, act):
        authorize(principal, project, obj, act, db=svc.db, policy=svc.policy)
    else:
        await run_in_threadpool(
            authorize, principal, project, obj, act, db=svc.db, policy=svc.policy
        )
    if stamp is not None:
        svc.access.allowed(decision, stamp)


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
