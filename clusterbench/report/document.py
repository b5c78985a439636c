"""A report's content as data: headings, paragraphs, lists, tables, images, code.

The sections of a run's report (:mod:`clusterbench.report.content`,
:mod:`clusterbench.report.sections`) and of a comparison build these blocks once;
:func:`to_markdown` renders them as ``report.md`` and :mod:`clusterbench.report.html` as
``report.html``.  Inline text is a tuple of plain strings and a few typed spans
(:class:`Code`, :class:`Strong`, :class:`Em`, :class:`Link`), never a markup language, so a
workload or host name from a user's file is text in either output and cannot become markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterbench.report.tables import markdown_table


@dataclass(frozen=True)
class Code:
    """Inline code: ``x`` in Markdown, ``<code>`` in HTML."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Bold text."""

    text: str


@dataclass(frozen=True)
class Em:
    """Emphasised text."""

    text: str


@dataclass(frozen=True)
class Link:
    """A link: a file of the run directory (relative) or an http(s) address."""

    text: str
    href: str


Span = str | Code | Strong | Em | Link
#: Inline text: a plain string, or a sequence of spans.
Text = str | Sequence[Span]


@dataclass(frozen=True)
class Heading:
    level: int
    text: Text


@dataclass(frozen=True)
class Paragraph:
    text: Text


@dataclass(frozen=True)
class Item:
    """One bullet, with optional sub-bullets (plain text)."""

    text: Text
    children: tuple[Text, ...] = ()


@dataclass(frozen=True)
class Items:
    """A bulleted list."""

    items: tuple[Item, ...]


@dataclass(frozen=True)
class Table:
    """A table of formatted cells.

    *name* identifies it in HTML (``id``), *right* says which columns hold numbers, and
    *row_classes* (one per row, possibly empty) marks rows, e.g. ``failed`` or ``flagged``.
    """

    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    right: tuple[bool, ...] = ()
    name: str = ""
    row_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Image:
    """A plot of the run directory; *svg* names its SVG twin when there is one."""

    file: str
    alt: str
    svg: str | None = None


@dataclass(frozen=True)
class CodeBlock:
    text: str
    language: str = ""


Block = Heading | Paragraph | Items | Table | Image | CodeBlock


@dataclass(frozen=True)
class Section:
    """A titled part of a report; *key* lets a renderer order or link the parts."""

    key: str
    blocks: tuple[Block, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.blocks)


def section(key: str, *blocks: Block | None) -> Section:
    """A :class:`Section` of the blocks that are not None."""
    return Section(key, tuple(block for block in blocks if block is not None))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]],
          right: Sequence[bool] | None = None, name: str = "",
          row_classes: Sequence[str] = ()) -> Table:
    """A :class:`Table` from lists (cells kept as given; renderers call ``str``)."""
    return Table(tuple(headers), tuple(tuple(row) for row in rows),
                 tuple(right or ()), name, tuple(row_classes))


def plain(text: Text) -> str:
    """The text without any markup (titles, alt texts)."""
    if isinstance(text, str):
        return text
    return "".join(span if isinstance(span, str) else span.text for span in text)


# --- Markdown -------------------------------------------------------------------------------


def to_markdown(sections: Iterable[Section]) -> str:
    """The sections as Markdown: blocks separated by a blank line, ending in a newline."""
    parts = [_block_markdown(block) for part in sections for block in part.blocks]
    return "\n\n".join(part for part in parts if part) + "\n"


def inline_markdown(text: Text) -> str:
    """Inline text as Markdown (plain strings as they are, like the report always did)."""
    if isinstance(text, str):
        return text
    return "".join(_span_markdown(span) for span in text)


def _span_markdown(span: Span) -> str:
    if isinstance(span, str):
        return span
    if isinstance(span, Code):
        return f"`{span.text}`"
    if isinstance(span, Strong):
        return f"**{span.text}**"
    if isinstance(span, Em):
        return f"_{span.text}_"
    return f"[{span.text}]({span.href})"


def _block_markdown(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + inline_markdown(block.text)
    if isinstance(block, Paragraph):
        return inline_markdown(block.text)
    if isinstance(block, Items):
        lines = []
        for item in block.items:
            lines.append(f"- {inline_markdown(item.text)}")
            lines.extend(f"  - {inline_markdown(child)}" for child in item.children)
        return "\n".join(lines)
    if isinstance(block, Table):
        return markdown_table(block.headers, block.rows, block.right or None)
    if isinstance(block, Image):
        image = f"![{block.alt}]({block.file})"
        return image + (f"\n\n([SVG]({block.svg}))" if block.svg else "")
    return f"```{block.language}\n{block.text}\n```"
