"""Charts and self-contained HTML reports (plotly, offline, no CDN)."""

from sluicegate.report.html import Report, band_figure, bar_figure, scatter_figure, table_html

__all__ = ["Report", "band_figure", "bar_figure", "scatter_figure", "table_html"]
