"""Monitors (apply, run, results as a frame) and the alerts they raise."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from steward.client import frames
from steward.client.base import PAGE, Resource, seg
from steward.client.http import dumps
from steward.client.models import Alert, Monitor, MonitorRun, ResultPoint, RunReport

YAML = "application/yaml"
JSON = "application/json"


def _document(
    spec: str | Path | Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> tuple[bytes, str]:
    """The body of an apply or validate: YAML text (or a file), or specs as JSON."""
    if isinstance(spec, Path):
        return spec.read_bytes(), YAML
    if isinstance(spec, str):
        return spec.encode(), YAML
    return dumps(spec if isinstance(spec, Mapping) else list(spec)), JSON


class Monitors(Resource):
    """The project's monitors."""

    def apply(
        self, spec: str | Path | Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> builtins.list[Monitor]:
        """Create or replace monitors from YAML text, a YAML file, or spec dicts; all or none."""
        body, media = _document(spec)
        found = self._http.json(
            "POST", self._path("/monitors/apply"), content=body, headers={"Content-Type": media}
        )
        return [Monitor.model_validate(m) for m in found]

    def validate(
        self, spec: str | Path | Mapping[str, Any], *, window_end: datetime | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Compute a document's monitors on one window without storing anything."""
        body, media = _document(spec)
        params = {"window_end": window_end.isoformat() if window_end else None}
        found: builtins.list[dict[str, Any]] = self._http.json(
            "POST", self._path("/monitors/validate"), content=body, params=params,
            headers={"Content-Type": media},
        )  # fmt: skip
        return found

    def list(self) -> builtins.list[Monitor]:
        """The project's monitors by name."""
        return self._list(Monitor, "/monitors")

    def get(self, name: str) -> Monitor:
        """One monitor."""
        return self._get(Monitor, f"/monitors/{seg(name)}")

    def delete(self, name: str) -> None:
        """Delete a monitor with its runs and results."""
        self._http.request("DELETE", self._path(f"/monitors/{seg(name)}"))

    def run(
        self, name: str, *, window_end: datetime | None = None, rerun: bool = False
    ) -> RunReport:
        """Run one window now (default: the newest that has ended); a window runs only once."""
        body = {"window_end": window_end, "rerun": rerun}
        return self._send(RunReport, "POST", f"/monitors/{seg(name)}/run", body)

    def runs(self, name: str, *, since: datetime | None = None) -> builtins.list[MonitorRun]:
        """The monitor's runs, newest window first."""
        params = {"since": since.isoformat() if since else None, "limit": PAGE}
        return self._list(MonitorRun, f"/monitors/{seg(name)}/runs", **params)

    def results(
        self,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        signal: str | None = None,
    ) -> builtins.list[ResultPoint]:
        """Every value of the monitor's time series, oldest window first."""
        return list(self._results(name, since, until, signal))

    def results_frame(
        self,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        signal: str | None = None,
    ) -> Any:
        """The time series as a pandas DataFrame, one row per (window, signal, metric, feature)."""
        pd = frames._require("pandas", "pandas")
        columns = list(ResultPoint.model_fields)
        rows = [
            p.model_dump(include=set(columns)) for p in self._results(name, since, until, signal)
        ]
        frame = pd.DataFrame(rows, columns=columns)
        frame["window_end"] = pd.to_datetime(frame["window_end"], utc=True)
        return frame

    def _results(
        self, name: str, since: datetime | None, until: datetime | None, signal: str | None
    ) -> Iterator[ResultPoint]:
        path = self._path(f"/monitors/{seg(name)}/results")
        params: dict[str, Any] = {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None, "signal": signal, "limit": PAGE,
        }  # fmt: skip
        while True:
            page = self._http.json("GET", path, params=params)
            yield from (ResultPoint.model_validate(p) for p in page["items"])
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]


class Alerts(Resource):
    """Alerts of the project: list, acknowledge, resolve."""

    def list(
        self, *, state: str | Sequence[str] | None = None, monitor: str | None = None
    ) -> builtins.list[Alert]:
        """Alerts, newest first, optionally only those in ``state`` (open, acknowledged ...)."""
        states = [state] if isinstance(state, str) else list(state or [])
        found: builtins.list[Alert] = []
        cursor: str | None = None
        while True:
            params = {"state": states or None, "monitor": monitor, "limit": PAGE, "cursor": cursor}
            page = self._list(Alert, "/alerts", **params)
            found.extend(page)
            if len(page) < PAGE:
                return found
            cursor = str(page[-1].id)

    def get(self, alert_id: UUID | str) -> Alert:
        """One alert."""
        return self._get(Alert, f"/alerts/{alert_id}")

    def acknowledge(self, alert: Alert | UUID | str, *, note: str = "") -> Alert:
        """Acknowledge an open alert."""
        return self._send(Alert, "POST", f"/alerts/{_id(alert)}/acknowledge", {"note": note})

    def resolve(self, alert: Alert | UUID | str, *, note: str = "") -> Alert:
        """Resolve an alert."""
        return self._send(Alert, "POST", f"/alerts/{_id(alert)}/resolve", {"note": note})


def _id(alert: Alert | UUID | str) -> str:
    return str(alert.id if isinstance(alert, Alert) else alert)
