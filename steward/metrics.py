"""Prometheus exposition (via ``prometheus_client``) of monitor values, runs, alerts and ingest."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from governance.core.db import Database
from monitors.alerts.service import count_open_alerts
from monitors.capture.service import ingest_counts
from monitors.runs.service import latest_values, run_stats

# What ``generate_latest`` writes (legacy names, no escaping scheme): the text format 0.0.4,
# which ``prometheus_client`` itself pairs it with when a scraper asks for no other format.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
SERIES = ["project", "monitor", "signal", "metric", "feature"]
RUNS = ["project", "monitor", "status"]
INGEST = ["project", "endpoint", "kind"]


class StewardCollector(Collector):
    """Build Steward's metric families from its tables at each scrape, for some projects only."""

    def __init__(self, db: Database, *, projects: Collection[str]) -> None:
        self.db = db
        self.projects = frozenset(projects)

    def collect(self) -> Iterator[Metric]:
        """Yield every family, restricted to the series of the allowed projects."""
        yield from self._values()
        yield from self._runs()
        yield self._alerts()
        yield from self._ingest()

    def _values(self) -> Iterator[Metric]:
        value = GaugeMetricFamily(
            "steward_monitor_value",
            "Latest value of each monitor signal metric (feature empty for signal-level metrics).",
            labels=SERIES,
        )
        breached = GaugeMetricFamily(
            "steward_monitor_breached",
            "1 when the latest value of a monitor signal metric breached its threshold.",
            labels=SERIES,
        )
        for project, monitor, point in latest_values(self.db):
            if project in self.projects and point.value is not None:
                labels = [project, monitor, point.signal, point.metric, point.feature]
                value.add_metric(labels, point.value)
                breached.add_metric(labels, float(point.breached))
        yield from (value, breached)

    def _runs(self) -> Iterator[Metric]:
        count = CounterMetricFamily(
            "steward_monitor_runs_total", "Monitor runs by outcome.", labels=RUNS
        )
        seconds = CounterMetricFamily(
            "steward_monitor_run_seconds_total",
            "Total seconds spent computing monitor runs.",
            labels=RUNS,
        )
        longest = GaugeMetricFamily(
            "steward_monitor_run_seconds_max",
            "Longest monitor run so far, in seconds.",
            labels=RUNS,
        )
        for project, monitor, status, n, total, most in run_stats(self.db):
            if project in self.projects:
                count.add_metric([project, monitor, status], n)
                seconds.add_metric([project, monitor, status], total)
                longest.add_metric([project, monitor, status], most)
        yield from (count, seconds, longest)

    def _alerts(self) -> Metric:
        family = GaugeMetricFamily(
            "steward_alerts_open", "Unresolved alerts.", labels=["project", "monitor", "severity"]
        )
        for (project, monitor, severity), n in sorted(count_open_alerts(self.db).items()):
            if project in self.projects:
                family.add_metric([project, monitor, severity], n)
        return family

    def _ingest(self) -> Iterator[Metric]:
        rows = CounterMetricFamily(
            "steward_ingest_rows_total", "Rows stored by ingest.", labels=INGEST
        )
        batches = CounterMetricFamily(
            "steward_ingest_batches_total", "Batches stored.", labels=INGEST
        )
        refused = CounterMetricFamily(
            "steward_ingest_refused_total", "Batches refused.", labels=INGEST
        )
        duplicates = CounterMetricFamily(
            "steward_ingest_duplicates_total",
            "Retried batches recognised and not stored again.",
            labels=INGEST,
        )
        for c in ingest_counts(self.db):
            if c.project in self.projects:
                labels = [c.project, c.endpoint, str(c.kind)]
                rows.add_metric(labels, c.rows)
                batches.add_metric(labels, c.batches)
                refused.add_metric(labels, c.refused)
                duplicates.add_metric(labels, c.duplicates)
        yield from (rows, batches, refused, duplicates)


def exposition(db: Database, *, projects: Collection[str]) -> bytes:
    """The ``/metrics`` body for a caller allowed to see ``projects``."""
    # A registry per scrape: the series depend on who scrapes, and nothing is kept in memory.
    registry = CollectorRegistry()
    registry.register(StewardCollector(db, projects=projects))
    return generate_latest(registry)
