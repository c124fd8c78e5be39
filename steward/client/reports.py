"""Reports: download signed model and project reports, store them, verify them offline.

Verification is offline (the file and a trusted public key, never the server's word) and uses
``steward.reports.signing``, which needs the full ``steward`` install (cryptography and the
report renderer). In an SDK-only environment ``verify`` raises ``VerificationUnavailable``:
verify with ``steward report verify FILE --key KEY`` where Steward is installed instead.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from steward.client.base import Resource, seg
from steward.client.errors import VerificationUnavailable
from steward.client.models import StoredReport


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportFile:
    """A downloaded report: its signed bytes, file name and media type."""

    content: bytes
    filename: str
    media_type: str

    def save(self, path: Path | str) -> Path:
        """Write the file (to ``path``, or into it when ``path`` is a folder)."""
        target = Path(path)
        if target.is_dir():
            target = target / self.filename
        target.write_bytes(self.content)
        return target


def _file(response: httpx.Response, fallback: str) -> ReportFile:
    disposition = response.headers.get("Content-Disposition", "")
    name = disposition.split('filename="', 1)[1].rstrip('"') if 'filename="' in disposition else ""
    media = response.headers.get("Content-Type", "application/octet-stream").split(";")[0]
    return ReportFile(content=response.content, filename=name or fallback, media_type=media)


def _period(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {
        "period_start": start.isoformat() if start else None,
        "period_end": end.isoformat() if end else None,
    }


class Reports(Resource):
    """Model and project reports, on demand or stored."""

    def model(
        self,
        name: str,
        version: int,
        *,
        format: str = "html",
        period_start: datetime | None = None,
        period_end: datetime | None = None,
    ) -> ReportFile:
        """A model version's signed report (html, md, json or pdf), not stored."""
        path = self._path(f"/models/{seg(name)}/versions/{version}/report")
        params = {"format": format, **_period(period_start, period_end)}
        return _file(self._http.request("GET", path, params=params), f"{name}-{version}.{format}")

    def project_report(
        self,
        *,
        format: str = "html",
        period_start: datetime | None = None,
        period_end: datetime | None = None,
    ) -> ReportFile:
        """The project's signed governance report, not stored."""
        params = {"format": format, **_period(period_start, period_end)}
        response = self._http.request("GET", self._path("/report"), params=params)
        return _file(response, f"{self.project}.{format}")

    def create(
        self,
        kind: str,
        *,
        model: str | None = None,
        version: int | None = None,
        format: str = "html",
        period_start: datetime | None = None,
        period_end: datetime | None = None,
    ) -> StoredReport:
        """Generate, sign and store a report (kind ``model`` or ``project``)."""
        body = {"kind": kind, "model": model, "version": version, "format": format,
                **_period(period_start, period_end)}  # fmt: skip
        return self._send(StoredReport, "POST", "/reports", body)

    def list(
        self, *, kind: str | None = None, model: str | None = None
    ) -> builtins.list[StoredReport]:
        """Stored reports, newest first."""
        return self._list(StoredReport, "/reports", kind=kind, model=model)

    def download(self, report: StoredReport | UUID | str) -> ReportFile:
        """A stored report's signed file, as it was stored."""
        report_id = report.id if isinstance(report, StoredReport) else report
        response = self._http.request("GET", self._path(f"/reports/{report_id}"))
        return _file(response, f"report-{report_id}")

    def public_key(self) -> str:
        """The server's verifier key (needs audit read at system scope).

        Verifying with a key fetched from the same server proves integrity, not origin: keep
        the key from a trusted channel (``steward audit public-key`` on the server) when that
        matters.
        """
        return self._http.request("GET", "/audit/public-key").text


def verify(report: ReportFile | bytes, *, key: str, origin: str = "steward.local/audit") -> Any:
    """Check a signed report offline against a trusted key (what ``public_key`` returns).

    Returns ``steward.reports.signing.Verification`` (``ok``, ``problems``, ``statement``).
    Raises ``VerificationUnavailable`` where only the SDK is installed.
    """
    try:
        from governance.audit.signing import KeyRing, parse_verifier_key
        from steward.reports.signing import verify as verify_signed
    except ImportError as exc:
        raise VerificationUnavailable(
            "offline report verification needs the full steward install "
            f"({exc.name or 'a dependency'} is missing); run `steward report verify FILE --key "
            "KEY` where Steward is installed"
        ) from exc
    try:
        name, public = parse_verifier_key(key)
    except Exception as exc:  # the server package's InvalidInput must not leak out of the SDK
        raise ValueError(f"not a verifier key or PEM public key: {exc}") from None
    data = report.content if isinstance(report, ReportFile) else report
    return verify_signed(data, keys=KeyRing([(name or origin, public)]))
