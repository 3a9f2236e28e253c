"""Reports: parameterised notebooks executed with papermill, exported to HTML that renders
offline (design.md section 6).

The notebooks in `notebooks/` hold no logic: they call `open_report` and the functions of
`auditlib.reports.compliance`, `auditlib.reports.staleness` and `auditlib.reports.explore`.
`run_report` executes one and writes its page, executed notebook and summary; `write_index`
lists every run; `export_notebook` turns any executed report notebook (papermill, Airflow) into
a page and a summary.
"""

from auditlib.errors import ParameterError
from auditlib.reports.context import Report, open_report
from auditlib.reports.export import export_html
from auditlib.reports.index import write_index
from auditlib.reports.params import ReportParams
from auditlib.reports.runner import (
    DEFAULT_REPORTS,
    ReportError,
    ReportRun,
    export_notebook,
    new_run_dir,
    run_report,
)

__all__ = [
    "DEFAULT_REPORTS",
    "ParameterError",
    "Report",
    "ReportError",
    "ReportParams",
    "ReportRun",
    "export_html",
    "export_notebook",
    "new_run_dir",
    "open_report",
    "run_report",
    "write_index",
]
