"""One self-contained HTML report of a segmentation run, readable offline.

Input: :class:`ReportData`, plain pandas, numpy and Python values the caller fills from the
workspace. Output: one HTML page (:func:`render_report`, :func:`write_report`).

Invariants: the page loads nothing from anywhere (Plotly's JavaScript is embedded once,
the CSS is inline, no ``src``/``href`` leaves the file); every text from the data is escaped,
in the HTML and inside the charts; a section with no data says so instead of vanishing,
except the dendrogram, shown only for a hierarchical model. :func:`report_figures` gives the
charts the page draws, keyed by the id of their ``div``::

    from audience.report import ReportData, write_report
    write_report(ReportData(title="Audience", run_id=run.id, ...), "out/report.html")
"""

from audience.report.charts import report_figures
from audience.report.data import ReportData, ReportDataError
from audience.report.html import render_report, write_report

__all__ = ["ReportData", "ReportDataError", "render_report", "report_figures", "write_report"]
