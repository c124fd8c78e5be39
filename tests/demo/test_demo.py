"""The README's main job: ``steward demo`` from a fresh folder, then what it left behind.

One run (about a minute) serves every test here: the command's output, its files, and the kept
home, where the report, the lineage graph and the audit log must tell the same story.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from governance.audit.runtime import verify_configured
from governance.audit.schemas import AuditEntry, AuditFilter
from governance.audit.service import list_audit
from governance.core.db import Database
from lineage.query import find_node, upstream
from lineage.schemas import NodeKind
from steward.demo.scenario import demo_settings

BIN = Path(sys.executable).parent
PROJECT = "adult-demo"
pytestmark = pytest.mark.slow


@dataclass(frozen=True, kw_only=True, slots=True)
class Ran:
    """A finished ``steward demo --keep`` and where it ran."""

    work: Path
    out: Path
    proc: subprocess.CompletedProcess[str]
    env: dict[str, str]

    @property
    def home(self) -> Path:
        return self.out / "home"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    work = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    for name in ("STEWARD_DATABASE_URL", "STEWARD_URL", "STEWARD_TOKEN", "STEWARD_PROFILE"):
        env.pop(name, None)
    env["STEWARD_HOME"] = str(work / "someone-elses-home")  # the demo makes a home of its own
    proc = subprocess.run(
        ["steward", "demo", "--keep"], cwd=work, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    return Ran(work=work, out=work / "steward-demo", proc=proc, env=env)


def test_the_demo_runs_the_loop_and_prints_what_happened(ran: Ran) -> None:
    out, err = ran.proc.stdout, ran.proc.stderr
    assert ran.proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "Traceback" not in err
    for needle in ("steward demo: summary", "403 self_approval", "olivia approved",
                   "promoted", "verified by audrey"):  # fmt: skip
        assert needle in out, needle
    assert not (ran.work / "someone-elses-home").exists()
    report = (ran.out / "model-report-income-v2.html").resolve()
    key = (ran.out / "audit-public-key.pem").resolve()
    # commands are printed whole on one line, whatever the terminal's width
    assert f"steward report verify {report} --key {key}\n" in out
    assert (ran.out / "demo-week.png").stat().st_size > 20_000
    verified = subprocess.run(
        ["steward", "report", "verify", str(report), "--key", str(key)],
        capture_output=True, text=True, env=ran.env,
    )  # fmt: skip
    assert verified.returncode == 0 and "ok" in verified.stdout, verified.stdout + verified.stderr


def _tables(report: dict[str, Any], section: str) -> list[dict[str, Any]]:
    (found,) = [s for s in report["sections"] if s["id"] == section]
    return [b for b in found["blocks"] if "rows" in b]


def _rows(tables: list[dict[str, Any]], first_column: str) -> list[dict[str, Any]]:
    (table,) = [t for t in tables if t["columns"][0] == first_column]
    return [dict(zip(table["columns"], row, strict=False)) for row in table["rows"]]


def _entries(db: Database) -> list[AuditEntry]:
    page = list_audit(db, flt=AuditFilter(project=PROJECT), cursor=None, limit=1000)
    assert page.next_cursor is None
    return page.items


def test_its_report_lineage_and_audit_log_agree(ran: Ran) -> None:
    assert ran.proc.returncode == 0, ran.proc.stderr[-3000:]
    report = json.loads((ran.out / "model-report-income-v2.json").read_text())
    lifecycle = _tables(report, "lifecycle")
    [run] = _rows(lifecycle, "pipeline")
    [gate] = _rows(lifecycle, "decided")
    [approval] = _rows(lifecycle, "requested")
    [rollout] = _rows(lifecycle, "started")
    assert run["pipeline"] == "income-retrain@1" and run["trigger owner"] == "user:alice"
    assert (gate["challenger"], gate["champion"], gate["passed"]) == ("income@2", "income@1", True)
    assert (approval["state"], approval["decided by"]) == ("approved", "user:olivia")
    assert (rollout["strategy"], rollout["state"]) == ("canary", "promoted")

    settings = demo_settings(ran.home)
    db = Database(settings.database_url)
    try:
        entries = _entries(db)
        by = {(e.action, e.actor, e.decision) for e in entries}
        assert ("approval.decide", "user:alice", "deny") in by  # the trigger's owner, refused
        assert ("approval.approve", "user:olivia", "allow") in by
        assert ("rollout.promote", "user:alice", "allow") in by
        assert ("report.generate", "user:olivia", "allow") in by
        for action in ("trigger.launch", "pipeline.run.launch", "gate.decide", "rollout.start"):
            assert any(e.action == action for e in entries), action
        launched = [e for e in entries if e.action == "pipeline.run.launch"]
        assert len(launched) == 2  # dan's first training, the trigger's retraining

        node = find_node(db, project=PROJECT, kind=NodeKind.model_version, name="income",
                         version="2")  # fmt: skip
        assert node is not None
        graph = upstream(db, project=PROJECT, node_id=node.id)
        datasets = {n.name: str(n.id) for n in graph.nodes if n.kind is NodeKind.dataset_version}
        assert {"adult-train", "income.window"} <= set(datasets), datasets
        # the report's training data are dataset versions of the lineage graph: the retrain's
        # train split, made from adult-train and the endpoint's window
        [training] = [s for s in report["sections"] if s["id"] == "training_data"]
        cited = {src["id"] for b in training["blocks"] for src in b.get("sources", [])
                 if src["kind"] == "dataset_version"}  # fmt: skip
        assert datasets["income-retrain.prepare.train"] in cited
        assert cited <= set(datasets.values()), (cited, datasets)

        verified = verify_configured(db, settings)
        assert verified.ok and verified.witnessed_through == verified.entries, verified
    finally:
        db.dispose()
