"""A report as PDF: its HTML laid out by WeasyPrint (A4, the print style sheet), with the
canonical JSON attached as the file ``steward-report.json`` (its SHA-256 is the digest).

The output is deterministic for the same report: the file identifier is taken from the digest,
and the only dates are the report's own generation time (``dcterms.created`` in the HTML, and
the attachment's dates).
"""

from __future__ import annotations

from steward.reports.canonical import canonical_bytes, digest
from steward.reports.document import Report
from steward.reports.render.html import render_html

ATTACHMENT = "steward-report.json"


def render_pdf(report: Report) -> bytes:
    """The PDF bytes of the report's print HTML; nothing is fetched (any URL is an error)."""
    import weasyprint  # type: ignore[import-untyped]  # heavy: imported only to make a PDF

    refuse_all = weasyprint.URLFetcher(allowed_protocols=(), fail_on_errors=True)
    html = render_html(report, for_print=True).decode()
    document = weasyprint.HTML(string=html, url_fetcher=refuse_all)
    created = report.meta.generated_at.replace(tzinfo=None)  # pdf dates: naive, as given
    attachment = weasyprint.Attachment(
        string=canonical_bytes(report),
        url_fetcher=refuse_all,
        name=ATTACHMENT,
        description=f"canonical JSON of the report, {digest(report)}",
        created=created,
        modified=created,
        relationship="Source",
    )
    pdf: bytes = document.write_pdf(
        pdf_identifier=digest(report).removeprefix("sha256:")[:32].encode(),
        attachments=[attachment],
        pdf_tags=True,  # a tagged PDF: headings, tables and reading order for assistive tools
    )
    return pdf
