"""The demo from start to end: the whole loop on Adult data, through the REST API.

olivia owns the project, alice is its ML engineer, dan its data scientist, ``scoring-app`` the
application that scores and audrey the auditor. dan trains the first model with a pipeline run;
alice deploys it, watches it with two monitors and makes a trigger; a week of traffic is scored
through the endpoint, and from day five the population shifts and a pay reform changes the
world behind the labels. The monitors alert, the trigger retrains on the week's labelled
traffic, the gate judges the challenger, olivia approves it (alice, the trigger's owner, may
not), a canary takes a share of traffic, alice promotes it, and the model's compliance report
and the verified audit chain close the story.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from governance.audit.runtime import open_audit
from governance.audit.service import seal
from governance.core.clock import ManualClock
from governance.core.db import Database
from governance.core.errors import Unavailable
from governance.core.files import private_dir, private_sqlite
from governance.core.principal import Principal
from governance.core.secrets import SecretBox
from governance.core.settings import Settings
from monitors.alerts.service import list_alerts
from steward.client import APIError, Steward
from steward.demo import setup
from steward.demo.data import load_adult, split
from steward.demo.replay import Day, Replay
from steward.demo.stack import PROJECT, Stack, running
from steward.migrations import upgrade

MARKER = ".steward-demo"  # names a folder the demo made, so that a rerun may replace it
WAIT = 300.0  # seconds a pipeline run, a gate or an approval request may take on a slow machine


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoOptions:
    """Size and place of the demo."""

    out: Path = Path("steward-demo")
    days: int = 7
    shift_from: int = 5
    rows_per_day: int = 2000
    canary_percent: int = 25


@dataclass(kw_only=True)
class DemoReport:
    """What the demo did, for the summary and for tests."""

    home: Path
    out: Path
    tokens: dict[str, str] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # "train", "retrain"
    days: list[Day] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    refused: dict[str, Any] = field(default_factory=dict)  # alice's approval attempt
    approval: dict[str, Any] = field(default_factory=dict)
    rollout: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def first_day(now: datetime | None = None) -> datetime:
    """Midnight UTC ten days ago: the simulated week ends about now, so tokens and records
    made on the simulated clock still make sense to a server on the real one."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=10)


def fresh_home(out: Path) -> Path:
    """``out/home``, empty; ``out`` is made, or must be a folder an earlier demo made."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise FileExistsError(f"{out} exists and is not a steward demo folder: choose --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by steward demo; a rerun replaces this folder's contents\n")
    home = out / "home"
    shutil.rmtree(home, ignore_errors=True)
    return private_dir(home)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<44}"), BarColumn(), TaskProgressColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip


def _until(what: str, found: Any, timeout: float = WAIT) -> Any:
    """Poll ``found()`` until it returns something; ``what`` names it when it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Unavailable(f"the demo waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


@dataclass(kw_only=True)
class _Demo:
    """The state the steps share."""

    stack: Stack
    people: dict[str, Steward]
    options: DemoOptions
    report: DemoReport
    progress: Progress
    first: datetime

    def p(self, tail: str) -> str:
        return f"/projects/{PROJECT}{tail}"

    def train_first_model(self) -> None:
        """dan uploads Adult's training split and trains version 1 with a pipeline run."""
        dan = self.people["dan"]
        task = self.progress.add_task("data, pipeline run: train the first model", total=3)
        data = split(load_adult())
        version = dan.datasets.upload(
            setup.DATASET, data.reference, description="Adult census training split (UCI)"
        )
        self.report.dataset = {"name": version.name, "version": version.version,
                               "rows": data.reference.num_rows}  # fmt: skip
        self.progress.advance(task)
        dan.pipelines.apply(setup.pipeline(retrain=False))
        dan.pipelines.apply(setup.pipeline(retrain=True))
        run = dan.pipelines.launch(setup.TRAIN)
        self.progress.advance(task)
        ended = dan.pipelines.wait(run.id, timeout=WAIT)
        self.report.runs["train"] = ended.model_dump(mode="json")
        if ended.state != "succeeded":
            raise Unavailable(f"the first training run ended {ended.state}: {ended.error}")
        self.progress.advance(task)

    def deploy_and_watch(self) -> None:
        """alice deploys version 1, applies the monitors and makes the trigger; olivia says
        that a passing challenger waits for an owner's approval."""
        alice, olivia = self.people["alice"], self.people["olivia"]
        task = self.progress.add_task("deploy v1, monitors, trigger, deploy policy", total=3)
        alice.endpoints.create(setup.ENDPOINT, description="income scoring")
        alice.endpoints.deploy(setup.ENDPOINT, setup.MODEL, version=1, note="first model")
        self.progress.advance(task)
        days = self.options.days + 2  # the week, then a canary day and a day after promotion
        alice.monitors.apply(setup.monitors(self.first, days))
        self.progress.advance(task)
        policy = {"mode": "approval", "approver_role": "owner"}
        olivia.api("PUT", self.p("/deploy-policy"), json=policy)
        alice.api("POST", self.p("/triggers"), json=setup.trigger(self.options.canary_percent))
        self.progress.advance(task)

    def week(self, replay: Replay) -> None:
        """Seven days of traffic; the retrain the day-five alert launches runs meanwhile."""
        days = self.options.days
        task = self.progress.add_task(f"replay {days} days, monitors on the daemon", total=days)
        for number in range(1, days + 1):
            self.report.days.append(replay.day(number))
            self.progress.advance(task)

    def release(self) -> bool:
        """The trigger's run, its gate, alice refused as approver, olivia's approval; whether
        the challenger passed the gate (a refused one is the end of its story)."""
        alice, olivia = self.people["alice"], self.people["olivia"]
        task = self.progress.add_task("retrain, gate, approval", total=3)
        launches = _until(
            "the trigger's launch",
            lambda: alice.api("GET", self.p(f"/triggers/{setup.TRIGGER}/launches")),
        )
        ended = alice.pipelines.wait(launches[0]["run_id"], timeout=WAIT)
        self.report.runs["retrain"] = ended.model_dump(mode="json")
        if ended.state != "succeeded":
            raise Unavailable(f"the retraining run ended {ended.state}: {ended.error}")
        self.progress.advance(task)
        gates = _until(
            "the gate decision",
            lambda: alice.api("GET", self.p("/gates"), params={"run": str(ended.id)}),
        )
        self.report.gate = gates[0]
        self.progress.advance(task)
        if not self.report.gate["passed"]:
            return False
        pending = _until(
            "the approval request",
            lambda: olivia.api("GET", self.p("/approvals"), params={"state": "pending"}),
        )
        approve = self.p(f"/approvals/{pending[0]['id']}/approve")
        try:
            alice.api("POST", approve, json={"note": "looks good to me"})
        except APIError as refused:
            self.report.refused = {"status": refused.status, "code": refused.code,
                                   "detail": refused.detail}  # fmt: skip
        note = {"note": "gate passed on accuracy and fairness; canary first"}
        self.report.approval = olivia.api("POST", approve, json=note)
        self.progress.advance(task)
        return True

    def canary(self, replay: Replay) -> None:
        """A day with the canary taking its share, alice promotes it, a day on the new model."""
        alice = self.people["alice"]
        task = self.progress.add_task(
            f"canary {self.options.canary_percent}%, promote, a day on v2", total=3
        )
        base = self.options.days
        self.report.days.append(replay.day(base + 1, customers=True))
        self.progress.advance(task)
        rollouts = self.p(f"/endpoints/{setup.ENDPOINT}/rollouts")
        active = [r for r in alice.api("GET", rollouts) if r["state"] == "active"]
        if not active:
            raise Unavailable("no canary is active (the watch rolled it back?)")
        canary = active[0]
        reason = {"reason": f"a day of canary: no signal breached anew, {canary['errors']} of "
                            f"{canary['requests']} requests failed"}  # fmt: skip
        self.report.rollout = alice.api("POST", f"{rollouts}/{canary['id']}/promote", json=reason)
        self.progress.advance(task)
        self.report.days.append(replay.day(base + 2))
        self.progress.advance(task)

    def close(self) -> None:
        """olivia stores the new version's compliance report; the chain is sealed; audrey
        verifies it against the witness and downloads the report."""
        olivia, audrey = self.people["olivia"], self.people["audrey"]
        task = self.progress.add_task("compliance report, audit chain", total=3)
        version = int(self.report.runs["retrain"]["outputs"]["train.model"]["version"])
        stored = olivia.reports.create(kind="model", model=setup.MODEL, version=version)
        self.report.report = stored.model_dump(mode="json")
        self.progress.advance(task)
        out, name = self.options.out, f"model-report-{setup.MODEL}-v{version}"
        self.report.files["report"] = audrey.reports.download(stored.id).save(out / f"{name}.html")
        as_json = audrey.reports.model(setup.MODEL, version, format="json")
        self.report.files["report (JSON)"] = as_json.save(out / f"{name}.json")
        key = out / "audit-public-key.pem"
        key.write_text(audrey.reports.public_key())
        self.report.files["public key"] = key
        self.progress.advance(task)
        seal(self.stack.services.db)  # a signed checkpoint over everything, to the witness
        self.report.audit = audrey.api("GET", "/audit/verify")
        self.progress.advance(task)


def demo_settings(home: Path) -> Settings:
    """The demo's own settings: its home, the embedded SQLite default, its pipeline steps."""
    return Settings(
        home=home,
        database_url=f"sqlite:///{home.resolve() / 'steward.db'}",
        pipeline_modules=[setup.STEPS],
        dask_address=None,
        capture_uri=None,
        dataset_uri=None,
    )


def run_demo(operator: Principal, console: Console, options: DemoOptions) -> DemoReport:
    """Run the whole demo in a fresh home under ``options.out``; what happened."""
    started = time.perf_counter()
    home = fresh_home(options.out)
    settings = demo_settings(home)
    private_sqlite(settings.database_url)  # home 0700, database file 0600
    db = Database(settings.database_url)
    upgrade(db)
    open_audit(db, settings)  # as `steward init`: the audit key before the first entry
    SecretBox.from_settings(settings).create_key()
    first = first_day()
    clock = ManualClock(first - timedelta(hours=6))
    report = DemoReport(home=home, out=options.out)
    report.tokens = setup.cast(db, operator=operator, clock=clock)
    db.dispose()
    with _progress(console) as progress, running(settings, clock) as stack:
        people = {name: stack.client(token) for name, token in report.tokens.items()}
        demo = _Demo(stack=stack, people=people, options=options, report=report,
                     progress=progress, first=first)  # fmt: skip
        demo.train_first_model()
        demo.deploy_and_watch()
        replay = Replay(
            stack=stack, app=people["scoring-app"], pool=split(load_adult()).pool,
            first_day=first, rows_per_day=options.rows_per_day, shift_from=options.shift_from,
        )  # fmt: skip
        demo.week(replay)
        if demo.release():
            demo.canary(replay)
        demo.close()
        report.alerts = [
            a.model_dump(mode="json") for a in list_alerts(stack.services.db, project=PROJECT)
        ]
        for client in people.values():
            client.close()
    report.seconds = time.perf_counter() - started
    return report
