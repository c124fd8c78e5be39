"""The demo's printed summary: what happened, the key numbers, where the files are, what next.

Long lines are never wrapped (commands and ids copy cleanly); tables fold their cells instead.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from steward.demo import setup
from steward.demo.replay import Day
from steward.demo.scenario import DemoReport
from steward.demo.setup import DRIFT, FAIRNESS, PEOPLE
from steward.demo.stack import PROJECT


def _f(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _day_row(day: Day) -> list[str]:
    drift, fair = day.runs[DRIFT], day.runs[FAIRNESS]
    names = drift.summary.get("data_drift", {}).get("drifted", [])
    drifted = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
    fairness = fair.summary.get("fairness", {})
    accuracy = fair.summary.get("performance", {}).get("accuracy")
    served = ", ".join(f"v{v}: {n}" for v, n in sorted(day.served.items()))
    alerts = [m for m, run in ((DRIFT, drift), (FAIRNESS, fair)) if run.breached]
    return [
        f"{day.number}{'*' if day.shifted else ''}",
        f"{day.start:%m-%d}",
        served,
        drifted or "-",
        f"{_f(fairness.get('equalized_odds_difference'), 2)} "
        f"({_f(fairness.get('equalized_odds_difference_reference'), 2)}) "
        f"z {_f(fairness.get('equalized_odds_difference_z'), 1)}",
        _f(accuracy),
        "[red]" + " ".join(a.removeprefix("income-") for a in alerts) + "[/red]"
        if alerts
        else "ok",
    ]


def days_table(report: DemoReport) -> Table:
    """One row per daily window."""
    table = Table(title="daily windows (the daemon ran both monitors once a day)",
                  title_justify="left")  # fmt: skip
    for column in ("day", "date", "served", "drifted inputs", "EOD (ref.) z", "acc.", "alerts"):
        table.add_column(column, overflow="fold")
    for day in report.days:
        table.add_row(*_day_row(day))
    return table


def gate_table(report: DemoReport) -> Table:
    """The gate's numbers: both models on the same holdout, every bound."""
    details = report.gate.get("details", {})
    rows = details.get("holdout", {}).get("rows", "?")
    table = Table(title=f"gate: challenger v{report.gate['challenger']['version']} against "
                        f"champion v{report.gate['champion']['version']} on {rows} holdout rows",
                  title_justify="left")  # fmt: skip
    for column in ("check", "champion", "challenger", "bound", "passed"):
        table.add_column(column)
    for m in details.get("metrics", []):
        bounds = [f">= {_f(c.get('bound'))}" for c in m.get("checks", {}).values()]
        table.add_row(m["metric"], _f(m.get("champion")), _f(m.get("challenger")),
                      ", ".join(bounds), "yes" if m["passed"] else "NO")  # fmt: skip
    for f in details.get("fairness", []):
        champion, challenger = f.get("champion") or {}, f["challenger"]
        table.add_row(
            f"EOD by {f['sensitive_feature']} (upper bound)",
            f"{_f(champion.get('value'))} ({_f(champion.get('upper_bound'))})",
            f"{_f(challenger.get('value'))} ({_f(challenger.get('upper_bound'))})",
            f"<= {f['limit']}", "yes" if f["passed"] else "NO",
        )  # fmt: skip
    return table


def _story(report: DemoReport) -> list[str]:
    train, retrain = report.runs["train"], report.runs.get("retrain", {})
    metrics = train["outputs"].get("evaluate.metrics", {}).get("values", {})
    window = retrain.get("inputs", {}).get("production", {})
    refused, rollout = report.refused, report.rollout
    lines = [
        f"dan uploaded {setup.DATASET} ({report.dataset['rows']:,} Adult rows) and trained "
        f"{setup.MODEL} v1 with pipeline run {train['id']} (prepare, train, evaluate): accuracy "
        f"{_f(metrics.get('accuracy'))}, ROC AUC {_f(metrics.get('roc_auc'))}",
        f"alice deployed v1 to endpoint {setup.ENDPOINT}, applied monitors {DRIFT} and "
        f"{FAIRNESS} and trigger {setup.TRIGGER}; olivia set the deploy policy: an owner "
        "approves",
        f"scoring-app scored {sum(d.rows for d in report.days):,} requests through the endpoint "
        "and logged their labels; from day 5 the population shifted (older, more women, shorter "
        f"hours) and a pay reform lifted {sum(d.relabelled for d in report.days):,} women's "
        "incomes, which a model that never sees sex could not see coming",
        f"the trigger launched {retrain.get('pipeline')} run {retrain.get('id')} on Adult plus the "
        f"labelled traffic of {window.get('start', '?')[:10]}..{window.get('end', '?')[:10]}: "
        f"{setup.MODEL} v{retrain.get('outputs', {}).get('train.model', {}).get('version')}",
    ]
    if not report.gate.get("passed"):
        return [*lines, "the gate refused the challenger: " + "; ".join(report.gate["reasons"])
                + "; nothing was deployed"]  # fmt: skip
    return [
        *lines,
        f"alice, the trigger's owner, tried to approve: {refused.get('status')} "
        f"{refused.get('code')}; olivia approved ({report.approval.get('state')})",
        f"canary {rollout.get('percent')}%: v2 took {rollout.get('requests')} requests "
        f"({rollout.get('errors')} failed); alice promoted it: {rollout.get('state')}",
    ]


def render(report: DemoReport, console: Console) -> None:
    """Print the summary."""
    console.rule("[bold]steward demo: summary")
    people = ", ".join(f"{name} ({role})" for name, (role, _) in PEOPLE.items())
    console.print(f"project {PROJECT}: {people}", soft_wrap=True)
    for number, line in enumerate(_story(report), 1):
        console.print(f"{number}. {line}", soft_wrap=True)
    console.print(days_table(report))
    console.print(
        "* shifted population and pay reform. EOD: equalized odds difference by sex of the "
        "window (of the monitor's reference); z: how many standard errors the window is worse "
        "than the reference (the monitor alerts above 1.645: one-sided 5%)",
        soft_wrap=True,
    )
    if report.gate:
        console.print(gate_table(report))
    for alert in report.alerts:
        console.print(
            f"alert {alert['monitor']}/{alert['signal']}: {alert['state']}, opened "
            f"{alert['opened_at'][:16]}, {alert['breach_count']} breached window(s)",
            soft_wrap=True,
        )
    audit = report.audit
    state = "[green]verified[/green]" if audit.get("ok") else "[red]FAILED[/red]"
    console.print(
        f"audit chain {state} by audrey: {audit.get('entries')} entries, "
        f"{audit.get('checkpoints')} signed checkpoint(s), witnessed through entry "
        f"{audit.get('witnessed_through')}",
        soft_wrap=True,
    )
    for name, path in report.files.items():
        console.print(f"{name}: {path.resolve()}", soft_wrap=True)
    console.print(f"wall time {report.seconds:.0f} s", soft_wrap=True)


def explore(report: DemoReport, console: Console, *, kept: bool) -> None:
    """How to look around: the kept home with a server and the console, or how to keep it."""
    console.rule("explore")
    report_file, key = report.files.get("report"), report.files.get("public key")
    if report_file is not None and key is not None:
        console.print(
            f"steward report verify {report_file.resolve()} --key {key.resolve()}", soft_wrap=True
        )
    if not kept:
        console.print(
            "run `steward demo --keep` to keep the demo's home and explore it", soft_wrap=True
        )
        return
    lines = [
        f"export STEWARD_HOME={report.home.resolve()}",
        "steward serve   # then open http://127.0.0.1:8000/ (the console) or /api/docs",
        f"export STEWARD_URL=http://127.0.0.1:8000 STEWARD_TOKEN={report.tokens['alice']}",
        f"steward lineage history {setup.ENDPOINT} -p {PROJECT}",
        f"steward lineage show endpoint:{setup.ENDPOINT} -p {PROJECT} --format mermaid",
        f"steward monitor results {FAIRNESS} -p {PROJECT}",
        f'curl -s -H "Authorization: Bearer $STEWARD_TOKEN" '
        f"$STEWARD_URL/api/v1/projects/{PROJECT}/alerts",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
