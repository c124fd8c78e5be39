"""The demo's printed summary: what happened, the key numbers, and how to explore it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from steward.demo import setup
from steward.demo.scenario import DemoReport


def _days_table(report: DemoReport) -> Table:
    table = Table(title=f"monitor {setup.MONITOR}: one run per daily window", title_justify="left")
    for column in ("day", "window", "rows", "drifted features", "share", "pred.", "acc.", "result"):
        table.add_column(column)
    for day in report.days:
        drift = day.run.summary.get("data_drift", {})
        prediction = day.run.summary.get("prediction_drift", {})
        names = drift.get("drifted", [])
        drifted = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        share = drift.get("share_of_drifted_columns")
        accuracy = day.run.summary.get("performance", {}).get("accuracy")
        table.add_row(
            f"{day.number}{'*' if day.shifted else ''}",
            f"{day.run.window_start:%m-%d}..{day.run.window_end:%m-%d}",
            str(day.run.row_count),
            drifted or "-",
            "-" if share is None else f"{share:.2f}",
            "drift" if prediction.get("breached") else "ok",
            "-" if accuracy is None else f"{accuracy:.3f}",
            "[red]ALERT[/red]" if day.run.breached else "ok",
        )
    return table


def render(
    report: DemoReport, console: Console, *, base_url: str = "http://127.0.0.1:8000"
) -> None:
    """Print the summary."""
    console.rule("[bold]steward demo: summary")
    people = ", ".join(f"{name} ({role})" for name, role in report.people.items())
    console.print(f"project [bold]{report.project}[/bold] with {people}")
    trained = "trained now" if report.trained else "already registered, reused"
    console.print(
        f"training data: {report.reference_rows} Adult rows as dataset {setup.DATASET}@"
        f"{report.dataset_version}; monitor reference: {report.validation_rows} held-out rows "
        f"scored by the model ({setup.VALIDATION}); model {setup.MODEL} "
        f"v{report.model_version} ({trained}, "
        f"held-out accuracy {report.accuracy:.3f}) serving endpoint {setup.ENDPOINT}"
    )
    console.print(_days_table(report))
    console.print("* population shifted: older people, more women, longer hours")
    opened = list(report.alerts)
    for alert in opened:
        console.print(
            f"alert [red]{alert.severity}[/red] {alert.monitor}/{alert.signal}: {alert.state}, "
            f"opened {alert.opened_at:%Y-%m-%d %H:%M} (simulated), {alert.breach_count} "
            f"breach(es), latest value {_rounded(alert.value)} vs threshold {alert.threshold}"
        )
    if not opened:
        console.print("no alert was raised")
    valid = sum(1 for w in report.webhooks if w.valid)
    console.print(
        f"webhooks received by the local receiver: {len(report.webhooks)} "
        f"({valid} with a valid HMAC-SHA256 signature)"
        + ("" if report.webhooks else " - alerts were already open from an earlier run")
    )
    audit = report.audit
    ok = bool(audit and audit.ok)
    console.print(
        f"audit chain: {'[green]verified[/green]' if ok else '[red]FAILED[/red]'} "
        f"({audit.entries if audit else '?'} entries, {audit.checkpoints if audit else 0} "
        "signed checkpoint(s))"
    )
    console.print(f"wall time {report.seconds:.1f} s")
    _explore(report, console, base_url)


def _explore(report: DemoReport, console: Console, base_url: str) -> None:
    first = report.days[0].run.window_start if report.days else None
    since = f"?since={first:%Y-%m-%dT%H:%M:%SZ}" if first else ""
    console.rule("explore")
    console.print("  steward serve            # in another terminal (same STEWARD_HOME)")
    console.print(f"  export TOKEN={report.token}   # alice, ml-engineer (shown once)")
    url = f"{base_url}/api/v1/projects/{report.project}/monitors/{setup.MONITOR}/results{since}"
    console.print(f'  curl -H "Authorization: Bearer $TOKEN" "{url}"')
    alerts = f"{base_url}/api/v1/projects/{report.project}/alerts"
    console.print(f'  curl -H "Authorization: Bearer $TOKEN" {alerts}')
    console.print(f'  curl -H "Authorization: Bearer $TOKEN" {base_url}/metrics')
    console.print(f"  steward monitor results {setup.MONITOR} -p {report.project}")
    console.print("  steward audit verify")


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
