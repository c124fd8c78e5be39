"""Core benchmark: policy decisions, audit appends, and what auth + policy + audit add to a write.

    .venv/bin/python benchmarks/core.py [--decisions 20000] [--appends 400] [--requests 300]
        [--pg postgresql://postgres@127.0.0.1:5432/postgres | --no-pg]

(a) casbin decisions with 1,000 projects x 10 users (10,000 role bindings) through
    ``governance.access.enforcer.PolicyEngine`` (FastEnforcer indexed by object and action),
    against a plain scanning ``casbin.Enforcer`` with the same model, policy and bindings.
    Target: p50 <= 0.2 ms.
(b) audit appends per second (one transaction per entry, checkpoints every 256 entries, as
    served), one writer and 4 concurrent processes, on SQLite and PostgreSQL.
(c) two writes through the real app (in-process ASGI with TestClient: authentication, rate
    limit, policy, the route, its transaction and audit entry) against the same service call
    made directly (transaction and audit entry, no HTTP, auth or policy): issuing a token
    (POST /api/v1/principals/{name}/tokens) and granting a role
    (POST /api/v1/projects/{project}/roles, which changes the bindings, so the next request
    reloads the policy engine).
Every timed loop is warmed up first. Prints a table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import casbin
from sqlalchemy import create_engine, text

from governance.access import service
from governance.access.enforcer import PolicyEngine
from governance.access.schemas import ROLES, PrincipalCreate
from governance.audit.service import configure_audit, record_audit
from governance.audit.signing import Signer
from governance.core.db import Database, normalise_url
from governance.core.principal import Principal, PrincipalKind
from governance.core.settings import Settings
from steward.api.app import build_services, create_app
from steward.migrations import upgrade

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"
OPERATOR = Principal(id=None, name="bench", kind=PrincipalKind.system, via="cli")
Row = tuple[str, str, str, str]


def pct(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100) of ``samples``, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def timed(fn: Callable[[], Any], n: int, warmup: int) -> list[float]:
    """Milliseconds of ``n`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def interleaved(fns: dict[str, Callable[[], Any]], n: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of ``n`` rounds of every function in turn, after ``warmup`` rounds."""
    out: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + n):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                out[name].append((time.perf_counter() - t0) * 1000)
    return out


# --- (a) policy decisions ---------------------------------------------------------------------


def bench_decisions(n: int) -> list[Row]:
    """PolicyEngine vs scanning casbin.Enforcer, 1,000 projects x 10 users."""
    rng = random.Random(7)
    bindings = [
        (f"user-{p}-{u}", rng.choice(ROLES), f"project-{p}") for p in range(1000) for u in range(10)
    ]
    engine = PolicyEngine(POLICY_DIR, reload_seconds=3600)
    engine.load_bindings(bindings, epoch=1)
    scanning = casbin.Enforcer(str(POLICY_DIR / "model.conf"), str(POLICY_DIR / "policy.csv"))
    scanning.add_grouping_policies([list(b) for b in bindings])
    pairs = sorted({(line[0], line[1]) for line in scanning.get_policy()})
    requests = []
    for _ in range(n):
        p, u = rng.randrange(1000), rng.randrange(10)
        # Mostly the caller's own project, sometimes another one (denied).
        project = p if rng.random() < 0.8 else rng.randrange(1000)
        requests.append((f"user-{p}-{u}", f"project-{project}", *rng.choice(pairs)))
    for sub, dom, obj, act in requests[:200]:  # the two must agree
        assert engine.enforce(sub, dom, obj, act) == scanning.enforce(obj, act, sub, dom)
    allowed = sum(engine.enforce(s, d, o, a) for s, d, o, a in requests) / n

    def run(decide: Callable[[str, str, str, str], bool], reqs: list[Row]) -> list[float]:
        for r in reqs[:500]:
            decide(*r)
        out = []
        for r in reqs:
            t0 = time.perf_counter()
            decide(*r)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    fast = run(engine.enforce, requests)
    slow = run(lambda s, d, o, a: scanning.enforce(o, a, s, d), requests[: max(500, n // 10)])
    p_lines = len(scanning.get_policy())
    # What one role grant costs every process: the engine reloads all bindings, and the first
    # decision after a reload warms casbin's role links again.
    reloads, firsts = [], []
    for i in range(3):
        t0 = time.perf_counter()
        engine.load_bindings([*bindings, (f"new-{i}", "viewer", "project-0")], epoch=2 + i)
        reloads.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        engine.enforce(*requests[i])
        firsts.append((time.perf_counter() - t0) * 1000)
    return [
        (
            "(a) decision, PolicyEngine (FastEnforcer)",
            f"{len(bindings)} bindings, {p_lines} p",
            f"{pct(fast, 50):.4f}",
            f"{pct(fast, 99):.4f}",
            f"{len(fast)} decisions, {allowed:.0%} allowed; target p50 <= 0.2 ms",
        ),
        (
            "(a) decision, casbin.Enforcer (scanning)",
            f"{len(bindings)} bindings, {p_lines} p",
            f"{pct(slow, 50):.4f}",
            f"{pct(slow, 99):.4f}",
            f"{len(slow)} decisions; p50 ratio {pct(slow, 50) / pct(fast, 50):.0f}x",
        ),
        (
            "(a) PolicyEngine reload after a grant",
            f"{len(bindings) + 1} bindings",
            f"{statistics.median(reloads):.1f}",
            f"{max(reloads):.1f}",
            f"load_bindings(); then first decision {statistics.median(firsts):.1f} ms (3 runs)",
        ),
    ]


# --- (b) audit appends ------------------------------------------------------------------------


def _append_worker(url: str, key: str, n: int, start: Any, out: Any) -> None:
    db = Database(url)
    configure_audit(
        db, signer=Signer.load_or_create(Path(key), origin="bench"), checkpoint_every=256
    )
    start.wait()
    t0 = time.perf_counter()
    for i in range(n):
        with db.transaction() as session:
            record_audit(session, actor="bench", action="bench.append", target=f"n:{i}")
    out.put(time.perf_counter() - t0)
    db.dispose()


def bench_appends(url: str, label: str, n: int, workdir: Path) -> list[Row]:
    """Appends/s with one writer and with 4 processes (spawned, started together)."""
    key = str(workdir / f"audit-{uuid.uuid4().hex[:6]}.pem")
    rows: list[Row] = []
    ctx = mp.get_context("spawn")
    for procs in (1, 4):
        # Warm-up: the first transactions pay for connection setup and statement caches.
        warm = Database(url)
        configure_audit(
            warm, signer=Signer.load_or_create(Path(key), origin="bench"), checkpoint_every=256
        )
        for _ in range(20):
            with warm.transaction() as session:
                record_audit(session, actor="bench", action="bench.warmup")
        warm.dispose()
        start, out = ctx.Event(), ctx.Queue()
        per = n if procs == 1 else n // procs
        workers = [
            ctx.Process(target=_append_worker, args=(url, key, per, start, out))
            for _ in range(procs)
        ]
        for w in workers:
            w.start()
        time.sleep(2.0)  # let the spawned interpreters import everything
        t0 = time.perf_counter()
        start.set()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t0
        assert all(w.exitcode == 0 for w in workers)
        slowest = max(out.get() for _ in workers)
        total = per * procs
        rows.append(
            (
                f"(b) audit appends, {label}",
                f"{procs} writer{'s' if procs > 1 else ''}",
                "",
                "",
                f"{total / slowest:,.0f} appends/s ({total} entries, {wall:.1f} s wall)",
            )
        )
    verified = _verify(url, key)
    rows[-1] = (*rows[-1][:4], rows[-1][4] + f"; verify {'clean' if verified else 'FAILED'}")
    return rows


def _verify(url: str, key: str) -> bool:
    from governance.audit.service import verify_audit

    db = Database(url)
    try:
        return verify_audit(db, signer=Signer.load_or_create(Path(key), origin="bench")).ok
    finally:
        db.dispose()


# --- (c) request overhead ---------------------------------------------------------------------


def bench_request(url: str, label: str, n: int, home: Path) -> list[Row]:
    """Two writes, as direct service calls and as requests through the real app."""
    from fastapi.testclient import TestClient

    settings = Settings(
        home=home, database_url=url, rate_limit_per_minute=10**7, rate_limit_burst=10**7
    )
    svc = build_services(settings)
    issued = service.bootstrap(svc.db, owner="admin", project="alpha", actor=OPERATOR)
    assert issued is not None
    admin = Principal(id=issued.id, name="admin", kind=PrincipalKind.user)
    warmup = 20
    grants = max(20, n // 3)
    for i in range(3 * (grants + warmup)):
        service.create_principal(svc.db, data=PrincipalCreate(name=f"p{i}"), actor=OPERATOR)
    names = iter([f"p{i}" for i in range(3 * (grants + warmup))])
    app = create_app(services=svc, seal_in_background=False)
    headers = {"Authorization": f"Bearer {issued.token}"}
    results: dict[str, dict[str, list[float]]] = {"token": {}, "grant": {}}
    with TestClient(app) as full_client:

        def post(client: Any, path: str, body: dict[str, Any]) -> None:
            r = client.post(path, headers=headers, json=body)
            assert r.status_code == 201, r.text

        def token(client: Any) -> Callable[[], None]:
            return lambda: post(client, "/api/v1/principals/admin/tokens", {"name": "b"})

        def grant(client: Any) -> Callable[[], None]:
            return lambda: post(
                client, "/api/v1/projects/alpha/roles", {"principal": next(names), "role": "viewer"}
            )

        calls = {
            "token": (
                lambda: service.issue_token(
                    svc.db, principal="admin", name="b", expires_in_days=1, actor=admin
                ),
                token,
                n,
            ),
            "grant": (
                lambda: service.grant_role(
                    svc.db, project="alpha", principal=next(names), role="viewer", actor=admin
                ),
                grant,
                grants,
            ),
        }
        for kind, (direct, http, count) in calls.items():
            # Interleaved, so that a growing database weighs on both alike.
            results[kind] = interleaved(
                {"service": direct, "full": http(full_client)},
                count,
                warmup,
            )
    svc.db.dispose()
    rows: list[Row] = []
    for kind, what in (("token", "issue a token"), ("grant", "grant a role")):
        res = results[kind]
        b50 = pct(res["service"], 50)
        for key, name in (("service", "service call"), ("full", "HTTP + auth + policy")):
            s50, s99 = pct(res[key], 50), pct(res[key], 99)
            note = f"{len(res[key])} requests" + (
                ""
                if key == "service"
                else f"; adds {s50 - b50:.2f} ms p50, {s99 - pct(res['service'], 99):.2f} ms p99"
            )
            rows.append((f"(c) {what}, {label}", name, f"{s50:.2f}", f"{s99:.2f}", note))
    return rows


# --- wiring -----------------------------------------------------------------------------------


def _pg_database(pg: str) -> tuple[str, Callable[[], None]]:
    name = f"steward_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalise_url(pg).rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def _fresh(url: str) -> str:
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--appends", type=int, default=400)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "STEWARD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    rows: list[Row] = []
    rows += bench_decisions(args.decisions)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        backends = [("SQLite", lambda: (f"sqlite:///{work / uuid.uuid4().hex}.db", lambda: None))]
        if not args.no_pg:
            backends.append(("PostgreSQL", lambda: _pg_database(args.pg)))
        for label, make in backends:
            url, drop = make()
            try:
                rows += bench_appends(_fresh(url), label, args.appends, work)
            finally:
                drop()
            url, drop = make()
            try:
                rows += bench_request(_fresh(url), label, args.requests, work / uuid.uuid4().hex)
            finally:
                drop()
    _print(rows)


def _print(rows: list[Row]) -> None:
    header = ("benchmark", "setup", "p50 ms", "p99 ms", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
