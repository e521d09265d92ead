"""Self-contained HTML reports: plotly figures with plotly.js inlined once, no CDN, works offline.

``Report`` collects sections (headings, paragraphs, figures, tables) and ``Report.html`` returns
one HTML document that embeds plotly's bundled JavaScript, so the file opens without a network.
Figure helpers cover what the simulator reports: quantile bands over time, grouped bars with
error bars, stacked shares. ``sluicegate.simulate.outputs`` and ``simulate.compare`` build on it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
)  # fmt: skip

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.ok{color:#176b2c;font-weight:600}.bad{color:#a11;font-weight:600}
.note{color:#555;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}
"""


def _rgba(hex_color: str, alpha: float) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def band_figure(
    title: str,
    x: Sequence[Any],
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    y_title: str,
    log_y: bool = False,
) -> go.Figure:
    """Median lines with shaded p10–p90 bands, one per series."""
    fig = go.Figure()
    for i, (name, (p10, p50, p90)) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=list(x), y=list(p90), line={"width": 0}, showlegend=False,
                                 hoverinfo="skip", legendgroup=name))  # fmt: skip
        fig.add_trace(go.Scatter(x=list(x), y=list(p10), fill="tonexty", line={"width": 0},
                                 fillcolor=_rgba(color, 0.18), showlegend=False,
                                 hoverinfo="skip", legendgroup=name))  # fmt: skip
        fig.add_trace(go.Scatter(x=list(x), y=list(p50), name=name, line={"color": color},
                                 legendgroup=name))  # fmt: skip
    fig.update_layout(title=title, yaxis_title=y_title, height=420, margin={"t": 50, "b": 40})
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def bar_figure(
    title: str,
    categories: Sequence[str],
    groups: Mapping[str, tuple[Sequence[float], Sequence[float] | None, Sequence[float] | None]],
    y_title: str,
    stacked: bool = False,
) -> go.Figure:
    """Bars per category for each group; optional asymmetric error bars (p10, p90)."""
    fig = go.Figure()
    for i, (name, (mid, low, high)) in enumerate(groups.items()):
        error = None
        if low is not None and high is not None:
            error = {
                "type": "data", "symmetric": False,
                "array": [h - m for h, m in zip(high, mid, strict=True)],
                "arrayminus": [m - lo for m, lo in zip(mid, low, strict=True)],
            }  # fmt: skip
        fig.add_trace(go.Bar(x=list(categories), y=list(mid), name=name, error_y=error,
                             marker_color=PALETTE[i % len(PALETTE)]))  # fmt: skip
    fig.update_layout(title=title, yaxis_title=y_title, height=420, margin={"t": 50, "b": 40},
                      barmode="stack" if stacked else "group")  # fmt: skip
    return fig


def scatter_figure(
    title: str,
    points: list[dict[str, Any]],
    x: str,
    y: str,
    label: str,
    x_title: str,
    y_title: str,
) -> go.Figure:
    """Labelled scatter (the policy frontier)."""
    fig = go.Figure(go.Scatter(
        x=[p[x] for p in points], y=[p[y] for p in points], text=[p[label] for p in points],
        mode="markers+text", textposition="top center", marker={"size": 11},
    ))  # fmt: skip
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=460)
    return fig


def table_html(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """An HTML table; booleans in column 'inside' render as ok/outside."""
    if not rows:
        return "<p class='note'>(no rows)</p>"
    cols = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for row in rows:
        cells = []
        for c in cols:
            value = row.get(c)
            if c == "inside" and isinstance(value, bool):
                cells.append(
                    f"<td class='{'ok' if value else 'bad'}'>{'inside' if value else 'OUTSIDE'}</td>"
                )
                continue
            if isinstance(value, float):
                text = f"{value:.3g}"
            elif isinstance(value, list):
                text = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
            else:
                text = "" if value is None else str(value)
            if isinstance(value, str) and value.startswith("http"):
                link = html.escape(value.split(" ")[0])
                cells.append(f"<td><a href='{link}'>{html.escape(text[:60])}</a></td>")
            else:
                cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass
class Report:
    """An HTML document made of sections; ``html()`` inlines plotly.js once."""

    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, note: bool = False) -> None:
        cls = " class='note'" if note else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def figure(self, fig: go.Figure) -> None:
        self.parts.append(fig.to_html(full_html=False, include_plotlyjs=False))

    def html(self) -> str:
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<h1>{html.escape(self.title)}</h1>{''.join(self.parts)}</body></html>"
        )
