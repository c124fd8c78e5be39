"""Casbin enforcement with projects as domains; policy files hot-reload, bindings from the DB."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import casbin

from governance.access.schemas import ROLES, Explanation
from governance.core.errors import InvalidInput

log = logging.getLogger(__name__)

Binding = tuple[str, str, str]  # (principal, role, project)


def _build(policy_dir: Path, bindings: Iterable[Binding] = ()) -> casbin.FastEnforcer:
    model, policy = policy_dir / "model.conf", policy_dir / "policy.csv"
    for path in (model, policy):
        if not path.is_file():
            raise InvalidInput(f"policy file {path.name} is missing")
    enforcer = casbin.FastEnforcer(str(model), str(policy), cache_key_order=[0, 1])
    rules = [list(b) for b in bindings]
    if rules:
        enforcer.add_grouping_policies(rules)
    return enforcer


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


def _index(bindings: Iterable[Binding]) -> dict[tuple[str, str], frozenset[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for principal, role, project in bindings:
        out.setdefault((principal, project), set()).add(role)
    return {k: frozenset(v) for k, v in out.items()}


def _by_principal(
    index: dict[tuple[str, str], frozenset[str]],
) -> dict[str, dict[str, frozenset[str]]]:
    out: dict[str, dict[str, frozenset[str]]] = {}
    for (principal, project), roles in index.items():
        out.setdefault(principal, {})[project] = roles
    return out


class PolicyEngine:
    """Decides (principal, project, object, action); safe under concurrent checks and reloads.

    Projects are casbin domains: every binding is a ``g, principal, role, project`` rule of the
    enforcer, so casbin itself resolves the caller's roles in the request's domain. A change of
    bindings is applied as a diff (no rebuild, so a grant costs milliseconds, not a reload of
    every binding); a change of the policy files rebuilds the enforcer and swaps it in whole.
    """

    def __init__(self, policy_dir: Path, *, reload_seconds: float = 2.0) -> None:
        self.policy_dir = policy_dir
        self.reload_seconds = reload_seconds
        # One lock for the enforcer: FastEnforcer filters shared state on every call, and
        # binding diffs mutate its role manager.
        self._lock = threading.Lock()
        self._checked_at = time.monotonic()
        # Signed before the build: an edit made in between is seen, and loaded, at the next check.
        self._signature = self._file_signature()
        self._enforcer = _build(policy_dir)
        self._failed: bytes | None = None  # the broken content last refused, reported once
        self._bindings: frozenset[Binding] = frozenset()
        self._index: dict[tuple[str, str], frozenset[str]] = {}
        self._by_principal: dict[str, dict[str, frozenset[str]]] = {}
        self._epoch = -1

    def _file_signature(self) -> bytes:
        # The content, not the mtime: two edits within one tick of a coarse clock still differ.
        digest = hashlib.sha256()
        for name in ("model.conf", "policy.csv"):
            data = (self.policy_dir / name).read_bytes()
            digest.update(len(data).to_bytes(8, "big") + data)
        return digest.digest()

    @property
    def epoch(self) -> int:
        """The binding epoch the current bindings were loaded from."""
        return self._epoch

    def load_bindings(self, bindings: list[Binding], *, epoch: int) -> None:
        """Make ``bindings`` the role bindings, applying only what changed."""
        wanted = frozenset(bindings)
        index = _index(wanted)
        by_principal = _by_principal(index)
        with self._lock:
            removed = [list(b) for b in self._bindings - wanted]
            added = [list(b) for b in wanted - self._bindings]
            if removed:
                self._enforcer.remove_grouping_policies(removed)
            if added:
                self._enforcer.add_grouping_policies(added)
            self._bindings, self._index, self._by_principal = wanted, index, by_principal
            self._epoch = epoch

    def maybe_reload_files(self) -> bool:
        """Reload the policy files if they changed; a broken file keeps the old policy."""
        now = time.monotonic()
        if now - self._checked_at < self.reload_seconds:
            return False
        self._checked_at = now
        try:
            signature = self._file_signature()
        except OSError:  # a file being replaced or removed: keep serving the last good policy
            log.exception("policy files unreadable; keeping the previous policy")
            return False
        if signature in (self._signature, self._failed):
            return False
        try:
            fresh = _build(self.policy_dir, self._bindings)
        except Exception:  # keep serving with the last good policy
            log.exception("policy reload failed; keeping the previous policy")
            self._failed = signature
            return False
        with self._lock:
            # Bindings that changed while the new enforcer was built are reconciled here.
            built = frozenset(tuple(g) for g in fresh.get_grouping_policy())
            if stale := [list(b) for b in built - self._bindings]:
                fresh.remove_grouping_policies(stale)
            if missing := [list(b) for b in self._bindings - built]:
                fresh.add_grouping_policies(missing)
            self._enforcer, self._signature, self._failed = fresh, signature, None
        log.info("policy files reloaded")
        return True

    def enforce(self, principal: str, project: str, obj: str, act: str) -> bool:
        """Is ``principal`` allowed ``act`` on ``obj`` in ``project``?"""
        with self._lock:
            return bool(self._enforcer.enforce(obj, act, principal, project))

    def policy_lines(self) -> list[tuple[str, str, str]]:
        """The loaded (object, action, role) policy lines."""
        with self._lock:
            return [(o, a, r) for o, a, r in self._enforcer.get_policy()]

    def roles(self, principal: str, project: str) -> frozenset[str]:
        """Roles ``principal`` holds in ``project``."""
        return self._index.get((principal, project), frozenset())

    def projects(self, principal: str) -> dict[str, frozenset[str]]:
        """Projects where ``principal`` holds any role, with the roles."""
        return dict(self._by_principal.get(principal, {}))

    def explain(self, principal: str, project: str, obj: str, act: str) -> Explanation:
        """Say which rule allows the request, or why it is denied."""
        roles = sorted(self.roles(principal, project))
        with self._lock:
            allowed, rule = self._enforcer.enforce_ex(obj, act, principal, project)
            lines = self._enforcer.get_policy()
        granting = sorted({line[2] for line in lines if line[:2] == [obj, act]})
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
