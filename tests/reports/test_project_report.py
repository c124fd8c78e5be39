"""The project governance report: every section from the stored records, compared with what
the API serves; the same records and period give the same report."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from governance.core.clock import isoformat
from steward.reports.blocks import Coverage, Facts, Section, Table
from steward.reports.canonical import canonical_bytes
from steward.reports.document import Report, ReportKind
from steward.reports.project_report import build_project_report
from tests.reports.loop import HOUR, MINUTE, T0, Loop, P, closed_loop  # noqa: F401

IDS = ["production", "alerts", "access", "policy", "retention", "audit", "activity", "regulatory"]


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def loop(closed_loop: Loop) -> Loop:  # noqa: F811
    """The closed loop, plus a second endpoint with a rolled-back and an active canary."""
    client, owner, clock = closed_loop.client, closed_loop.world.headers("owner"), closed_loop.clock
    clock.set(T0 + 4 * HOUR)
    _ok(client.post(f"{P}/endpoints", json={"name": "batch"}, headers=owner), 201)
    deploy = {"model": "scorer", "version": 1, "note": "nightly batch"}
    _ok(client.post(f"{P}/endpoints/batch/deployments", json=deploy, headers=owner), 201)
    canary = {"model": "scorer", "version": 2, "strategy": "canary", "percent": 10}
    clock.set(T0 + 5 * HOUR)
    _ok(client.post(f"{P}/endpoints/batch/rollouts", json=canary, headers=owner), 201)
    clock.set(T0 + 5 * HOUR + 10 * MINUTE)
    _ok(client.post(f"{P}/endpoints/batch/rollback", json={"reason": "slow"}, headers=owner))
    clock.set(T0 + 5 * HOUR + 20 * MINUTE)
    _ok(client.post(f"{P}/endpoints/batch/rollouts", json=canary | {"percent": 20},
                    headers=owner), 201)  # fmt: skip
    _ok(client.patch(P, json={"retention_days": 400}, headers=owner))
    return closed_loop


@pytest.fixture(scope="module")
def report(loop: Loop) -> Report:
    return build_project_report(loop.context())


def _get(loop: Loop, path: str) -> Any:
    return _ok(loop.client.get(f"{P}{path}", headers=loop.world.headers("owner")))


def _section(report: Report, ident: str) -> Section:
    return next(s for s in report.sections if s.id == ident)


def _tables(section: Section) -> dict[str, Table]:
    return {b.caption: b for b in section.blocks if isinstance(b, Table)}


def _facts(section: Section) -> dict[str, Any]:
    return {f.label: f.value for b in section.blocks if isinstance(b, Facts) for f in b.facts}


def _rows(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def _ids(table: Table) -> list[str | None]:
    return [None if s is None else s.id for s in table.sources]


def _counts(table: Table) -> dict[str, Any]:
    return {str(r[0]): r[1] for r in table.rows}


def _end(loop: Loop) -> datetime:
    return loop.context().period_end


def test_sections_come_in_order_and_are_filled(report: Report) -> None:
    assert [s.id for s in report.sections] == IDS
    for section in report.sections[:7]:
        assert section.coverage is not Coverage.empty, section.id
    assert report.meta.kind is ReportKind.project and report.meta.project == "alpha"
    regulatory = _section(report, "regulatory")
    assert len(_tables(regulatory)) == 2  # Annex IV and the AI RMF


def test_production_shows_what_each_endpoint_serves(loop: Loop, report: Report) -> None:
    tables = _tables(_section(report, "production"))
    served = tables["What each endpoint served at the end of the period"]
    got = {r["endpoint"]: (r["model"], r["version"], r["serving since"]) for r in _rows(served)}
    for name in ("batch", "scorer"):
        endpoint = _get(loop, f"/endpoints/{name}")
        since = isoformat(datetime.fromisoformat(endpoint["deployed_at"]))
        assert got[name] == ("scorer", endpoint["model_version"]["version"], since)
    assert got["scorer"][1] == 2 and got["batch"][1] == 1
    ids = dict(zip([r["endpoint"] for r in _rows(served)], _ids(served), strict=True))
    assert ids["scorer"] == _get(loop, "/endpoints/scorer")["model_version"]["id"]
    active = tables["Rollouts active at the end of the period"]
    [rollout] = [r for r in _get(loop, "/endpoints/batch/rollouts") if r["state"] == "active"]
    assert _ids(active) == [rollout["id"]]
    assert _rows(active)[0]["percent"] == 20 and _rows(active)[0]["replacing"] == "scorer@1"


def test_open_alerts_and_their_age_at_the_end_of_the_period(loop: Loop, report: Report) -> None:
    end = _end(loop)
    stored = [a for a in _get(loop, "/alerts?limit=500") if a["resolved_at"] is None]
    assert stored, "the loop leaves an alert open"
    listed = _tables(_section(report, "alerts"))[
        "Alerts open at the end of the period, with their age then"]  # fmt: skip
    assert sorted(map(str, _ids(listed))) == sorted(a["id"] for a in stored)
    by_id = dict(zip(_ids(listed), _rows(listed), strict=True))
    for alert in stored:
        age = end - datetime.fromisoformat(alert["opened_at"])
        assert by_id[alert["id"]]["age (hours)"] == round(age.total_seconds() / 3600, 2)
        assert by_id[alert["id"]]["severity"] == alert["severity"]
    resolved = next(a for a in _get(loop, "/alerts?limit=500") if a["id"] == loop.alert)
    assert resolved["state"] == "resolved" and resolved["id"] not in by_id


def test_access_lists_every_binding_and_who_granted_it(loop: Loop, report: Report) -> None:
    table = _tables(_section(report, "access"))[
        "Role bindings of the project (granted by: from the audit trail)"]  # fmt: skip
    stored = _get(loop, "/roles")
    got = {(r["principal"], r["role"]): r for r in _rows(table)}
    assert set(got) == {(b["principal"], b["role"]) for b in stored}
    for b in stored:
        assert got[(b["principal"], b["role"])]["granted at"] == isoformat(
            datetime.fromisoformat(b["created_at"]))  # fmt: skip
    assert got[("viewer-user", "viewer")]["granted by"] == "system:cli@test"
    grants = {s.kind if s else None for s in table.sources}
    assert grants == {"audit_entry"}
    assert _facts(_section(report, "access"))["viewer"] == 1


def test_policy_matches_the_policy_file_and_the_deploy_policy(loop: Loop, report: Report) -> None:
    section = _section(report, "policy")
    matrix = _tables(section)[
        "What each role may do (object: actions), from the loaded policy file"]  # fmt: skip
    policy = loop.services.settings.policy_dir / "policy.csv"
    lines = [[c.strip() for c in row] for row in csv.reader(policy.read_text().splitlines())
             if row and row[0].strip() == "p"]  # fmt: skip
    cells = {(r[0], col): r[i] for r in matrix.rows for i, col in enumerate(matrix.columns)}
    for _, obj, act, role in lines:
        assert act in str(cells[(obj, role)]).split(", ")
    assert cells[("report", "app-developer")] is None
    stored = _get(loop, "/deploy-policy")
    facts = _facts(section)
    assert (facts["deploy mode"], facts["approver role"]) == (
        stored["mode"],
        stored["approver_role"],
    )


def test_retention_settings(loop: Loop, report: Report) -> None:
    section = _section(report, "retention")
    assert _facts(section)["project retention (days)"] == 400
    [row] = _rows(next(iter(_tables(section).values())))
    assert row == {"monitor": "watch", "own retention": None, "effective retention": "P400D"}


def test_activity_counts_equal_the_stored_records(loop: Loop, report: Report) -> None:
    ctx = loop.context()
    start, end = ctx.period_start, ctx.period_end

    def inside(value: str | None) -> bool:
        return value is not None and start < datetime.fromisoformat(value) <= end

    summary = _tables(_section(report, "activity"))["What happened in the period"]
    counts = _counts(summary)
    runs = [r for r in _get(loop, "/monitors/watch/runs?limit=500")
            if r["superseded_by"] is None and inside(r["window_end"])]  # fmt: skip
    assert runs
    for status in {r["status"] for r in runs}:
        assert counts[f"monitor runs: {status}"] == sum(r["status"] == status for r in runs)
    pipeline_runs = _get(loop, "/pipeline-runs?limit=200")["items"]
    assert sum(v for k, v in counts.items() if k.startswith("pipeline runs")) == len(
        [r for r in pipeline_runs if inside(r["created_at"])]) == 2  # fmt: skip
    gates = _get(loop, "/gates")
    assert counts["gate decisions: passed"] == sum(g["passed"] for g in gates) == 1
    rollouts = [*_get(loop, "/endpoints/scorer/rollouts"), *_get(loop, "/endpoints/batch/rollouts")]
    assert counts["rollouts started"] == len(rollouts) == 3
    [back] = [r for r in rollouts if r["state"] == "rolled_back"]
    assert counts["rollbacks"] == 1
    sources = dict(zip(counts, _ids(summary), strict=True))
    assert sources["rollbacks"] == back["id"]
    assert sources["gate decisions: passed"] == loop.gate
    assert sources["rollouts started"] is None  # three records: no single source
    alerts = _get(loop, "/alerts?limit=500")
    assert counts["alerts opened"] == sum(inside(a["opened_at"]) for a in alerts)
    assert counts["alerts resolved"] == sum(inside(a["resolved_at"]) for a in alerts) >= 1


def test_the_report_states_the_project_as_of_the_end_of_its_period(loop: Loop) -> None:
    # Before the batch canaries: batch serves version 1 and no canary of it is counted.
    ctx = replace(loop.context(), period_end=T0 + 4 * HOUR + 30 * MINUTE)
    report = build_project_report(ctx)
    tables = _tables(_section(report, "production"))
    assert _rows(tables["Rollouts active at the end of the period"]) == []
    counts = _counts(_tables(_section(report, "activity"))["What happened in the period"])
    assert counts["rollouts started"] == 1 and counts["rollbacks"] == 0


def test_the_same_records_give_the_same_report(loop: Loop, report: Report) -> None:
    again = build_project_report(loop.context())
    assert canonical_bytes(again) == canonical_bytes(report)
    # Generated later: only the generation time differs, and the audit section, whose
    # "unsealed entries" finding is judged at the generation time (helper A's section).
    later = build_project_report(loop.context(report.meta.generated_at + timedelta(hours=24)))
    assert later.meta.generated_at - report.meta.generated_at == timedelta(hours=24)
    assert later.meta.model_copy(update={"generated_at": report.meta.generated_at}) == report.meta
    mine = [s for s in report.sections if s.id != "audit"]
    assert [s for s in later.sections if s.id != "audit"] == mine
