"""``report.html``: the run's report as one self-contained page.

Rendered from the same sections as ``report.md`` (:mod:`clusterbench.report.content`,
blocks of :mod:`clusterbench.report.document`); the plots are the report's matplotlib
figures inlined as SVG (text drawn as paths), the style and the table-sorting script are
inline too, and a Content-Security-Policy forbids the page any request: it opens from a
file, offline, and fetches nothing.  Every value is HTML-escaped (workload and host names
come from users' files).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from clusterbench.report.content import report_sections
from clusterbench.report.document import (
    Block,
    Code,
    CodeBlock,
    Em,
    Heading,
    Image,
    Items,
    Link,
    Paragraph,
    Section,
    Strong,
    Table,
    Text,
    plain,
)
from clusterbench.report.plots import inline_svg

#: Where the run report's sections go on the page: verdicts and plots first.
HTML_ORDER = ("title", "overview", "links", "verdict", "warnings", "plots", "results", "hosts",
              "modes", "capacity", "overheads", "fits", "karp-flatt", "failures", "environment")

#: Click a header to sort by it; click again to reverse.  Numbers (a leading number of the
#: cell, e.g. ``1.93×``, ``≥100%``, ``1.70–1.95×``) sort as numbers, before text such as ``—``.
SORT_SCRIPT = """
(function () {
  var NUM = /^[\\u2265\\u2264<>~]?\\s*(-?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?)/i;
  function key(row, col) {
    var cell = row.cells[col], text = cell ? cell.textContent.trim() : "";
    var match = text.match(NUM);
    return match ? [0, parseFloat(match[1]), text] : [1, 0, text.toLowerCase()];
  }
  function compare(a, b) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    if (a[0] === 0 && a[1] !== b[1]) { return a[1] - b[1]; }
    return a[2] < b[2] ? -1 : (a[2] > b[2] ? 1 : 0);
  }
  function sortBy(table, header, col) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
      return {row: row, key: key(row, col), index: index};
    });
    rows.sort(function (a, b) {
      var order = compare(a.key, b.key);
      return (ascending ? order : -order) || a.index - b.index;
    });
    rows.forEach(function (entry) { body.appendChild(entry.row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, col) {
      header.tabIndex = 0;
      header.title = "sort by this column";
      header.addEventListener("click", function () { sortBy(table, header, col); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortBy(table, header, col);
        }
      });
    });
  });
})();
"""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto;
       max-width: 1400px; padding: 0 1em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; margin-top: 1.6em; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; }
nav { font-size: 0.9em; } nav a { margin-right: 0.8em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.55em; vertical-align: top; }
th { background: #f0f3f6; cursor: pointer; user-select: none; white-space: nowrap; }
th::after { content: " \\21C5"; color: #999; font-size: 0.8em; }
th[aria-sort="ascending"]::after { content: " \\25B2"; color: #333; }
th[aria-sort="descending"]::after { content: " \\25BC"; color: #333; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td, tr.verdict-slower td { background: #fde8e8; }
tr.flagged td, tr.verdict-unclear td, tr.verdict-too-few-repeats td,
tr.verdict-params-differ td { background: #fff8db; }
tr.verdict-faster td { background: #e6f6e6; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
.missing { color: #a00; }
#section-warnings li, #section-verdict li { margin-bottom: 0.3em; }
"""


def render_report_html(summary: pd.DataFrame, fits: pd.DataFrame,
                       environment: Mapping[str, Any] | None, run_id: str,
                       figures: Mapping[str, str] | None = None,
                       profiles: Sequence[str] = ()) -> str:
    """The run's report as a self-contained HTML page.

    Parameters
    ----------
    summary, fits, environment, run_id, profiles
        As for :func:`clusterbench.report.markdown.render_report` (the same sections).
    figures
        SVG text of each plot, by the image file the Markdown report links
        (``speedup.png`` ...; see :func:`clusterbench.report.plots.figure_svg`).  A plot
        missing here is named in the page instead.

    Returns
    -------
    str
        The page.
    """
    sections = report_sections(summary, fits, environment, run_id, profiles)
    return render_page(sections, f"clusterbench run {run_id}", figures or {}, HTML_ORDER)


def render_page(sections: Iterable[Section], title: str, figures: Mapping[str, str] | None = None,
                order: Sequence[str] = ()) -> str:
    """Sections as a self-contained HTML page.

    Parameters
    ----------
    sections
        The content (see :mod:`clusterbench.report.document`).
    title
        The page's ``<title>``.
    figures
        SVG text per image file name, inlined where an :class:`Image` names the file.
    order
        Section keys in page order; sections not named keep their order, after these.

    Returns
    -------
    str
        A complete HTML document that requests nothing.
    """
    figures = figures or {}
    present = [part for part in sections if part]
    rank = {key: number for number, key in enumerate(order)}
    present.sort(key=lambda part: rank.get(part.key, len(rank)))
    body = [_section(part, figures) for part in present]
    contents = [(part.key, plain(block.text)) for part in present
                for block in part.blocks[:1] if isinstance(block, Heading) and block.level == 2]
    nav = ""
    if len(contents) > 2:
        nav = "<nav>" + "".join(f'<a href="#{_e(key)}">{_e(text)}</a>'
                                for key, text in contents) + "</nav>\n"
    if nav and body:  # the contents go right under the title
        body.insert(1, nav)
    script = SORT_SCRIPT.strip()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_e(policy)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{script}</script>\n</body>\n</html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _section(part: Section, figures: Mapping[str, str]) -> str:
    blocks = []
    for number, block in enumerate(part.blocks):
        anchor = part.key if number == 0 else f"{part.key}-{number}"
        blocks.append(_block(block, anchor, figures))
    return f'<section id="section-{_e(part.key)}">\n' + "\n".join(blocks) + "\n</section>"


def _block(block: Block, anchor: str, figures: Mapping[str, str]) -> str:
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 6)
        return f'<h{level} id="{_e(anchor)}">{_inline(block.text)}</h{level}>'
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Items):
        items = []
        for item in block.items:
            children = ("<ul>" + "".join(f"<li>{_inline(child)}</li>" for child in item.children)
                        + "</ul>") if item.children else ""
            items.append(f"<li>{_inline(item.text)}{children}</li>")
        return f'<ul id="{_e(anchor)}">' + "".join(items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Image):
        return _figure(block, figures)
    if isinstance(block, CodeBlock):
        return f"<pre><code>{_e(block.text)}</code></pre>"
    raise TypeError(f"not a report block: {block!r}")


def _table(block: Table) -> str:
    right = list(block.right) + [False] * (len(block.headers) - len(block.right))
    head = "".join(f'<th scope="col"{_num(right[i])}>{_e(h)}</th>'
                   for i, h in enumerate(block.headers))
    rows = []
    for number, cells in enumerate(block.rows):
        css = block.row_classes[number] if number < len(block.row_classes) else ""
        attr = f' class="{_e(css)}"' if css else ""
        rows.append(f"<tr{attr}>" + "".join(
            f"<td{_num(right[i] if i < len(right) else False)}>{_e(cell)}</td>"
            for i, cell in enumerate(cells)) + "</tr>")
    name = f' id="table-{_e(block.name)}"' if block.name else ""
    return (f'<div class="scroll"><table class="sortable"{name}>\n<thead><tr>{head}</tr></thead>'
            "\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>")


def _num(right: bool) -> str:
    return ' class="num"' if right else ""


def _figure(block: Image, figures: Mapping[str, str]) -> str:
    files = [block.file] + ([block.svg] if block.svg else [])
    caption = "files: " + ", ".join(f'<a href="{_e(name)}">{_e(name)}</a>' for name in files)
    svg = figures.get(block.file)
    if svg is None:
        picture = (f'<p class="missing">The {_e(block.alt)} plot was not drawn '
                   f"(see the warnings of the run or of <code>clusterbench report</code>).</p>")
    else:
        picture = inline_svg(svg)
    return (f'<figure id="figure-{_e(block.alt)}" aria-label="{_e(block.alt)} plot">'
            f"{picture}<figcaption>{caption}</figcaption></figure>")


def _inline(text: Text) -> str:
    if isinstance(text, str):
        return _e(text)
    parts = []
    for span in text:
        if isinstance(span, str):
            parts.append(_e(span))
        elif isinstance(span, Code):
            parts.append(f"<code>{_e(span.text)}</code>")
        elif isinstance(span, Strong):
            parts.append(f"<strong>{_e(span.text)}</strong>")
        elif isinstance(span, Em):
            parts.append(f"<em>{_e(span.text)}</em>")
        elif isinstance(span, Link):
            parts.append(_link(span))
    return "".join(parts)


def _link(link: Link) -> str:
    """A link to a file of the run directory or an http(s) address; anything else (a
    ``javascript:`` or ``data:`` address from a hostile environment.json) stays text."""
    target = urlsplit(link.href)
    relative = not target.scheme and not target.netloc and not link.href.startswith("/")
    if target.scheme in ("http", "https") or relative:
        return f'<a href="{_e(link.href)}" rel="noreferrer noopener">{_e(link.text)}</a>'
    return _e(link.text)
