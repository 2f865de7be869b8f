"""HTML building blocks for the site: every text goes through ``html.escape``.

No template engine and no network: a page is a string with its CSS and its script inline
(``suite.publish.assets``), so it opens from the file system and works offline. A table
cell is ``Cell(text, sort)``: ``text`` shown (escaped), ``sort`` the value a click on the
header sorts by (a number, or the text). Main entries: ``page``, ``table``, ``Cell``,
``esc``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

from suite.publish.assets import CSS, SCRIPT


def esc(value: Any) -> str:
    """Any value as safe HTML text (quotes escaped too, so it may sit in an attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None = None
    css: str = ""
    title: str = ""  # the whole text where ``text`` is its start (a tooltip)


def cell_of(value: Any, fmt: str = "{:.3g}", suffix: str = "") -> Cell:
    """A number shown with ``fmt`` and sorted by its value; '-' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("-", "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Cell(fmt.format(value) + suffix, float(value))
    return Cell(str(value))


def table(table_id: str, headers: list[str], rows: list[list[Cell]],
          filterable: bool = True, caption: str = "") -> str:
    """A sortable table (click a header), with a text filter above it where asked."""
    head = "".join(f'<th scope="col" tabindex="0">{esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in rows)
    tools = (f'<p class="tools"><label>filter <input class="filter" type="search" '
             f'data-table="{esc(table_id)}" placeholder="system, instance, status..."></label>'
             f' <span class="count" data-table="{esc(table_id)}"></span></p>'
             if filterable else "")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'{tools}<table class="sortable" id="{esc(table_id)}">{cap}<thead><tr>{head}'
            f"</tr></thead><tbody>{body}</tbody></table>")


def _td(cell: Cell) -> str:
    sort = "" if cell.sort is None else f' data-v="{esc(cell.sort)}"'
    css = f' class="{esc(cell.css)}"' if cell.css else ""
    title = f' title="{esc(cell.title)}"' if cell.title else ""
    return f"<td{sort}{css}{title}>{esc(cell.text)}</td>"


def page(title: str, body: str, nav: list[tuple[str, str]] | None = None) -> str:
    """A whole HTML document: escaped title, inline CSS and script, a nav bar of links."""
    links = " · ".join(f'<a href="{esc(href)}">{esc(text)}</a>' for text, href in nav or [])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<nav>{links}</nav><h1>{esc(title)}</h1>{body}"
            f"<script>{SCRIPT}</script></body></html>\n")


def section(title: str, inner: str, level: int = 2) -> str:
    return f"<section><h{level}>{esc(title)}</h{level}>{inner}</section>"


def paragraph(text: str, css: str = "") -> str:
    return f'<p class="{esc(css)}">{esc(text)}</p>' if css else f"<p>{esc(text)}</p>"


def definition_list(items: list[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def image(src: str, alt: str) -> str:
    return (f'<figure><img src="{esc(src)}" alt="{esc(alt)}" loading="eager">'
            f"<figcaption>{esc(alt)}</figcaption></figure>")
