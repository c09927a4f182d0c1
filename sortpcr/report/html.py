"""Self-contained HTML pages: interactive tables (sort, filter, columns explained) with no
external script, style sheet or font, so a page works offline and inside the Snakemake
report's frame.

A page is plain HTML plus about 40 lines of our own JavaScript: a click on a column header
sorts (numbers as numbers, empty cells last), the boxes under the headers filter rows by
substring (case-insensitive), and a "Columns" list below the table gives each column's
meaning and unit (also the header's tooltip).
"""

from __future__ import annotations

import base64
import html
import math
import mimetypes
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.report.columns import describe

if TYPE_CHECKING:
    import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:1.2em;
color:#1f2933;font-size:14px;line-height:1.4}
h1{font-size:1.45em;margin:.2em 0 .5em}h2{font-size:1.15em;margin:1.4em 0 .4em}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0 1em}
th,td{border:1px solid #d3d9e0;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef2f6;position:sticky;top:0}
td.long{min-width:22em}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable thead tr:first-child th{cursor:pointer;user-select:none}
table.sortable thead tr:first-child th::after{content:" \\21C5";color:#9aa5b1;font-size:.8em}
th.asc::after{content:" \\25B2"!important}th.desc::after{content:" \\25BC"!important}
tr.filters th{background:#f8fafc;padding:2px}
tr.filters input{width:100%;box-sizing:border-box;font-size:12px;padding:1px 3px}
.caption{color:#52606d;max-width:70em}.count{color:#52606d;font-size:.9em}
dl.columns{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:.9em}
dl.columns dt{font-family:monospace}dl.columns dd{margin:0}
.flag{color:#b44d12}.fail{color:#b42318;font-weight:600}.pass{color:#17803d}
.note{font-size:.9em;color:#52606d}
img{max-width:100%;height:auto;border:1px solid #e4e7eb}
a{color:#1d5fa8}
"""

SCRIPT = """
function sortBy(th){const table=th.closest('table');const i=[...th.parentNode.children]
.indexOf(th);const dir=th.classList.contains('asc')?-1:1;
th.parentNode.querySelectorAll('th').forEach(h=>h.classList.remove('asc','desc'));
th.classList.add(dir>0?'asc':'desc');const body=table.tBodies[0];
const rows=[...body.rows];const key=r=>{const c=r.cells[i];
if(c.dataset.v!==undefined)return parseFloat(c.dataset.v);const v=c.textContent.trim();
return v===''?null:v.toLowerCase()};
rows.sort((a,b)=>{const x=key(a),y=key(b);if(x===null)return 1;if(y===null)return -1;
if(typeof x===typeof y)return (x<y?-1:x>y?1:0)*dir;return (typeof x==='number'?-1:1)*dir});
rows.forEach(r=>body.appendChild(r))}
function filterRows(table){const fs=[...table.querySelectorAll('tr.filters input')]
.map(f=>f.value.toLowerCase());let shown=0;[...table.tBodies[0].rows].forEach(r=>{
const ok=fs.every((f,i)=>!f||r.cells[i].textContent.toLowerCase().includes(f));
r.style.display=ok?'':'none';shown+=ok});const c=document.getElementById(table.id+'-count');
if(c)c.textContent=shown+' of '+table.tBodies[0].rows.length+' rows'}
document.querySelectorAll('table.sortable').forEach(t=>{
t.querySelectorAll('thead tr:first-child th').forEach(th=>th.onclick=()=>sortBy(th));
t.querySelectorAll('tr.filters input').forEach(f=>f.oninput=()=>filterRows(t))});
"""


def esc(value: Any) -> str:
    """HTML-escaped text of a cell (missing values are empty)."""
    return html.escape(cell(value))


def cell(value: Any, digits: int = 4) -> str:
    """A cell as text: floats to ``digits`` significant figures, missing values empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if math.isnan(number):
            return ""
        if math.isinf(number):
            return "∞" if number > 0 else "-∞"
        if number == int(number) and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.{digits}g}"
    text = str(value)
    return "" if text in ("nan", "NaN", "<NA>", "None") else text


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return not math.isnan(float(value)) and not isinstance(value, str)
    except (TypeError, ValueError):
        return False


def page(title: str, body: str, caption: str = "") -> str:
    """A whole self-contained HTML document."""
    intro = f'<p class="caption">{caption}</p>' if caption else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>"
        f"<h1>{html.escape(title)}</h1>{intro}\n{body}\n<script>{SCRIPT}</script>"
        "</body></html>\n"
    )


def table_html(
    table: pd.DataFrame,
    table_id: str,
    interactive: bool = True,
    column_labels: Mapping[str, str] | None = None,
) -> str:
    """One HTML table; ``interactive`` adds sorting, per-column filters and a row count.

    Headers carry the column's meaning and unit as a tooltip (:mod:`sortpcr.report.columns`).
    """
    labels = dict(column_labels or {})
    heads = []
    for column in table.columns:
        meaning, unit = describe(str(column))
        tip = meaning + (f" [{unit}]" if unit else "")
        heads.append(
            f'<th title="{html.escape(tip)}">{html.escape(labels.get(column, column))}</th>'
        )
    head = "<tr>" + "".join(heads) + "</tr>"
    if interactive:
        head += (
            '<tr class="filters">'
            + "".join(
                f'<th><input type="search" aria-label="filter {html.escape(str(c))}" '
                'placeholder="filter"></th>'
                for c in table.columns
            )
            + "</tr>"
        )
    rows = []
    for record in table.itertuples(index=False):
        cells = []
        for value in record:
            if _is_number(value):
                key = float(value) if math.isfinite(float(value)) else str(float(value) * 1e308)
                key = {"inf": "Infinity", "-inf": "-Infinity"}.get(str(key), key)
                cells.append(f'<td class="num" data-v="{key}">{esc(value)}</td>')
            else:
                text = esc(value)
                # long text gets room to wrap instead of a column one word wide
                cells.append(
                    f'<td class="long">{text}</td>' if len(text) > 40 else f"<td>{text}</td>"
                )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cls = ' class="sortable"' if interactive else ""
    count = (
        f'<div class="count" id="{table_id}-count">{len(table)} rows; click a header to sort, '
        "type in the boxes to filter</div>"
        if interactive
        else ""
    )
    return (
        f'{count}<table id="{table_id}"{cls}><thead>{head}</thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def columns_html(columns: Iterable[str]) -> str:
    """The "Columns" list: each column's meaning and unit."""
    items = []
    for column in columns:
        meaning, unit = describe(str(column))
        unit_text = f" <i>[{html.escape(unit)}]</i>" if unit else ""
        items.append(
            f"<dt>{html.escape(str(column))}</dt><dd>{html.escape(meaning)}{unit_text}</dd>"
        )
    return '<h2>Columns</h2><dl class="columns">' + "".join(items) + "</dl>"


def table_page(table: pd.DataFrame, title: str, caption: str = "") -> str:
    """A whole page for one result table: interactive table, then its columns explained."""
    body = table_html(table, "t") + columns_html(table.columns)
    return page(title, body, caption)


def data_uri(path: str | Path) -> str:
    """A file as a base64 ``data:`` URI (to embed a figure in a self-contained page)."""
    mime = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:{mime};base64,{data}"
