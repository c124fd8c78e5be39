"""Who am I, my tokens, and (for platform owners) principals and their tokens."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from governance.access import service
from governance.access.schemas import (
    Me,
    PrincipalCreate,
    PrincipalInfo,
    TokenCreate,
    TokenInfo,
    TokenIssued,
)
from governance.core.errors import NotFound
from steward.api.deps import AuthenticatedDep, Caller, ServicesDep, require
from steward.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["identity"], responses=ERROR_RESPONSES)

SelfCaller = Annotated[Caller, Depends(require("self", "read", scope="self"))]
PrincipalName = Annotated[str, Path(max_length=200)]


@router.get("/me", response_model=Me)
def me(caller: SelfCaller, svc: ServicesDep) -> Me:
    """The caller, how it authenticated, and its roles per project."""
    p = caller.principal
    roles = {proj: sorted(r) for proj, r in sorted(svc.policy.projects(p.name).items())}
    return Me(name=p.name, kind=p.kind, via=p.via, roles=roles)


@router.post("/tokens", response_model=TokenIssued, status_code=201)
def create_own_token(
    body: TokenCreate, caller: SelfCaller, auth: AuthenticatedDep, svc: ServicesDep
) -> TokenIssued:
    """Create a token for yourself; the secret is shown once."""
    # It may not expire after the credential of this request: an asked-for expiry beyond it is a
    # 422 naming expires_in_days, the default one is shortened to it.
    if body.principal not in (None, caller.principal.name):
        raise NotFound("use /principals/{name}/tokens to create tokens for others")
    return service.issue_token(
        svc.db,
        principal=caller.principal.name,
        name=body.name,
        expires_in_days=body.expires_in_days,
        actor=caller.principal,
        not_after=auth.expires_at,
        asked="expires_in_days" in body.model_fields_set,
        clock=svc.clock,
    )


@router.get("/tokens", response_model=list[TokenInfo])
def list_own_tokens(caller: SelfCaller, svc: ServicesDep) -> list[TokenInfo]:
    """Your tokens (metadata only)."""
    if caller.principal.id is None:
        return []
    return service.list_tokens(svc.db, principal_id=caller.principal.id)


@router.delete("/tokens/{token_id}", response_model=TokenInfo)
def revoke_own_token(token_id: UUID, caller: SelfCaller, svc: ServicesDep) -> TokenInfo:
    """Revoke one of your tokens."""
    return service.revoke_token(
        svc.db, token_id=token_id, actor=caller.principal, any_owner=False, clock=svc.clock
    )


@router.get("/principals", response_model=list[PrincipalInfo])
def list_principals(
    caller: Annotated[Caller, Depends(require("principal", "read", scope="system"))],
    svc: ServicesDep,
) -> list[PrincipalInfo]:
    """Every user and service account."""
    return service.list_principals(svc.db)


@router.post("/principals", response_model=PrincipalInfo, status_code=201)
def create_principal(
    body: PrincipalCreate,
    caller: Annotated[Caller, Depends(require("principal", "write", scope="system"))],
    svc: ServicesDep,
) -> PrincipalInfo:
    """Create a user or a service account."""
    return service.create_principal(svc.db, data=body, actor=caller.principal, clock=svc.clock)


@router.post("/principals/{name}/tokens", response_model=TokenIssued, status_code=201)
def create_token_for(
    name: PrincipalName,
    body: TokenCreate,
    caller: Annotated[Caller, Depends(require("token", "write", scope="system"))],
    auth: AuthenticatedDep,
    svc: ServicesDep,
) -> TokenIssued:
    """Create a token for a principal (e.g. a service account); shown once."""
    # A token for yourself is bounded by your credential, whichever route creates it.
    own = name == caller.principal.name
    return service.issue_token(
        svc.db,
        principal=name,
        name=body.name,
        expires_in_days=body.expires_in_days,
        actor=caller.principal,
        not_after=auth.expires_at if own else None,
        asked="expires_in_days" in body.model_fields_set,
        clock=svc.clock,
    )


@router.get("/principals/{name}/tokens", response_model=list[TokenInfo])
def list_tokens_of(
    name: PrincipalName,
    caller: Annotated[Caller, Depends(require("token", "read", scope="system"))],
    svc: ServicesDep,
) -> list[TokenInfo]:
    """A principal's tokens (metadata only)."""
    return [t for t in service.list_tokens(svc.db, principal_id=None) if t.principal == name]


@router.delete("/principals/{name}/tokens/{token_id}", response_model=TokenInfo)
def revoke_token_of(
    name: PrincipalName,
    token_id: UUID,
    caller: Annotated[Caller, Depends(require("token", "delete", scope="system"))],
    svc: ServicesDep,
) -> TokenInfo:
    """Revoke any principal's token."""
    if not any(t.id == token_id for t in service.list_tokens(svc.db, principal_id=None)
               if t.principal == name):  # fmt: skip
        raise NotFound("token not found")
    return service.revoke_token(
        svc.db, token_id=token_id, actor=caller.principal, any_owner=True, clock=svc.clock
    )
