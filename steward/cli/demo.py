"""``steward demo``: the monitoring loop end to end on Adult data, in about a minute."""

from __future__ import annotations

import typer

from steward.cli.context import console, database, operator, settings


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)


def demo(
    days: int = typer.Option(7, min=2, max=31, help="days of traffic to replay"),
    shift_from: int = typer.Option(5, min=1, help="first day with a shifted population"),
    rows_per_day: int = typer.Option(2000, min=200, max=100_000, help="requests per day"),
) -> None:
    """Project, users, data, a torch model, 7 days of traffic, monitors, alerts, audit."""
    from steward.demo.chart import render_chart
    from steward.demo.report import render
    from steward.demo.scenario import DemoOptions, run_demo
    from steward.migrations import upgrade

    db = database(check_schema=False, create=True)  # a fresh home is the demo's
    upgrade(db)
    options = DemoOptions(days=days, shift_from=shift_from, rows_per_day=rows_per_day)
    report = run_demo(db, settings(), operator=operator(), console=console, options=options)
    render(report, console)
    chart = render_chart(report.days, settings().home / "reports" / "demo-monitor.png")
    if chart is not None:
        console.print(f"chart of the week: {chart.resolve()}")
    if report.audit is None or not report.audit.ok:
        raise typer.Exit(1)
