"""The report's one inline style sheet: screen and A4 print (sections start a page, figures
never split, light background); every text colour meets WCAG AA (4.5:1) on its background."""

from __future__ import annotations

from steward.reports.render.text import COVERAGE_COLOURS, GRID, INK, MUTED

_BADGES = "\n".join(
    f".badge-{name} {{ color: {ink}; background: {bg}; border-color: {ink}; }}"
    for name, (ink, bg) in COVERAGE_COLOURS.items()
)

STYLE = f"""
:root {{ color-scheme: light; }}
html {{ background: #ffffff; }}
body {{ font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: {INK};
  background: #ffffff; line-height: 1.45; font-size: 14px; max-width: 1000px;
  margin: 0 auto; padding: 24px; }}
h1 {{ font-size: 1.7em; margin: 0 0 .4em; }}
h2 {{ font-size: 1.3em; margin: 1.6em 0 .5em; border-bottom: 2px solid {GRID};
  padding-bottom: .2em; }}
a {{ color: #0056a3; }}
.report-header {{ border-bottom: 3px solid {INK}; padding-bottom: .6em; }}
.meta {{ display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0; }}
.meta dt {{ font-weight: bold; }}
.meta dd {{ margin: 0; }}
code, .src {{ font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; }}
.digest {{ word-break: break-all; font-size: .92em; }}
.src {{ font-size: 11px; color: {MUTED}; word-break: break-all; }}
.badge {{ display: inline-block; font-size: 11px; font-weight: bold; padding: 1px 7px;
  border: 1px solid; border-radius: 9px; vertical-align: middle; margin-left: .5em; }}
{_BADGES}
.toc ol {{ padding-left: 1.6em; }}
.toc li {{ margin: .15em 0; }}
table {{ border-collapse: collapse; width: 100%; margin: .4em 0 1.1em; font-size: 12.5px; }}
caption {{ text-align: left; font-weight: bold; padding: .3em 0; }}
th, td {{ border: 1px solid #bdbdbd; padding: 3px 6px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }}
thead th {{ background: #eeeeee; }}
tbody tr:nth-child(even) {{ background: #f7f7f7; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
figure {{ margin: 1em 0 1.4em; break-inside: avoid; page-break-inside: avoid; }}
figure svg {{ max-width: 100%; height: auto; display: block; border: 1px solid {GRID}; }}
figcaption {{ font-weight: bold; margin-bottom: .3em; }}
.sources {{ font-size: 11px; color: {MUTED}; margin: .2em 0; }}
.footer {{ margin-top: 2em; border-top: 1px solid {GRID}; padding-top: .5em; font-size: 12px;
  color: {MUTED}; }}
@page {{ size: A4; margin: 15mm 13mm 17mm;
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages); font-size: 8pt;
    font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
    color: {MUTED}; }} }}
@media print {{
  body {{ max-width: none; padding: 0; font-size: 10pt; }}
  .report-section {{ break-before: page; page-break-before: always; }}
  details.all-sources {{ display: none; }}
  a {{ color: inherit; text-decoration: none; }}
  thead {{ display: table-header-group; }}
  tr {{ break-inside: avoid; page-break-inside: avoid; }}
  h2, figcaption, caption {{ break-after: avoid; page-break-after: avoid; }}
}}
"""
