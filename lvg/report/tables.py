"""The paper's Table 1 (FVD comparison) and Table 2 (ablations) from metric records.

Both tables have one row per dataset x resolution x method with FVD16 and FVD128 as mean ± std over seeds
(sample std, n in ``fvd16_n`` / ``fvd128_n``), the protocol and detector, and the paper's values side by side.
Paper values come ONLY from ``workflow/paper_values.csv`` (typed in from the paper PDF with a page/table
reference); a cell with no row there stays blank. A table whose computed records used different detectors is
refused: FVDs from different detectors cannot be compared.

Columns (CSV): ``TABLE_COLUMNS`` (+ ``setting`` in Table 2). ``part`` is ``main`` / ``sky128`` in Table 1 (the
paper's two halves: the main comparison at the high resolution, SkyTimelapse at 128x128) and ``reference`` /
``seq_len`` / ``footprint`` in Table 2. ``n_real``/``n_fake`` are integers when FVD16 and FVD128 used the same
counts, else text ``"fvd16: a; fvd128: b"``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lvg.errors import LvgError
from lvg.io import atomic_open
from lvg.report.records import (
    NOT_COMPARABLE,
    RANDOM_DETECTOR,
    ablation_setting,
    detector_label,
    is_fvd_metric,
    load_records,
    method_info,
    method_sort_key,
)

TABLE_METRICS = ("fvd16", "fvd128")
PAPER_COLUMNS = ["dataset", "resolution", "method", "metric", "value", "source"]
SEMANTIC_COLUMNS = ("biome_changes_per_min", "drift_128")  # lvg.metrics.semantic, on long videos
DRIFT_LAG = 128  # drift_128: the world-state drift between frames 128 apart (the semantic S(128))
TRAINING_COLUMNS = ("train_cpu_s", "train_steps")  # the loop's train_stats.json of every stage (equal compute)
COLOR_COLUMNS = ("s1", "s16", "s128", "frame_change")  # from the colour record: S(t) and the frame-to-frame change
COLOR_TIMES = {"s1": 1, "s16": 16, "s128": 128}
TABLE_COLUMNS = ["part", "dataset", "resolution", "method", "method_name",
                 "fvd16", "fvd16_mean", "fvd16_std", "fvd16_n", "fvd128", "fvd128_mean", "fvd128_std", "fvd128_n",
                 *SEMANTIC_COLUMNS, *COLOR_COLUMNS, *TRAINING_COLUMNS, "paper_fvd16", "paper_fvd128", "paper_source",
                 "n_real", "n_fake", "seeds", "protocol", "detector", "detector_sha256", "comparable_to_published"]
PART_TITLES = {"main": "main comparison", "sky128": "SkyTimelapse 128x128 comparison",
               "reference": "reference (full model)", "seq_len": "(a) training sequence length",
               "footprint": "(b) temporal low-pass filter footprint"}
TABLE1_GROUPS = ("real", "ours", "released", "ours_untrained", "baseline", "other")
TABLE2_GROUPS = ("ablation_seq", "ablation_fp")


# ================================================================================================ formatting
def format_number(x: float) -> str:
    """FVD-style number: one decimal from 1 upwards, three significant digits below."""
    return f"{x:.1f}" if abs(x) >= 1 else f"{x:.3g}"


def format_mean_std(mean: float | None, std: float | None) -> str:
    """``"123.4 ± 5.6"``; just the mean when std is undefined (one run)."""
    if mean is None:
        return ""
    return format_number(mean) if std is None else f"{format_number(mean)} ± {format_number(std)}"


def _blank(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x == ""


# ================================================================================================ paper values
def read_paper_values(path: str | Path) -> pd.DataFrame:
    """The typed-in paper values: columns PAPER_COLUMNS (+ ``line``). Lines starting with ``#`` and blank
    lines are skipped; every row needs a numeric value and a non-empty source; keys must be unique."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise LvgError(f"{path}: cannot read paper values: {e}") from None
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines())
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise LvgError(f"{path}: no header line (expected {','.join(PAPER_COLUMNS)})")
    reader = csv.reader([line for _, line in lines])
    header = [h.strip() for h in next(reader)]
    if header != PAPER_COLUMNS:
        raise LvgError(f"{path}, line {lines[0][0]}: header must be {','.join(PAPER_COLUMNS)}, "
                       f"got {','.join(header)}")
    rows, seen = [], {}
    for (lineno, _), cells in zip(lines[1:], reader, strict=True):
        if len(cells) != len(PAPER_COLUMNS):
            raise LvgError(f"{path}, line {lineno}: expected {len(PAPER_COLUMNS)} fields, got {len(cells)}")
        row: dict[str, Any] = dict(zip(PAPER_COLUMNS, (c.strip() for c in cells), strict=True))
        if not is_fvd_metric(row["metric"]):
            raise LvgError(f"{path}, line {lineno}: metric must be fvd16 or fvd128, got {row['metric']!r}")
        try:
            row["value"] = float(row["value"])
        except ValueError:
            raise LvgError(f"{path}, line {lineno}: value {row['value']!r} is not a number") from None
        if not row["source"]:
            raise LvgError(f"{path}, line {lineno}: source is empty (give the paper's page and table)")
        key = (row["dataset"], row["resolution"], row["method"], row["metric"])
        if key in seen:
            raise LvgError(f"{path}, line {lineno}: duplicate of line {seen[key]} ({', '.join(key)})")
        seen[key] = lineno
        row["line"] = lineno
        rows.append(row)
    return pd.DataFrame(rows, columns=[*PAPER_COLUMNS, "line"])


# ================================================================================================ building
def table1_part(dataset: str, resolution: str) -> str:
    """``sky128`` for SkyTimelapse at 128x128 (the right half of the paper's Table 1), else ``main``."""
    return "sky128" if "sky" in dataset.lower() and resolution == "128x128" else "main"


def table2_part(method: str) -> str:
    group = method_info(method).group
    return {"ablation_seq": "seq_len", "ablation_fp": "footprint"}.get(group, "reference")


def check_single_detector(fvd: pd.DataFrame, what: str) -> None:
    """Raise LvgError naming the records when computed FVD records used more than one detector."""
    computed = fvd[fvd["status"] == "computed"]
    keys = list(dict.fromkeys(computed["detector_key"]))
    if len(keys) <= 1:
        return
    parts = []
    for key in keys:
        sub = computed[computed["detector_key"] == key]
        label = detector_label({"name": key[0], "sha256": key[1]})
        if key[2] is not None:
            label += f" [weights fingerprint {str(key[2])[:12]}]"
        parts.append(f"{label}: {', '.join(sub['path'])}")
    raise LvgError(f"refusing to build {what}: its FVD records used different detectors, whose numbers cannot "
                   f"be compared. " + " | ".join(parts))


def _combine(values: dict[str, Any]) -> Any:
    present = {m: v for m, v in values.items() if not _blank(v)}
    distinct = set(present.values())
    if len(distinct) <= 1:
        return next(iter(distinct)) if distinct else None
    return "; ".join(f"{m}: {v}" for m, v in present.items())


def _fill_resolution(fvd: pd.DataFrame) -> pd.DataFrame:
    """Not-computed records may lack a resolution: take the dataset's only one, if there is one."""
    fvd = fvd.copy()
    for i in fvd.index[fvd["resolution"].isna()]:
        known = set(fvd.loc[(fvd["dataset"] == fvd.at[i, "dataset"]) & fvd["resolution"].notna(), "resolution"])
        fvd.at[i, "resolution"] = known.pop() if len(known) == 1 else ""
    return fvd


def build_table(metrics_dir: str | Path, paper_values_csv: str | Path | None, *,
                include: Callable[[str], bool], part_of: Callable[[str, str, str], str], what: str,
                records: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows for the methods ``include(method)`` accepts; ``part_of(dataset, resolution, method)``."""
    df = load_records(metrics_dir) if records is None else records
    fvd = df[(df["kind"] == "fvd") & df["metric"].isin(TABLE_METRICS) & df["method"].map(include)]
    fvd = _fill_resolution(fvd)
    check_single_detector(fvd, what)
    paper = read_paper_values(paper_values_csv) if paper_values_csv is not None else None
    keys = list(dict.fromkeys(zip(fvd["dataset"], fvd["resolution"], fvd["method"], strict=True)))
    if paper is not None:
        for row in paper.itertuples():
            if include(row.method):
                keys.append((row.dataset, row.resolution, row.method))
        keys = list(dict.fromkeys(keys))
    rows = []
    for dataset, resolution, method in keys:
        sub = fvd[(fvd["dataset"] == dataset) & (fvd["resolution"] == resolution) & (fvd["method"] == method)]
        by_metric = {r.metric: r for r in sub.itertuples()}
        row: dict[str, Any] = dict.fromkeys(TABLE_COLUMNS)
        row.update(part=part_of(dataset, resolution, method), dataset=dataset, resolution=resolution,
                   method=method, method_name=method_info(method).name)
        for metric in TABLE_METRICS:
            r = by_metric.get(metric)
            if r is None:
                row[metric] = ""
            elif r.status == "computed":
                row.update({metric: format_mean_std(r.mean, r.std), f"{metric}_mean": r.mean,
                            f"{metric}_std": r.std, f"{metric}_n": r.num_runs})
            else:
                row[metric] = r.status
        computed = [by_metric[m] for m in TABLE_METRICS if m in by_metric and by_metric[m].status == "computed"]
        row["n_real"] = _combine({r.metric: r.num_real for r in computed})
        row["n_fake"] = _combine({r.metric: r.num_fake for r in computed})
        row["seeds"] = _combine({r.metric: r.seeds for r in computed})
        row["protocol"] = _combine({r.metric: r.protocol for r in computed})
        if computed:
            row.update(detector=computed[0].detector, detector_sha256=computed[0].detector_sha256,
                       comparable_to_published=bool(computed[0].comparable))
        sources = []
        if paper is not None:
            for metric in TABLE_METRICS:
                hit = paper[(paper["dataset"] == dataset) & (paper["resolution"] == resolution)
                            & (paper["method"] == method) & (paper["metric"] == metric)]
                if len(hit):
                    row[f"paper_{metric}"] = float(hit["value"].iat[0])
                    sources.append(hit["source"].iat[0])
        row["paper_source"] = "; ".join(dict.fromkeys(sources)) or None
        rows.append(row)
    _fill_semantic(rows, df)
    _fill_color(rows, df)
    rows.sort(key=lambda r: (r["part"], r["dataset"], r["resolution"], method_sort_key(r["method"])))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS, dtype=object)


def _row_record(records: pd.DataFrame, kind: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """The ``kind`` record of ``row``'s dataset x method, if there is one."""
    hit = records[(records["kind"] == kind) & (records["dataset"] == row["dataset"])
                  & (records["method"] == row["method"])]
    return hit["record"].iat[0] if len(hit) else None


def _fill_semantic(rows: list[dict[str, Any]], records: pd.DataFrame) -> None:
    """The semantic-change columns of each row, from its dataset x method semantic record (when computed)."""
    for row in rows:
        rec = _row_record(records, "semantic", row)
        if rec is not None and rec.get("status", "computed") == "computed":
            drift = dict(zip(rec["drift"]["lags"], rec["drift"]["mean"], strict=True))
            row["biome_changes_per_min"] = rec.get("biome_changes_per_min")
            row["drift_128"] = None if drift.get(DRIFT_LAG) is None else round(drift[DRIFT_LAG], 3)


def _fill_color(rows: list[dict[str, Any]], records: pd.DataFrame) -> None:
    """S(1), S(16), S(128) and the frame change of each row, from its colour record (at the row's size)."""
    for row in rows:
        rec = _row_record(records, "color", row)
        if rec is not None:
            mean = rec.get("mean") or []
            row.update({k: round(mean[t], 3) for k, t in COLOR_TIMES.items() if t < len(mean)})
            if rec.get("frame_change") is not None:
                row["frame_change"] = round(rec["frame_change"], 4)


def semantic_notes(records: pd.DataFrame) -> list[str]:
    """Per dataset: which world-detector heads the semantic columns use and which they leave out (those that
    do not beat chance by a margin on held-out clips and renders, :func:`lvg.metrics.semantic.unreliable_heads`),
    from the real record."""
    sem = records[(records["kind"] == "semantic") & (records["method"] == "real")]
    notes = []
    for rec in sem["record"]:
        if rec.get("status", "computed") != "computed":
            continue
        heads = ", ".join(rec["drift"].get("heads", [])) or "none"
        left = "; ".join(f"{k} ({v})" for k, v in (rec.get("left_out") or {}).items())
        notes.append(f"Semantic columns ({rec['dataset']}): biome changes per minute of video, and world drift = mean "
                     f"|change| of the standardised world readout ({heads}) between frames {DRIFT_LAG} apart."
                     + (f" Left out, not clearly above chance on held-out data: {left}." if left else ""))
    return notes


def lr_stage_notes(records: pd.DataFrame) -> list[str]:
    """Per dataset with an LR-stage pair (``ours_lr`` / ``real_lr`` colour records, :func:`lvg.evaluate.run_lr_stage`):
    how far the LR model's colour curve is from the real one, and its frame change against the real one."""
    color = records[records["kind"] == "color"]
    notes = []
    for dataset in dict.fromkeys(color["dataset"]):
        pair = {m: color[(color["dataset"] == dataset) & (color["method"] == m)] for m in ("ours_lr", "real_lr")}
        if any(v.empty for v in pair.values()):
            continue
        ours, real = (pair[m]["record"].iat[0] for m in ("ours_lr", "real_lr"))
        n = min(len(ours["mean"]), len(real["mean"]))
        gap = max(abs(a - b) for a, b in zip(ours["mean"][:n], real["mean"][:n], strict=True))
        ratio = ours["frame_change"] / real["frame_change"] if real.get("frame_change") else float("nan")
        notes.append(f"LR stage ({dataset}, {ours['resolution']}, before super-resolution): max |S_ours(t) - "
                     f"S_real(t)| over t <= {n - 1} = {gap:.3f}; frame change {ours['frame_change']:.4f} vs real "
                     f"{real['frame_change']:.4f} ({ratio:.2f}x).")
    return notes


def _detector_summary(fvd_table: pd.DataFrame, records: pd.DataFrame) -> tuple[str, list[str]]:
    """(caption sentence, warning lines) for a built table."""
    det = fvd_table["detector"].dropna()
    if det.empty:
        return "Detector: none (no FVD computed).", []
    name = det.iat[0]
    sha = fvd_table["detector_sha256"].dropna()
    caption = f"Detector: {name} (sha256 {sha.iat[0] if len(sha) else 'none'})."
    warnings_ = []
    if name == RANDOM_DETECTOR or not bool(fvd_table["comparable_to_published"].dropna().iat[0]):
        warnings_.append(f"**Warning:** FVD computed with {name}: {NOT_COMPARABLE}. The paper columns are "
                         f"shown for reference only.")
    return caption, warnings_


def _sample_warnings(records: pd.DataFrame, table: pd.DataFrame) -> list[str]:
    keys = set(zip(table["dataset"], table["method"], strict=True))
    out = []
    for r in records.itertuples():
        if r.kind == "fvd" and (r.dataset, r.method) in keys and isinstance(r.warnings, list):
            out += [w for w in r.warnings if "small sample" in w]
    return sorted(set(out))


# ================================================================================================ rendering
def _cell(x: Any) -> str:
    if _blank(x):
        return ""
    if isinstance(x, float):
        return format_number(x) if not x.is_integer() or abs(x) < 1 else f"{x:g}"
    return str(x)


MD_COLUMNS = [("dataset", "Dataset"), ("resolution", "Resolution"), ("method_name", "Method"),
              ("fvd16", "FVD16"), ("fvd128", "FVD128"), ("biome_changes_per_min", "Biome changes / min"),
              ("drift_128", f"World drift @{DRIFT_LAG}"), ("s1", "S(1)"), ("s16", "S(16)"),
              ("s128", "S(128)"), ("frame_change", "Frame change"), ("train_cpu_s", "Training CPU-s"),
              ("train_steps", "Training steps"), ("paper_fvd16", "Paper FVD16"),
              ("paper_fvd128", "Paper FVD128"), ("paper_source", "Paper source"), ("n_real", "Real clips"),
              ("n_fake", "Fake clips"), ("seeds", "Seeds"), ("protocol", "Protocol")]


def _markdown_table(df: pd.DataFrame, columns: list[tuple[str, str]]) -> str:
    cells = [[_cell(v) for v in row] for row in df[[c for c, _ in columns]].itertuples(index=False)]
    try:
        from tabulate import tabulate
        return tabulate(cells, headers=[h for _, h in columns], tablefmt="github", disable_numparse=True)
    except ImportError:  # a small formatter with the same layout
        widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, (_, h) in enumerate(columns)]
        fmt = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
        return "\n".join([fmt([h for _, h in columns]), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                          *(fmt(r) for r in cells)])


def render_markdown(table: pd.DataFrame, records: pd.DataFrame, title: str, *, extra_columns=(),
                    images: Sequence[tuple[str, str]] = (), notes: Sequence[str] = ()) -> str:
    """The Markdown rendering; ``notes`` join the standard ones, ``images`` are (caption, relative path)
    shown below the notes."""
    caption, warnings_ = _detector_summary(table, records)
    lines = [f"# {title}", "",
             f"FVD16 / FVD128 (lower is better): mean ± sample std over n seeds (n in the CSV). {caption}", ""]
    lines += [f"> {w}" for w in warnings_]
    if warnings_:
        lines.append("")
    if table.empty:
        lines += ["No FVD records found.", ""]
    columns = [*MD_COLUMNS[:3], *extra_columns, *MD_COLUMNS[3:]]
    for part in dict.fromkeys(table["part"]):
        lines += [f"## {PART_TITLES.get(part, part)}", "", _markdown_table(table[table["part"] == part], columns),
                  ""]
    standard = ["Paper columns come only from workflow/paper_values.csv (typed in from the paper PDF); blank "
                "means not typed in.",
                "Methods marked (lite) are compact re-implementations trained by lvg on the same data, not the "
                "published models."]
    all_notes = [*standard, *notes, *_sample_warnings(records, table), *control_check(table)]
    lines += [f"- {n}" for n in all_notes]
    lines += [line for caption, path in images for line in ("", f"![{caption}]({path})")]
    return "\n".join(lines) + "\n"


def control_check(table: pd.DataFrame) -> list[str]:
    """One line per dataset x resolution saying whether ``ours`` beats its untrained control on every FVD
    computed for both (proof that the table measures something), or that it does not."""
    out = []
    for (dataset, resolution), sub in table.groupby(["dataset", "resolution"], sort=False):
        rows = {r["method"]: r for _, r in sub.iterrows()}
        if "ours" not in rows or "ours_untrained" not in rows:
            continue
        pairs = [(m, rows["ours"].get(f"{m}_mean"), rows["ours_untrained"].get(f"{m}_mean")) for m in TABLE_METRICS]
        pairs = [(m, a, b) for m, a, b in pairs if not _blank(a) and not _blank(b)]
        if not pairs:
            continue
        lost = [m.upper() for m, a, b in pairs if not float(a) < float(b)]
        shown = ", ".join(f"{m.upper()} {float(a):.1f} vs {float(b):.1f}" for m, a, b in pairs)
        verdict = ("the trained model beats its untrained control" if not lost
                   else f"WARNING: the trained model does NOT beat its untrained control on {', '.join(lost)}")
        out.append(f"Control check ({dataset}, {resolution}): {verdict} ({shown}).")
    return out


_TEX_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
               "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def _tex(s: str) -> str:
    out = "".join(_TEX_ESCAPE.get(c, c) for c in s)
    return out.replace("±", r"$\pm$").replace("–", "--")


def render_latex(table: pd.DataFrame, records: pd.DataFrame, title: str, *, extra_columns=()) -> str:
    caption, warnings_ = _detector_summary(table, records)
    columns = [*MD_COLUMNS[:3], *extra_columns, *MD_COLUMNS[3:7]]
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + "l" * len(columns) + "}", r"\toprule",
             " & ".join(_tex(h) for _, h in columns) + r" \\"]
    for part in dict.fromkeys(table["part"]):
        lines += [r"\midrule", rf"\multicolumn{{{len(columns)}}}{{l}}{{\emph{{{_tex(PART_TITLES.get(part, part))}}}}} \\"]
        for row in table[table["part"] == part][[c for c, _ in columns]].itertuples(index=False):
            lines.append(" & ".join(_tex(_cell(v)) for v in row) + r" \\")
    warn = " ".join(w.replace("**", "") for w in warnings_)
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{_tex(title)}. FVD mean $\pm$ sample std over seeds. {_tex(caption)} {_tex(warn)}}}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def _write_outputs(table: pd.DataFrame, records: pd.DataFrame, title: str, out_csv, out_md, out_tex,
                   extra_columns=(), images: Sequence[tuple[str, str]] = (), notes: Sequence[str] = ()) -> None:
    with atomic_open(out_csv, "w", encoding="utf-8", newline="") as f:
        table.to_csv(f, index=False, lineterminator="\n")
    with atomic_open(out_md, "w", encoding="utf-8") as f:
        f.write(render_markdown(table, records, title, extra_columns=extra_columns, images=images, notes=notes))
    if out_tex is not None:
        with atomic_open(out_tex, "w", encoding="utf-8") as f:
            f.write(render_latex(table, records, title, extra_columns=extra_columns))


# ================================================================================================ the tables
def released_notes(audit_csv: str | Path | None, table: pd.DataFrame) -> list[str]:
    """One note per dataset with a ``released`` row: the published files it comes from (name, sha256), from
    the provenance audit of the converted models (:func:`lvg.data.audit.audit_released`)."""
    if audit_csv is None or "released" not in set(table["method"]):
        return []
    audit = pd.read_csv(audit_csv, dtype=str)
    notes = []
    for dataset in dict.fromkeys(table.loc[table["method"] == "released", "dataset"]):
        rows = audit[audit["dataset"] == dataset]
        files = " + ".join(f"{r.source_file} (sha256 {r.source_sha256[:12]}…)" for r in rows.itertuples())
        if files:
            notes.append(f"LongVideoGAN (released), {dataset}: the published {files}, converted by lvg.reference "
                         f"without executing them; provenance audit passed ({Path(audit_csv).as_posix()}).")
    return notes


def table1(metrics_dir: str | Path | Sequence[str | Path], paper_values_csv: str | Path | None, out_csv: str | Path,
           out_md: str | Path, out_tex: str | Path | None = None, color_figure: str | Path | None = None,
           semantic_figure: str | Path | None = None, sanity: Sequence[str | Path] = (),
           released_audit: str | Path | None = None,
           training: Mapping[str, Mapping[str, str | Path]] | None = None) -> pd.DataFrame:
    """Table 1: the real videos (another sample of windows: the floor), ours, the released models, the untrained control, the
    baselines (and unknown methods) on every dataset, with the semantic-change columns. ``color_figure``
    (Fig. 5, read beside the table in the paper) and ``semantic_figure`` are linked below the Markdown table;
    ``sanity`` files (:func:`lvg.evaluate.run_sanity`) add the detector's sanity ranking to its notes;
    ``released_audit`` (the released models' provenance table) names their source files; ``training`` maps
    ``"<dataset>/<method>"`` to ``{stage: train_stats.json}`` (:func:`training_cells`)."""
    records = load_records(metrics_dir)
    table = build_table(metrics_dir, paper_values_csv, records=records, what="Table 1",
                        include=lambda m: method_info(m).group in TABLE1_GROUPS,
                        part_of=lambda d, r, m: table1_part(d, r))
    for key, stages in (training or {}).items():
        dataset, _, method = key.partition("/")
        cpu_s, steps = training_cells(stages)
        hit = (table["dataset"] == dataset) & (table["method"] == method)
        table.loc[hit, "train_cpu_s"], table.loc[hit, "train_steps"] = cpu_s, steps
    here = Path(out_md).parent
    images = [(caption, os.path.relpath(path, here)) for caption, path in
              (("Fig. 5: colour similarity over time", color_figure),
               ("Semantic change: the world detector's readout over long videos", semantic_figure))
              if path is not None]
    notes = [line for path in sanity for line in _sanity_notes(path)] + released_notes(released_audit, table)
    notes += semantic_notes(records) + lr_stage_notes(records)
    _write_outputs(table, records, "Table 1: FVD of long videos", out_csv, out_md, out_tex, images=images,
                   notes=notes)
    return table


def training_cells(stages: Mapping[str, str | Path]) -> tuple[float, str]:
    """(CPU-seconds over all stages, steps per stage) from each stage's ``train_stats.json``
    (:func:`lvg.train.loop.train_stats`): ``(119.6, "LR 210 + SR 12")``, or one stage's bare step count."""
    import json

    stats = {name: json.loads(Path(p).read_text()) for name, p in stages.items()}
    cpu = round(sum(s["train_s"] for s in stats.values()), 1)
    steps = " + ".join(f"{name} {s['steps']}".strip() for name, s in stats.items())
    return cpu, steps


def _sanity_notes(path: str | Path) -> list[str]:
    """One line per clip length: how the detector ranks a real sample against four degradations of it."""
    import json

    doc = json.loads(Path(path).read_text())
    verdict = "PASSED" if doc.get("passed") else "FAILED"
    return [f"Sanity ranking ({doc['dataset']}, {verdict}): {line}" for line in doc.get("summary", [])]


def table2(metrics_dir: str | Path | Sequence[str | Path], paper_values_csv: str | Path | None, out_csv: str | Path,
           out_md: str | Path, out_tex: str | Path | None = None) -> pd.DataFrame:
    """Table 2: ablations over the training sequence length (``ours_seq<L>``) and the temporal filter
    footprint (``ours_fp<min>-<max>``), with ``ours`` as the reference, on datasets that have ablations."""
    records = load_records(metrics_dir)
    ablated = set(records.loc[records["group"].isin(TABLE2_GROUPS), "dataset"])
    if paper_values_csv is not None:
        pv = read_paper_values(paper_values_csv)
        ablated |= {d for d, m in zip(pv["dataset"], pv["method"], strict=True)
                    if method_info(m).group in TABLE2_GROUPS}
    records_in = records[records["dataset"].isin(ablated)]
    table = build_table(metrics_dir, paper_values_csv, records=records_in, what="Table 2",
                        include=lambda m: method_info(m).group in (*TABLE2_GROUPS, "ours"),
                        part_of=lambda d, r, m: table2_part(m))
    table = table[table["dataset"].isin(ablated)]
    table.insert(5, "setting", [ablation_setting(m) for m in table["method"]])
    order = {"reference": 0, "seq_len": 1, "footprint": 2}
    table = table.iloc[sorted(range(len(table)), key=lambda i: (
        table["dataset"].iat[i], table["resolution"].iat[i], order.get(table["part"].iat[i], 3),
        method_sort_key(table["method"].iat[i])))].reset_index(drop=True)
    _write_outputs(table, records_in, "Table 2: ablations", out_csv, out_md, out_tex,
                   extra_columns=[("setting", "Setting")])
    return table
