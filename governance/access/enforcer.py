"""Casbin enforcement with projects as domains; policy files hot-reload, bindings from the DB."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import casbin

from governance.access.schemas import ROLES, Explanation
from governance.core.errors import InvalidInput

log = logging.getLogger(__name__)

Binding = tuple[str, str, str]  # (principal, role, project)


def _build(policy_dir: Path) -> casbin.FastEnforcer:
    # Only the files: bindings stay in Steward's own index and casbin is asked about the
    # caller's roles (g(role, role, dom) holds), so a grant never rebuilds the enforcer.
    model, policy = policy_dir / "model.conf", policy_dir / "policy.csv"
    for path in (model, policy):
        if not path.is_file():
            raise InvalidInput(f"policy file {path.name} is missing")
    return casbin.FastEnforcer(str(model), str(policy), cache_key_order=[0, 1])


def check_policy_files(
    policy_dir: Path, declared: set[tuple[str, str]] | None = None
) -> tuple[list[str], list[str]]:
    """Validate the policy files against the routes' declared permissions.

    Returns (errors, warnings): errors make the policy unusable or leave a route that no role
    may call; warnings are grants that no route asks for.
    """
    try:
        enforcer = _build(policy_dir)
    except Exception as exc:  # casbin raises plain exceptions on syntax errors
        return [f"cannot load policy: {exc}"], []
    errors: list[str] = []
    lines = [tuple(line) for line in enforcer.get_policy()]
    for line in lines:
        if len(line) != 3 or not all(part.strip() for part in line):
            errors.append(f"malformed policy line {list(line)}")
        elif line[2] not in ROLES:
            errors.append(f"unknown role {line[2]!r} in line {list(line)}")
    granted = {line[:2] for line in lines if len(line) == 3}
    errors += [
        f"built-in role {role!r} grants nothing"
        for role in ROLES
        if not any(len(line) == 3 and line[2] == role for line in lines)
    ]
    if len(set(lines)) != len(lines):
        errors.append("duplicate policy lines")
    warnings: list[str] = []
    if declared is not None:
        errors += [f"no role grants ({o}, {a}), which a route requires" for o, a in
                   sorted(declared - granted)]  # fmt: skip
        warnings += [f"({o}, {a}) is granted but no route requires it" for o, a in
                     sorted(granted - declared)]  # fmt: skip
    return errors, warnings


@dataclass(slots=True)
class _Snapshot:
    enforcer: casbin.FastEnforcer
    bindings: dict[tuple[str, str], frozenset[str]]
    mtimes: tuple[float, float]
    epoch: int = -1
    by_principal: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)


def _index(bindings: Iterable[Binding]) -> dict[tuple[str, str], frozenset[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for principal, role, project in bindings:
        out.setdefault((principal, project), set()).add(role)
    return {k: frozenset(v) for k, v in out.items()}


class PolicyEngine:
    """Decides (principal, project, object, action); safe under concurrent checks and reloads."""

    def __init__(self, policy_dir: Path, *, reload_seconds: float = 2.0) -> None:
        self.policy_dir = policy_dir
        self.reload_seconds = reload_seconds
        self._enforce_lock = threading.Lock()  # FastEnforcer filters shared state per call
        self._swap_lock = threading.Lock()
        self._checked_at = time.monotonic()
        self._snap = self._snapshot([], epoch=-1, enforcer=_build(policy_dir))

    def _mtimes(self) -> tuple[float, float]:
        return tuple(  # type: ignore[return-value]
            (self.policy_dir / n).stat().st_mtime_ns for n in ("model.conf", "policy.csv")
        )

    def _snapshot(
        self,
        bindings: list[Binding],
        *,
        epoch: int,
        enforcer: casbin.FastEnforcer,
        mtimes: tuple[float, float] | None = None,
    ) -> _Snapshot:
        index = _index(bindings)
        by_principal: dict[str, dict[str, frozenset[str]]] = {}
        for (principal, project), roles in index.items():
            by_principal.setdefault(principal, {})[project] = roles
        return _Snapshot(
            enforcer=enforcer,
            bindings=index,
            mtimes=mtimes or self._mtimes(),
            epoch=epoch,
            by_principal=by_principal,
        )

    @property
    def epoch(self) -> int:
        """The binding epoch the current snapshot was built from."""
        return self._snap.epoch

    def load_bindings(self, bindings: list[Binding], *, epoch: int) -> None:
        """Replace every role binding (atomically for concurrent readers)."""
        with self._swap_lock:
            # Same enforcer and file times: a pending file change is still seen as pending.
            current = self._snap
            self._snap = self._snapshot(
                bindings, epoch=epoch, enforcer=current.enforcer, mtimes=current.mtimes
            )

    def maybe_reload_files(self) -> bool:
        """Reload the policy files if they changed; a broken file keeps the old policy."""
        now = time.monotonic()
        if now - self._checked_at < self.reload_seconds:
            return False
        self._checked_at = now
        current = self._snap
        try:
            if self._mtimes() == current.mtimes:
                return False
            bindings = [(p, r, d) for (p, d), roles in current.bindings.items() for r in roles]
            fresh = self._snapshot(bindings, epoch=current.epoch, enforcer=_build(self.policy_dir))
        except Exception:  # keep serving with the last good policy
            log.exception("policy reload failed; keeping the previous policy")
            return False
        with self._swap_lock:
            self._snap = fresh
        log.info("policy files reloaded")
        return True

    def enforce(self, principal: str, project: str, obj: str, act: str) -> bool:
        """Is ``principal`` allowed ``act`` on ``obj`` in ``project``?"""
        snap = self._snap
        roles = snap.bindings.get((principal, project), frozenset())
        with self._enforce_lock:
            return any(snap.enforcer.enforce(obj, act, role, project) for role in sorted(roles))

    def roles(self, principal: str, project: str) -> frozenset[str]:
        """Roles ``principal`` holds in ``project``."""
        return self._snap.bindings.get((principal, project), frozenset())

    def projects(self, principal: str) -> dict[str, frozenset[str]]:
        """Projects where ``principal`` holds any role, with the roles."""
        return dict(self._snap.by_principal.get(principal, {}))

    def explain(self, principal: str, project: str, obj: str, act: str) -> Explanation:
        """Say which rule allows the request, or why it is denied."""
        snap = self._snap
        roles = sorted(snap.bindings.get((principal, project), frozenset()))
        allowed, rule = False, []
        with self._enforce_lock:
            for role in roles:
                allowed, rule = snap.enforcer.enforce_ex(obj, act, role, project)
                if allowed:
                    break
        granting = sorted(
            {line[2] for line in snap.enforcer.get_policy() if line[:2] == [obj, act]}
        )
        if allowed:
            reason = f"role {rule[2]!r} in project {project!r} grants ({obj}, {act})"
        elif not roles:
            reason = f"{principal!r} holds no role in project {project!r}"
        elif not granting:
            reason = f"no role grants ({obj}, {act})"
        else:
            reason = (
                f"roles {roles} in {project!r} do not grant ({obj}, {act}); "
                f"it is granted by {granting}"
            )
        return Explanation(
            allowed=bool(allowed),
            principal=principal,
            project=project,
            object=obj,
            action=act,
            roles=roles,
            rule=list(rule) if allowed else None,
            granting_roles=granting,
            reason=reason,
        )
