"""Screening reports a consultant can attach to a filing: a map, the hits, the findings, the caveats."""

from app.reports.render import ReportContext, render_html, render_pdf

__all__ = ["ReportContext", "render_html", "render_pdf"]
