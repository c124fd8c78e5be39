"""Prometheus exposition (via ``prometheus_client``) of monitor values, runs, alerts and ingest.

Project series (monitors, runs, alerts, ingest) are built from the tables at each scrape and
filtered to the projects the scrape token may read. Process series (HTTP requests, build info,
the daemon leader) are shown to any token with ``metrics:read`` in some project. HTTP series
live in a registry per app (``HttpMetrics``), never in ``prometheus_client``'s global one.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Collection, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from governance.core.clock import utcnow
from governance.core.db import Database
from monitors.alerts.service import count_open_alerts
from monitors.capture.buffer import BufferStats
from monitors.capture.service import ingest_counts
from monitors.runs.service import latest_values, run_stats
from monitors.runs.telemetry import last_successes, run_durations
from monitors.scheduler.lease import DEFAULT_LEASE, list_leases

# What ``generate_latest`` writes (legacy names, no escaping scheme): the text format 0.0.4,
# which ``prometheus_client`` itself pairs it with when a scraper asks for no other format.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
SERIES = ["project", "monitor", "signal", "metric", "feature"]
SIGNAL = ["project", "monitor", "signal", "feature"]
RUNS = ["project", "monitor", "status"]
INGEST = ["project", "endpoint", "kind"]
MONITOR = ["project", "monitor"]
# Monitor runs take from milliseconds (small windows) to many minutes (large ones).
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Methods outside this set are counted as "other": a client cannot mint label values.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def build_version() -> str:
    """The installed version of Steward."""
    try:
        return importlib.metadata.version("steward")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class HttpMetrics:
    """Request counts and latencies of one app, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "steward_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "steward_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request; ``route`` is a template, never a raw path."""
        method = method if method in HTTP_METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.seconds.labels(method, route).observe(seconds)


class StewardCollector(Collector):
    """Build Steward's metric families from its tables at each scrape, for some projects only."""

    def __init__(self, db: Database, *, projects: Collection[str]) -> None:
        self.db = db
        self.projects = frozenset(projects)

    def collect(self) -> Iterator[Metric]:
        """Yield every family, restricted to the series of the allowed projects."""
        yield from self._values()
        yield from self._runs()
        yield self._last_success()
        yield self._durations()
        yield self._alerts()
        yield from self._ingest()

    def _values(self) -> Iterator[Metric]:
        # One family per metric (steward_signal_accuracy, steward_signal_ks_p_value, ...): a
        # p-value, a distance and an accuracy are different quantities, which Prometheus expects
        # under different names; ``breached`` is one kind (0 or 1) for all of them.
        families: dict[str, GaugeMetricFamily] = {}
        breached = GaugeMetricFamily(
            "steward_monitor_breached",
            "1 when the latest value of a monitor signal metric breached its threshold.",
            labels=SERIES,
        )
        for project, monitor, point in latest_values(self.db):
            if project in self.projects and point.value is not None:
                family = families.get(point.metric) or families.setdefault(
                    point.metric, _signal_family(point.metric)
                )
                family.add_metric([project, monitor, point.signal, point.feature], point.value)
                labels = [project, monitor, point.signal, point.metric, point.feature]
                breached.add_metric(labels, float(point.breached))
        yield from (*families.values(), breached)

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

    def _last_success(self) -> Metric:
        family = GaugeMetricFamily(
            "steward_monitor_last_success_timestamp_seconds",
            "When the newest succeeded run of each monitor finished (Unix time).",
            labels=MONITOR,
        )
        for project, monitor, when in last_successes(self.db):
            if project in self.projects:
                family.add_metric([project, monitor], when.timestamp())
        return family

    def _durations(self) -> Metric:
        family = HistogramMetricFamily(
            "steward_monitor_run_duration_seconds",
            "Time monitor runs took to compute, every stored run counted.",
            labels=MONITOR,
        )
        for d in run_durations(self.db, RUN_BUCKETS):
            if d.project in self.projects:
                buckets = [(_le(b), float(n)) for b, n in zip(d.bounds, d.cumulative, strict=True)]
                buckets.append(("+Inf", float(d.count)))
                family.add_metric([d.project, d.monitor], buckets, d.total_seconds)
        return family

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


def _signal_family(metric: str) -> GaugeMetricFamily:
    """The gauge of one signal metric's latest values (feature empty for signal-level ones)."""
    name = "steward_signal_" + re.sub(r"[^a-zA-Z0-9_]", "_", metric)
    return GaugeMetricFamily(name, f"Latest {metric} of each monitor signal.", labels=SIGNAL)


def _le(bound: float) -> str:
    return repr(float(bound))


class ProcessCollector(Collector):
    """Series about the service rather than a project: build, daemon leader, HTTP requests,
    the capture buffer of scored rows (totals of the process: no project is named)."""

    def __init__(
        self, db: Database, *, http: HttpMetrics | None, capture: BufferStats | None = None
    ) -> None:
        self.db = db
        self.http = http
        self.capture = capture

    def collect(self) -> Iterator[Metric]:
        """Yield the build info, the leader gauge and this app's HTTP and capture series."""
        info = GaugeMetricFamily(
            "steward_build_info", "Steward's version (the value is always 1).", labels=["version"]
        )
        info.add_metric([build_version()], 1.0)
        yield info
        yield self._leader()
        if self.http is not None:
            for family in self.http.registry.collect():
                # ``_created`` samples would show as extra gauge families in the 0.0.4 format.
                family.samples = [s for s in family.samples if not s.name.endswith("_created")]
                yield family
        if self.capture is not None:
            yield from _capture_buffer(self.capture)

    def _leader(self) -> Metric:
        # Labelled by lease (one per fleet of daemons), not by holder: a holder id names a host
        # and process, so each restart would start a new series; the audit log names holders.
        family = GaugeMetricFamily(
            "steward_daemon_leader",
            "1 while some monitoring daemon holds the lease (a live leader), else 0.",
            labels=["lease"],
        )
        now = utcnow()
        leases = list_leases(self.db)
        for name in sorted({DEFAULT_LEASE, *leases}):
            info = leases.get(name)
            family.add_metric([name], float(info is not None and info.expires_at > now))
        return family


def _capture_buffer(stats: BufferStats) -> Iterator[Metric]:
    rows = CounterMetricFamily(
        "steward_capture_buffer_rows",
        "Scored rows the capture buffer wrote, dropped (over its bound while writes failed) "
        "or lost to a refused write.",
        labels=["outcome"],
    )
    for outcome, count in (("written", stats.written_rows), ("dropped", stats.dropped_rows),
                           ("refused", stats.refused_rows)):  # fmt: skip
        rows.add_metric([outcome], count)
    yield rows
    yield CounterMetricFamily(
        "steward_capture_buffer_failed_writes", "Writes that failed and were kept for retry.",
        value=stats.failed_writes,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "steward_capture_buffer_pending_rows", "Scored rows waiting to be written.",
        value=sum(stats.pending.values()),
    )  # fmt: skip


def exposition(
    db: Database,
    *,
    projects: Collection[str],
    http: HttpMetrics | None = None,
    capture: BufferStats | None = None,
) -> bytes:
    """The ``/metrics`` body for a caller allowed to see ``projects`` (process series if any)."""
    # A registry per scrape: the series depend on who scrapes, and nothing is kept in memory.
    registry = CollectorRegistry()
    registry.register(StewardCollector(db, projects=projects))
    if projects:
        registry.register(ProcessCollector(db, http=http, capture=capture))
    return generate_latest(registry)
