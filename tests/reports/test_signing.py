"""Signed reports: every format verifies untouched, and one changed byte anywhere, a report
signed by another key, or a signature member moved between files is rejected."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from governance.audit.signing import KeyRing, Signer
from steward.reports import schema as report_schema
from steward.reports.blocks import (
    Bar,
    BarChart,
    Coverage,
    Fact,
    Facts,
    LineChart,
    Point,
    Section,
    Series,
    Source,
    Table,
)
from steward.reports.canonical import canonical_bytes, digest
from steward.reports.document import Report, ReportFormat, ReportKind, ReportMeta
from steward.reports.render import render
from steward.reports.signing import Reason, sign, verify

AT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
FORMATS = list(ReportFormat)


def _report() -> Report:
    """A small report by hand: this file tests signing, not collection."""
    run = Source(kind="monitor_run", id="7d0c7a52-6a4e-4b53-9b1a-2f4c3e9a0001")
    points = [Point(x=(AT - timedelta(days=d)).isoformat(), y=0.05 + d / 100) for d in range(7)]
    sections = [
        Section(
            id="identity",
            title="Identity",
            coverage=Coverage.filled,
            blocks=[
                Facts(
                    facts=[
                        Fact(
                            label="model",
                            value="churn",
                            source=Source(
                                kind="model_version", id="0f6d2c8e-1111-4c1e-8e44-5a2b3c4d5e6f"
                            ),
                        )
                    ]
                ),
            ],
        ),
        Section(
            id="monitoring",
            title="Monitoring — drift «PSI»",
            coverage=Coverage.partial,
            blocks=[
                LineChart(
                    title="PSI of income",
                    series=[Series(name="income", points=points)],
                    sources=[run],
                ),
                BarChart(title="Importance", bars=[Bar(label="income", value=0.4, error=0.02)]),
                Table(
                    columns=["metric", "value"],
                    rows=[["auc", 0.91], ["n", 1200]],
                    sources=[run, None],
                ),
            ],
        ),
    ]
    meta = ReportMeta(kind=ReportKind.model, title="churn v2", project="alpha", model="churn",
                      version=2, period_start=AT - timedelta(days=30), period_end=AT,
                      generated_at=AT, generator="steward test")  # fmt: skip
    return Report(meta=meta, sections=sections)


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return Signer.load_or_create(tmp_path_factory.mktemp("k") / "a.pem", origin="test/audit")


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return Signer.load_or_create(tmp_path_factory.mktemp("o") / "b.pem", origin="test/audit")


@pytest.fixture(scope="module")
def signed(signer: Signer) -> dict[ReportFormat, bytes]:
    report = _report()
    return {
        fmt: sign(render(report, fmt), fmt=fmt, report_digest=digest(report), signer=signer)
        for fmt in FORMATS
    }


def _ring(signer: Signer) -> KeyRing:
    return KeyRing([(signer.origin, signer.public_key)])


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_untouched_report_verifies(
    fmt: ReportFormat, signed: dict[ReportFormat, bytes], signer: Signer
) -> None:
    result = verify(signed[fmt], keys=_ring(signer))
    assert result.ok, result.problems
    assert result.statement is not None
    assert result.statement.format is fmt
    assert result.statement.report_digest == digest(_report())


def _positions(data: bytes, fmt: ReportFormat) -> dict[str, int]:
    """Byte positions worth changing: ends, the middle, the trailer's parts, the embedded JSON."""
    found = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}
    trailer = data.rfind(b"steward-signature:v1 ") if fmt is not ReportFormat.json else -1
    marks = {
        "content_sha256": b'"content_sha256":"sha256:',
        "report_digest": b'"report_digest":"sha256:',
        "key_id": b'"key_id":"',
        "signature": b'"signature":"',
        "verifier_key": b'"verifier_key":"',
    }
    for name, mark in marks.items():
        at = data.rfind(mark)
        assert at >= 0, name
        found[f"trailer {name}"] = at + len(mark) + 3
    if trailer >= 0:
        found["trailer marker"] = trailer + 3
        found["before trailer"] = trailer - 7
    if fmt is ReportFormat.html:
        found["embedded json"] = data.find(b'id="steward-report">') + 40
    if fmt is ReportFormat.md:
        found["embedded base64"] = data.find(b"<!-- steward-report-json") + 40
    if fmt is ReportFormat.json:
        found["report value"] = data.find(b'"auc",') + 3
    return found


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_changed_byte_anywhere_is_rejected(
    fmt: ReportFormat, signed: dict[ReportFormat, bytes], signer: Signer
) -> None:
    data = signed[fmt]
    for name, at in _positions(data, fmt).items():
        for new in {data[at] ^ 0x01, ord("0") if data[at] != ord("0") else ord("1")}:
            changed = data[:at] + bytes([new]) + data[at + 1 :]
            result = verify(changed, keys=_ring(signer))
            assert not result.ok, f"{fmt}: byte {at} ({name}) changed, still verifies"
            assert result.problems, name


@pytest.mark.parametrize("fmt", FORMATS)
def test_reasons_say_what_changed(
    fmt: ReportFormat, signed: dict[ReportFormat, bytes], signer: Signer
) -> None:
    data = signed[fmt]
    at = data.find(b"Identity")
    changed = data[:at] + b"Idantity" + data[at + 8 :]
    assert Reason.content_changed in verify(changed, keys=_ring(signer)).reasons


def test_a_changed_embedded_report_is_a_digest_mismatch(
    signed: dict[ReportFormat, bytes], signer: Signer
) -> None:
    # Someone edits the HTML's embedded JSON and re-signs the file with the right key but the
    # old digest: the content hash and signature hold, the embedded report is not the signed one.
    data = signed[ReportFormat.html]
    content = data[: data.rfind(b"\n<!-- steward-signature:v1 ")]
    edited = content.replace(b'"churn v2"', b'"churn v9"', 1)
    assert edited != content
    resigned = sign(edited, fmt=ReportFormat.html, report_digest=digest(_report()), signer=signer)
    assert verify(resigned, keys=_ring(signer)).reasons == [Reason.digest_mismatch]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_report_signed_by_another_key_is_rejected(
    fmt: ReportFormat, signed: dict[ReportFormat, bytes], signer: Signer, other: Signer
) -> None:
    report = _report()
    forged = sign(render(report, fmt), fmt=fmt, report_digest=digest(report), signer=other)
    assert verify(forged, keys=_ring(other)).ok  # a good signature, by an untrusted key
    result = verify(forged, keys=_ring(signer))
    assert result.reasons == [Reason.unknown_key]
    # The other key's signature over this file, but naming the trusted key's id: bad signature.
    theirs, ours = _key_id(other), _key_id(signer)
    relabelled = forged.replace(theirs.encode(), ours.encode())
    if fmt is ReportFormat.json:  # the verifier key names the trusted key too
        relabelled = relabelled.replace(
            other.verifier_key().encode(), signer.verifier_key().encode()
        )
    assert Reason.bad_signature in verify(relabelled, keys=_ring(signer)).reasons


def _key_id(signer: Signer) -> str:
    return signer.verifier_key().split("+")[1]


def test_unsigned_and_foreign_files_are_malformed(signer: Signer) -> None:
    report = _report()
    for fmt in FORMATS:
        result = verify(render(report, fmt), keys=_ring(signer))
        assert result.reasons == [Reason.malformed], fmt
    assert verify(b"", keys=_ring(signer)).reasons == [Reason.malformed]
    assert verify(b"[1, 2]", keys=_ring(signer)).reasons == [Reason.malformed]


def test_the_json_format_must_stay_canonical(
    signed: dict[ReportFormat, bytes], signer: Signer
) -> None:
    data = signed[ReportFormat.json]
    pretty = json.dumps(json.loads(data), indent=1, sort_keys=True).encode()
    assert verify(pretty, keys=_ring(signer)).reasons == [Reason.malformed]
    body = json.loads(data)
    signature = body.pop("signature")
    # The same report with a duplicated member: not the canonical bytes that were signed.
    dup = canonical_bytes(body)[:-1] + b',"meta":' + canonical_bytes(body["meta"]) + b"}"
    dup = dup[:-1] + b',"signature":' + canonical_bytes(signature) + b"}"
    assert verify(dup, keys=_ring(signer)).reasons == [Reason.malformed]


def test_the_signed_json_validates_against_the_published_schema(
    signed: dict[ReportFormat, bytes],
) -> None:
    schema = json.loads(report_schema.published())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(json.loads(signed[ReportFormat.json]))
    validator.validate(json.loads(canonical_bytes(_report())))
    bad = json.loads(canonical_bytes(_report()))
    bad["meta"]["kind"] = "spaceship"
    assert not validator.is_valid(bad)


def test_the_published_schema_is_the_generated_one() -> None:
    # Regenerate with `python -m steward.reports.schema` after changing the report model.
    assert report_schema.published() == report_schema.render()
    assert json.loads(report_schema.published())["$id"] == report_schema.SCHEMA_ID


def test_a_signed_pdf_still_converts_with_pdftoppm(
    signed: dict[ReportFormat, bytes], tmp_path: Path
) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is required (.ci/run installs poppler-utils); it is not on PATH"
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(signed[ReportFormat.pdf])
    assert b"%%EOF" in signed[ReportFormat.pdf][-1024:]  # readers look for it near the end
    done = subprocess.run(
        [pdftoppm, "-r", "30", "-png", str(pdf), str(tmp_path / "page")],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not done.stderr.strip(), done.stderr  # no "trailing garbage" or repair warnings
    assert sorted(tmp_path.glob("page*.png"))
