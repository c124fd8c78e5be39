"""``steward demo``: the whole loop on Adult data in a fresh home, in about a minute."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from steward.cli.context import console, operator


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(
        Path("steward-demo"), help="folder for the report, the chart and (with --keep) the home"
    ),
    keep: bool = typer.Option(False, "--keep", help="keep the demo's home to explore it"),
    days: int = typer.Option(7, min=6, max=31, help="days of traffic before the canary"),
    shift_from: int = typer.Option(5, min=2, help="first day with a shifted population"),
    rows_per_day: int = typer.Option(2000, min=1000, max=100_000, help="requests per day"),
) -> None:
    """Train, deploy, watch, alert, retrain, gate, approve, canary, report, verify: the loop."""
    from steward.demo.chart import render_chart
    from steward.demo.report import explore, render
    from steward.demo.scenario import DemoOptions, run_demo

    if shift_from > days:
        raise typer.BadParameter("the shift must start within the days", param_hint="--shift-from")
    options = DemoOptions(out=out, days=days, shift_from=shift_from, rows_per_day=rows_per_day)
    report = run_demo(operator(), console, options)
    chart = render_chart(report.days, out / "demo-week.png")
    if chart is not None:
        report.files["chart"] = chart
    render(report, console)
    if not keep:
        shutil.rmtree(report.home, ignore_errors=True)
    explore(report, console, kept=keep)
    if not report.audit.get("ok"):
        raise typer.Exit(1)
