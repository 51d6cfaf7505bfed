"""Reporting: metric records -> the paper's tables (CSV / Markdown / LaTeX) and figures (PNG / PDF).

- :mod:`lvg.report.records`: the record formats, writers, validation, :func:`~lvg.report.records.load_records`,
  METHODS;
- :mod:`lvg.report.tables`: :func:`~lvg.report.tables.table1`, :func:`~lvg.report.tables.table2` (paper values
  only from workflow/paper_values.csv);
- :mod:`lvg.report.figures`: colour similarity (Fig. 5), SR comparison (Fig. 6c), frame strips (Fig. 1).

Nothing is imported here: the metrics phase writes records without loading the table and figure code
(matplotlib and seaborn are slow to import).
"""
