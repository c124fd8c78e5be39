"""Rendering a report to HTML, Markdown, JSON or PDF (unsigned bytes; ``signing`` signs them).

HTML and Markdown embed the canonical JSON; ``extract_canonical`` gets its exact bytes back, so
a verifier recomputes ``digest(report)`` from the file alone.
"""

from __future__ import annotations

from steward.reports.canonical import canonical_bytes
from steward.reports.document import Report, ReportFormat
from steward.reports.render.html import render_html
from steward.reports.render.markdown import render_markdown
from steward.reports.render.pdf import render_pdf
from steward.reports.render.text import extract_canonical

__all__ = ["extract_canonical", "render"]


def render(report: Report, fmt: ReportFormat) -> bytes:
    """The report as ``fmt``: self-contained, showing its canonical-JSON digest; HTML and
    Markdown embed the canonical JSON so a reader (and ``verify``) can recompute the digest."""
    fmt = ReportFormat(fmt)
    if fmt is ReportFormat.json:
        return canonical_bytes(report)
    if fmt is ReportFormat.html:
        return render_html(report)
    if fmt is ReportFormat.md:
        return render_markdown(report)
    return render_pdf(report)
