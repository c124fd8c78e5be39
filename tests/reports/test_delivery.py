"""Delivering reports: on demand over REST in every format, stored, listed and downloaded, who
may read them, the CLI (local and remote) and ``verify``, and the daemon's weekly reports."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from governance.audit.schemas import AuditFilter
from governance.audit.service import list_audit
from governance.audit.signing import KeyRing, Signer
from governance.core.clock import ManualClock
from governance.core.settings import Settings
from steward.reports.document import ReportFormat
from steward.reports.models import ReportRow
from steward.reports.schedule import (
    deployed_versions,
    last_fire,
    report_leader_job,
    schedule_key,
    schedule_trigger,
    store_scheduled_reports,
)
from steward.reports.signing import verify
from tests.builders import World
from tests.cli.runner import run_steward
from tests.conftest import make_settings
from tests.reports.loop import PROJECT, T0, Loop, closed_loop  # noqa: F401

P = f"/api/v1/projects/{PROJECT}"
MODEL = f"{P}/models/scorer/versions/2/report"
PERIOD = {"period_start": (T0 - timedelta(days=1)).isoformat(),
          "period_end": (T0 + timedelta(days=1)).isoformat()}  # fmt: skip
MEDIA = {"html": "text/html", "md": "text/markdown", "json": "application/json",
         "pdf": "application/pdf"}  # fmt: skip


@pytest.fixture
def loop(closed_loop: Loop) -> Loop:  # noqa: F811
    """The module's closed loop (its records are shared: tests only add reports)."""
    return closed_loop


def _keys(signer: Signer) -> KeyRing:
    return KeyRing([(signer.origin, signer.public_key)])


def _get(loop: Loop, url: str, role: str = "auditor", **params: str) -> Any:
    return loop.client.get(url, params=params, headers=loop.world.headers(role))


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_the_model_report_in_every_format_is_signed(loop: Loop, fmt: str) -> None:
    response = _get(loop, MODEL, format=fmt, **PERIOD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(MEDIA[fmt])
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="model-scorer-v2-')
    assert disposition.endswith(f'.{fmt}"')
    result = verify(response.content, keys=_keys(loop.services.signer))
    assert result.ok, result.problems
    assert result.statement is not None and result.statement.format == fmt


def test_formats_and_periods_are_checked(loop: Loop) -> None:
    assert _get(loop, MODEL, format="docx").status_code == 422
    backwards = {"period_start": PERIOD["period_end"], "period_end": PERIOD["period_start"]}
    assert _get(loop, MODEL, **backwards).status_code == 422
    missing = _get(loop, f"{P}/models/scorer/versions/9/report")
    assert missing.status_code == 404, missing.text


def test_the_project_report_is_signed(loop: Loop) -> None:
    response = _get(loop, f"{P}/report", format="json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert 'filename="project-alpha-' in response.headers["content-disposition"]
    assert verify(response.content, keys=_keys(loop.services.signer)).ok


@pytest.mark.parametrize("role", ["owner", "auditor", "viewer", "data-scientist", "ml-engineer"])
def test_readers_may_read_reports(loop: Loop, role: str) -> None:
    assert _get(loop, MODEL, role, format="md", **PERIOD).status_code == 200
    assert _get(loop, f"{P}/reports", role).status_code == 200


def test_app_developers_may_not_read_reports(loop: Loop) -> None:
    for url in (MODEL, f"{P}/report", f"{P}/reports"):
        response = _get(loop, url, "app-developer")
        assert response.status_code == 403, url
        assert response.json()["code"] == "permission_denied"


def _store(loop: Loop, role: str = "owner", project: str = PROJECT, **body: object) -> Any:
    headers = loop.world.headers(role) if role != "outsider" else {
        "Authorization": f"Bearer {loop.world.outsider_token}"}  # fmt: skip
    return loop.client.post(f"/api/v1/projects/{project}/reports", json=body, headers=headers)


def test_a_stored_report_is_audited_listed_and_downloaded(loop: Loop) -> None:
    body: dict[str, Any] = {
        "kind": "model",
        "model": "scorer",
        "version": 2,
        "format": "pdf",
        **PERIOD,
    }
    assert _store(loop, "auditor", **body).status_code == 403  # read only
    created = _store(loop, **body)
    assert created.status_code == 201, created.text
    stored = created.json()
    assert (stored["kind"], stored["model"], stored["version"]) == ("model", "scorer", 2)
    assert (stored["origin"], stored["generated_by"]) == ("on_demand", "user:owner-user")
    listed = _get(loop, f"{P}/reports", model="scorer", kind="model").json()
    assert stored["id"] in [r["id"] for r in listed]
    projects = _get(loop, f"{P}/reports", kind="project").json()
    assert stored["id"] not in [r["id"] for r in projects]
    assert all(r["kind"] == "project" for r in projects)
    download = _get(loop, f"{P}/reports/{stored['id']}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
    assert len(download.content) == stored["size"]
    assert verify(download.content, keys=_keys(loop.services.signer)).ok
    page = list_audit(loop.services.db, flt=AuditFilter(), cursor=None, limit=500)
    targets = [e.target for e in page.items if e.action == "report.generate"]
    assert f"report:{stored['id']}" in targets


def test_a_model_report_request_names_its_version(loop: Loop) -> None:
    assert _store(loop, kind="model", model="scorer").status_code == 422
    assert _store(loop, kind="project", model="scorer", version=1).status_code == 422


def test_another_projects_report_is_not_found(loop: Loop) -> None:
    theirs = _store(loop, "outsider", project="beta", kind="project", format="md")
    assert theirs.status_code == 201, theirs.text
    report_id = theirs.json()["id"]
    assert _get(loop, f"{P}/reports/{report_id}", "owner").status_code == 404
    assert report_id not in [r["id"] for r in _get(loop, f"{P}/reports", "owner").json()]


def test_a_stored_file_changed_on_disk_is_refused(loop: Loop) -> None:
    stored = _store(loop, kind="project", format="html").json()
    root = loop.services.settings.report_dir
    assert root is not None
    path = root / f"{stored['sha256']}.html"
    path.write_bytes(path.read_bytes() + b" ")
    response = _get(loop, f"{P}/reports/{stored['id']}")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "invalid_state"
    assert str(root) not in response.text  # no server path in an error


# --- the command line -------------------------------------------------------------------------


def _local_env(loop: Loop) -> dict[str, str | None]:
    settings = loop.services.settings
    return {"STEWARD_HOME": str(settings.home), "STEWARD_DATABASE_URL": settings.database_url,
            "STEWARD_URL": None, "STEWARD_TOKEN": None}  # fmt: skip


def _public_key(loop: Loop, tmp_path: Path) -> Path:
    text = loop.client.get("/api/v1/audit/public-key", headers=loop.world.headers("admin"))
    assert text.status_code == 200
    path = tmp_path / "audit.pub"
    path.write_text(text.text)
    return path


def test_cli_report_model_then_verify(loop: Loop, tmp_path: Path) -> None:
    env = _local_env(loop)
    out = tmp_path / "card.html"
    done = run_steward("report", "model", "scorer", "2", "-p", PROJECT, "--format", "html",
                       "--period-start", PERIOD["period_start"], "--period-end",
                       PERIOD["period_end"], "-o", str(out), env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    key = _public_key(loop, tmp_path)
    ok = run_steward("report", "verify", str(out), "--key", str(key), env=env)
    assert ok.returncode == 0, ok.stdout
    assert "ok" in ok.stdout
    assert run_steward("report", "verify", str(out), env=env).returncode == 0  # the home's ring
    data = out.read_bytes()
    middle = len(data) // 2
    out.write_bytes(data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1 :])
    bad = run_steward("report", "verify", str(out), "--key", str(key), env=env)
    assert bad.returncode == 1
    assert "content_changed" in bad.stdout


def test_cli_verify_rejects_another_key_and_needs_one(loop: Loop, tmp_path: Path) -> None:
    env = _local_env(loop)
    out = tmp_path / "project.json"
    done = run_steward("report", "project", "-p", PROJECT, "--format", "json", "-o", str(out),
                       env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    stranger = Signer.load_or_create(tmp_path / "other.pem", origin="steward.local/audit")
    other_key = tmp_path / "other.pub"
    other_key.write_text(stranger.verifier_key() + "\n" + stranger.public_pem())
    bad = run_steward("report", "verify", str(out), "--key", str(other_key), env=env)
    assert bad.returncode == 1
    assert "unknown_key" in bad.stdout
    empty = {"STEWARD_HOME": str(tmp_path / "nowhere"), "STEWARD_URL": None}
    usage = run_steward("report", "verify", str(out), env=empty)
    assert usage.returncode == 2
    assert "--key" in usage.stdout + usage.stderr
    assert not (tmp_path / "nowhere").exists()  # verify creates nothing


def test_cli_stores_lists_and_gets(loop: Loop, tmp_path: Path) -> None:
    env = _local_env(loop)
    done = run_steward("report", "project", "-p", PROJECT, "--format", "md", "--store", "-o",
                       str(tmp_path / "p.md"), env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    report_id = done.stdout.split("stored report ")[1].split()[0]
    listed = run_steward("report", "list", "-p", PROJECT, "--kind", "project", env=env)
    assert report_id in listed.stdout
    got = tmp_path / "got.md"
    assert run_steward("report", "get", report_id, "-p", PROJECT, "-o", str(got),
                       env=env).returncode == 0  # fmt: skip
    assert got.read_bytes() == (tmp_path / "p.md").read_bytes()


def test_cli_remote(server: str, world: World, tmp_path: Path, client: TestClient) -> None:
    env = {"STEWARD_URL": server, "STEWARD_TOKEN": world.tokens["auditor"],
           "STEWARD_HOME": str(tmp_path / "nowhere")}  # fmt: skip
    out = tmp_path / "remote.md"
    done = run_steward("report", "project", "-p", "alpha", "--format", "md", "-o", str(out),
                       env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    key = tmp_path / "server.pub"
    key.write_text(client.get("/api/v1/audit/public-key", headers=world.headers("admin")).text)
    assert run_steward("report", "verify", str(out), "--key", str(key), env=env).returncode == 0
    denied = run_steward("report", "project", "-p", "alpha", "-o", str(out),
                         env={**env, "STEWARD_TOKEN": world.tokens["app-developer"]})  # fmt: skip
    assert denied.returncode == 4
    assert "permission_denied" in denied.stderr + denied.stdout
    missing = run_steward("report", "model", "nope", "1", "-p", "alpha", "-o", str(out), env=env)
    assert missing.returncode == 3 and "not_found" in missing.stderr + missing.stdout


# --- the schedule -----------------------------------------------------------------------------


def _scheduled(loop: Loop) -> list[ReportRow]:
    with loop.services.db.read() as session:
        query = select(ReportRow).where(ReportRow.origin == "schedule")
        return list(session.scalars(query.order_by(ReportRow.period_end)))


def test_the_daemon_stores_exactly_one_report_per_version_and_week(loop: Loop) -> None:
    svc = loop.services
    assert deployed_versions(svc.db) == [(PROJECT, "scorer", 2)]
    # Monday 8 June 2026 07:00 UTC: the default schedule (Mondays 06:00) fired an hour ago.
    clock = ManualClock(T0 + timedelta(days=7, hours=7))
    results: list[int] = []

    def run() -> None:
        results.append(store_scheduled_reports(svc.db, settings=svc.settings,
                                               signer=svc.signer, clock=clock))  # fmt: skip

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(results) == [0, 1]
    job = report_leader_job(svc.db, svc.settings, clock, svc.signer)
    assert job is not None and job.run() == 0  # a retry finds the week's report stored
    clock.set(T0 + timedelta(days=14, hours=6))  # the next Monday's fire
    assert job.run() == 1
    rows = _scheduled(loop)
    fires = [T0 + timedelta(days=7, hours=6), T0 + timedelta(days=14, hours=6)]
    assert [r.schedule_key for r in rows] == [schedule_key(PROJECT, "scorer", 2, f) for f in fires]
    assert [r.period_end for r in rows] == fires
    assert {(r.model, r.version, r.format, r.generated_by) for r in rows} == {
        ("scorer", 2, "html", "system:steward")
    }
    # The run that lost the race left no file behind: every stored file belongs to a row.
    with svc.db.read() as session:
        held = set(session.scalars(select(ReportRow.path)))
    folder = svc.settings.report_dir
    assert folder is not None
    assert {p.name for p in folder.iterdir()} == held


def test_schedule_settings(tmp_path: Path) -> None:
    off = make_settings(tmp_path, "sqlite://", report_schedule="off")
    assert report_leader_job(None, off, ManualClock(T0), None) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="five-field crontab"):
        Settings(home=tmp_path, report_schedule="weekly")
    with pytest.raises(ValueError, match="report_format"):
        Settings(home=tmp_path, report_format="docx")
    bad = make_settings(tmp_path, "sqlite://", report_schedule="0 25 * * 1")
    with pytest.raises(Exception, match="STEWARD_REPORT_SCHEDULE"):
        report_leader_job(None, bad, ManualClock(T0), None)  # type: ignore[arg-type]


def test_last_fire_is_the_latest_at_or_before_now(tmp_path: Path) -> None:
    trigger = schedule_trigger(make_settings(tmp_path, "sqlite://"))  # Mondays 06:00 UTC
    monday = datetime(2026, 6, 8, 6, 0, tzinfo=UTC)
    assert last_fire(trigger, monday) == monday
    assert last_fire(trigger, monday - timedelta(minutes=1)) == monday - timedelta(days=7)
    assert last_fire(trigger, monday + timedelta(days=6)) == monday
    yearly = schedule_trigger(make_settings(tmp_path, "sqlite://", report_schedule="0 0 1 1 *"))
    assert last_fire(yearly, monday) == datetime(2026, 1, 1, tzinfo=UTC)


def test_the_daemon_leader_runs_the_report_job(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    from steward.cli import context, daemon

    settings = loop.services.settings
    monkeypatch.setenv("STEWARD_HOME", str(settings.home))
    monkeypatch.setenv("STEWARD_DATABASE_URL", settings.database_url)
    context.settings.cache_clear()
    try:
        names = [job.name for job in daemon._leader_jobs(loop.services.db, loop.clock)]
        assert "reports" in names
        monkeypatch.setenv("STEWARD_REPORT_SCHEDULE", "off")
        context.settings.cache_clear()
        names = [job.name for job in daemon._leader_jobs(loop.services.db, loop.clock)]
        assert "reports" not in names and "retrain-triggers" in names
    finally:
        context.settings.cache_clear()
