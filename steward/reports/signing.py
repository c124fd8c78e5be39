"""Signing a rendered report with the audit key and verifying it offline.

A signed file states ``{format, content_sha256, report_digest, key_id, verifier_key, schema}``
and carries an Ed25519 signature over that statement's canonical JSON. HTML and Markdown end
with a comment line holding it, PDF with a PDF comment line after ``%%EOF`` (readers ignore
it); the JSON format gets a top-level ``signature`` member and stays canonical JSON.
``content_sha256`` covers every byte before the trailer (JSON: the canonical bytes without
``signature``), so one changed byte anywhere is caught; where the file embeds the canonical
report (HTML, Markdown, JSON) its digest is recomputed and compared with the statement.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from governance.audit.signing import KeyRing, Signer, key_id, parse_verifier_key
from governance.core.errors import InvalidInput
from steward.reports.canonical import canonical_bytes
from steward.reports.document import ReportFormat

STATEMENT_SCHEMA = "steward.report-signature/1"
_MARK = b"steward-signature:v1 "
_TRAILERS = {
    ReportFormat.html: (b"\n<!-- " + _MARK, b" -->\n"),
    ReportFormat.md: (b"\n<!-- " + _MARK, b" -->\n"),
    ReportFormat.pdf: (b"\n% " + _MARK, b"\n"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Statement(_Frozen):
    """What a signature states about a rendered report file."""

    schema_: str = Field(default=STATEMENT_SCHEMA, alias="schema")
    format: ReportFormat
    content_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    report_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    key_id: str = Field(pattern=r"^[0-9a-f]{8}$")
    verifier_key: str

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature is over."""
        return canonical_bytes(self.model_dump(mode="json", by_alias=True))


class Signature(_Frozen):
    """A statement and the base64 Ed25519 signature over its canonical bytes."""

    statement: Statement
    signature: str


class Reason(StrEnum):
    """Why a report failed verification (stable codes)."""

    malformed = "malformed"  # no trailer/member, or one that cannot be read
    content_changed = "content_changed"  # the bytes differ from those signed
    digest_mismatch = "digest_mismatch"  # the embedded report is not the one signed
    unknown_key = "unknown_key"  # signed by a key that is not trusted
    bad_signature = "bad_signature"  # the signature does not verify with the trusted key


class Problem(_Frozen):
    """One reason a verification failed, with a sentence for people."""

    code: Reason
    detail: str


class Verification(_Frozen):
    """The outcome of ``verify``: ok, or the reasons it is not; what the file states."""

    ok: bool
    problems: list[Problem]
    statement: Statement | None = None

    @property
    def reasons(self) -> list[Reason]:
        """The codes of the problems found."""
        return [p.code for p in self.problems]


def sha256_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sign(data: bytes, *, fmt: ReportFormat, report_digest: str, signer: Signer) -> bytes:
    """The rendered report ``data`` with its signature (trailer or JSON member) added."""
    if fmt is ReportFormat.json:
        body = _json_object(data)
        if body is None or "signature" in body or canonical_bytes(body) != data:
            raise InvalidInput("the JSON report to sign is not an unsigned canonical report")
        signed = _signature(data, fmt=fmt, report_digest=report_digest, signer=signer)
        return canonical_bytes({**body, "signature": signed.model_dump(mode="json", by_alias=True)})
    signed = _signature(data, fmt=fmt, report_digest=report_digest, signer=signer)
    head, tail = _TRAILERS[fmt]
    return data + head + _envelope_bytes(signed) + tail


def _signature(data: bytes, *, fmt: ReportFormat, report_digest: str, signer: Signer) -> Signature:
    statement = Statement(
        format=fmt,
        content_sha256=sha256_of(data),
        report_digest=report_digest,
        key_id=key_id(signer.origin, signer.public_key).hex(),
        verifier_key=signer.verifier_key(),
    )
    raw = signer.sign_bytes(statement.signed_bytes())
    return Signature(statement=statement, signature=base64.b64encode(raw).decode())


def _envelope_bytes(signed: Signature) -> bytes:
    # ASCII only, so the trailer is a valid PDF comment and never touches the text's encoding.
    data = signed.model_dump(mode="json", by_alias=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data.decode(), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate member")
    return found


class _Parsed(_Frozen):
    signed: Signature
    content: bytes  # the bytes content_sha256 covers
    embedded: bytes | None  # the canonical report the file embeds, when it does


def _malformed(detail: str) -> Verification:
    return Verification(ok=False, problems=[Problem(code=Reason.malformed, detail=detail)])


def verify(data: bytes, *, keys: KeyRing) -> Verification:
    """Check a signed report file offline against the trusted ``keys``."""
    try:
        parsed = _parse(data)
    except ValueError as exc:
        return _malformed(str(exc))
    statement = parsed.signed.statement
    # An unverified statement says nothing about the content: report only why it is untrusted.
    problems = _check_signature(parsed.signed, keys)
    if not problems:
        problems = [*_check_content(parsed), *_check_embedded(parsed)]
    return Verification(ok=not problems, problems=problems, statement=statement)


def _parse(data: bytes) -> _Parsed:
    if data.startswith(b"{"):
        return _parse_json(data)
    for head, tail in dict.fromkeys(_TRAILERS.values()):
        start = data.rfind(head)
        if start < 0 or not data.endswith(tail) or start + len(head) > len(data) - len(tail):
            continue
        signed = _read_envelope(data[start + len(head) : len(data) - len(tail)])
        fmt = signed.statement.format
        if _TRAILERS.get(fmt) != (head, tail):
            raise ValueError(f"a {fmt} report cannot end with this trailer")
        content = data[:start]
        return _Parsed(signed=signed, content=content, embedded=_embedded(content, fmt))
    raise ValueError("the file carries no Steward report signature")


def _read_envelope(envelope: bytes) -> Signature:
    try:
        value = json.loads(envelope.decode("ascii"), object_pairs_hook=_no_duplicates)
        signed = Signature.model_validate(value)
    except (UnicodeDecodeError, ValueError, ValidationError) as exc:
        raise ValueError("the signature trailer cannot be read") from exc
    if _envelope_bytes(signed) != envelope:
        raise ValueError("the signature trailer is not in its canonical form")
    return signed


def _parse_json(data: bytes) -> _Parsed:
    body = _json_object(data)
    if body is None:
        raise ValueError("the file is not a JSON object")
    if "signature" not in body:
        raise ValueError("the JSON report has no signature member")
    if canonical_bytes(body) != data:
        raise ValueError("the JSON report is not in its canonical form")
    try:
        signed = Signature.model_validate(body.pop("signature"))
    except ValidationError as exc:
        raise ValueError("the signature member cannot be read") from exc
    content = canonical_bytes(body)
    return _Parsed(signed=signed, content=content, embedded=content)


def _embedded(content: bytes, fmt: ReportFormat) -> bytes | None:
    """The canonical report an HTML or Markdown file embeds (None for PDF)."""
    from steward.reports.render import extract_canonical

    if fmt is ReportFormat.pdf:
        return None
    try:
        return extract_canonical(content, str(fmt))
    except (InvalidInput, ValueError) as exc:
        raise ValueError("the file embeds no readable canonical report") from exc


def _check_content(parsed: _Parsed) -> list[Problem]:
    if sha256_of(parsed.content) == parsed.signed.statement.content_sha256:
        return []
    detail = "the file's content differs from the content that was signed"
    return [Problem(code=Reason.content_changed, detail=detail)]


def _check_signature(signed: Signature, keys: KeyRing) -> list[Problem]:
    statement = signed.statement
    trusted = keys.get(bytes.fromhex(statement.key_id))
    if trusted is None:
        detail = f"signed by key {statement.key_id}, which is not a trusted key"
        return [Problem(code=Reason.unknown_key, detail=detail)]
    try:
        _name, stated = parse_verifier_key(statement.verifier_key)
        raw = base64.b64decode(signed.signature, validate=True)
    except (InvalidInput, binascii.Error, ValueError):
        return [Problem(code=Reason.bad_signature, detail="the signature cannot be read")]
    if _raw(stated) != _raw(trusted):
        detail = "the stated verifier key is not the trusted key with that id"
        return [Problem(code=Reason.bad_signature, detail=detail)]
    try:
        trusted.verify(raw, statement.signed_bytes())
    except InvalidSignature:
        detail = f"the signature does not verify with trusted key {statement.key_id}"
        return [Problem(code=Reason.bad_signature, detail=detail)]
    return []


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_embedded(parsed: _Parsed) -> list[Problem]:
    if parsed.embedded is None:
        return []
    found, signed = sha256_of(parsed.embedded), parsed.signed.statement.report_digest
    if found == signed:
        return []
    detail = f"the embedded report's digest {found} is not the signed report's {signed}"
    return [Problem(code=Reason.digest_mismatch, detail=detail)]
