"""Reporting: metric records -> the paper's tables (CSV / Markdown / LaTeX) and figures (PNG / PDF).

- :mod:`lvg.report.records`: the record formats, writers, validation, :func:`load_records`, METHODS;
- :mod:`lvg.report.tables`: :func:`table1`, :func:`table2` (paper values only from workflow/paper_values.csv);
- :mod:`lvg.report.figures`: colour similarity (Fig. 5), SR comparison (Fig. 6c), frame strips (Fig. 1).

Figures are imported lazily (matplotlib and seaborn are slow to import).
"""

from lvg.report.records import (
    METHODS,
    load_records,
    method_info,
    read_record,
    record_path,
    write_color_record,
    write_fvd_record,
)
from lvg.report.tables import read_paper_values, table1, table2

__all__ = ["METHODS", "load_records", "method_info", "read_record", "record_path", "write_color_record",
           "write_fvd_record", "read_paper_values", "table1", "table2"]
