"""Shared by the renderers: how cells, sources and numbers read, the colours (WCAG AA on white),
and how the canonical JSON is embedded in (and recovered from) an HTML or Markdown file."""

from __future__ import annotations

import base64
import html
import math
import re

from governance.core.errors import InvalidInput
from steward.reports.blocks import Cell, Source

# Text colours: each has a contrast of at least 4.5:1 on white and on the badge/zebra tints.
INK = "#1a1a1a"
MUTED = "#4d4d4d"
GRID = "#d0d0d0"
AXIS = "#595959"
# Series and node colours (Okabe-Ito hues darkened to >= 4.5:1 on white: usable for text too).
PALETTE = ("#0064a0", "#b34700", "#00704f", "#a0336e", "#5a4a9c", "#7a5c00")
THRESHOLD = "#b00020"
BAND = "#e6eef6"
COVERAGE_COLOURS = {  # badge text, badge background
    "filled": ("#0b5d1e", "#e3f4e6"),
    "partial": ("#7a4a00", "#fff2d6"),
    "empty": ("#5c5c5c", "#ececec"),
}

EMBED_TAG_OPEN = '<script type="application/json" id="steward-report">'
MD_EMBED_OPEN = "<!-- steward-report-json"
MD_EMBED_CLOSE = "-->"
# In the HTML block, "</" and "<!" (the only sequences that can end or confuse a script element)
# are written "<\/" and "<\u0021": still the same JSON value, and since canonical JSON never
# contains "<\/" nor "<\u0021", replacing them back gives the canonical bytes exactly.
_HTML_ESCAPES = (("</", "<\\/"), ("<!", "<\\u0021"))


def short_id(value: str) -> str:
    """The first 8 characters of a long id (UUIDs, hashes); short ids unchanged."""
    return value if len(value) <= 13 else value[:8] + "…"


def source_label(source: Source) -> str:
    """``kind:id`` in full (title attributes, Markdown, the sources lists)."""
    return f"{source.kind}:{source.id}"


def source_short(source: Source) -> str:
    """``kind:short-id`` for tight places (table cells, captions)."""
    return f"{source.kind}:{short_id(source.id)}"


def number(value: float) -> str:
    """A number for reading: integers exact, other values to 6 significant digits."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def cell_text(value: Cell) -> str:
    """A table cell as text: ``—`` for no value, ``yes``/``no`` for booleans."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number(float(value)) if isinstance(value, float) else str(value)
    return value


def escape(value: str) -> str:
    """HTML text and attribute escaping."""
    return html.escape(value, quote=True)


def html_embed(canonical: bytes) -> str:
    """The canonical JSON as the body of the ``steward-report`` script element."""
    text = canonical.decode()
    for raw, safe in _HTML_ESCAPES:
        text = text.replace(raw, safe)
    return text


def markdown_embed(canonical: bytes) -> str:
    """The canonical JSON as a base64 HTML comment (hidden when the Markdown is displayed)."""
    encoded = base64.b64encode(canonical).decode()
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    return "\n".join([MD_EMBED_OPEN, *lines, MD_EMBED_CLOSE])


def extract_canonical(document: bytes, fmt: str) -> bytes:
    """The canonical JSON bytes embedded in a rendered ``html`` or ``md`` report (a verifier
    hashes them to recompute the report digest). Raises InvalidInput if there are none."""
    text = document.decode(errors="replace")
    if fmt == "html":
        start = text.find(EMBED_TAG_OPEN)
        end = text.find("</script>", start)
        if start < 0 or end < 0:
            raise InvalidInput(
                "the HTML report holds no embedded report JSON", code="report_json_missing"
            )
        body = text[start + len(EMBED_TAG_OPEN) : end]
        for raw, safe in _HTML_ESCAPES:
            body = body.replace(safe, raw)
        return body.encode()
    if fmt == "md":
        match = re.search(
            rf"^{re.escape(MD_EMBED_OPEN)}\n([A-Za-z0-9+/=\n]*?)\n?{MD_EMBED_CLOSE}$", text, re.M
        )
        if match is None:
            raise InvalidInput(
                "the Markdown report holds no embedded report JSON", code="report_json_missing"
            )
        return base64.b64decode(match.group(1).replace("\n", ""), validate=True)
    raise InvalidInput(f"no embedded report JSON in format {fmt!r}")
