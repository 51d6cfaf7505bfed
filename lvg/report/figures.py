"""The paper's figures from metric records and generated videos: PNG and PDF, deterministic.

- :func:`plot_color_similarity`: Fig. 5, colour similarity against frame separation, one panel per dataset,
  exactly as the reference plots it (spec/evaluation.md §4): the curve starts at (t = 0, mean 1, std 0), a
  mean ± std band at alpha 0.2, y in [0, 1], x from 0 to the clip's largest separation (128 in the paper),
  axes "Frame separation" / "Color similarity". Real videos in black, drawn first.
- :func:`plot_sr_comparison`: Fig. 6(c), FVD of the full model (super-resolution on generated low-res video)
  against super-resolution applied to real low-res video, with the detector named on the figure.
- :func:`plot_frame_strips`: Fig. 1-style strips of frames far apart in long generated videos.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no global state) and
returned for inspection. Saving drops every timestamp (PDF ``CreationDate``), so two runs write the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lvg.errors import LvgError
from lvg.io import atomic_path
from lvg.report.records import (
    NOT_COMPARABLE,
    RANDOM_DETECTOR,
    as_frame,
    method_info,
    method_sort_key,
)
from lvg.report.tables import check_single_detector, format_number

PNG_DPI = 150
PALETTE = "colorblind"
REAL_COLOR = "black"
SR_METHODS = {"ours": "SR on generated LR", "ours_sr_real_lr": "SR on real LR"}
PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, out_png: str | Path | None, out_pdf: str | Path | None) -> None:
    """Write PNG and PDF atomically, without timestamps or version strings (byte-reproducible)."""
    if out_png is not None:
        with atomic_path(out_png) as tmp:
            fig.savefig(tmp, format="png", dpi=PNG_DPI, metadata=PNG_METADATA)
    if out_pdf is not None:
        with atomic_path(out_pdf) as tmp:
            fig.savefig(tmp, format="pdf", metadata=PDF_METADATA)


def method_colors(methods: Sequence[str]) -> dict[str, Any]:
    """Black for real videos; the colour-blind palette, in method order, for the rest."""
    others = [m for m in sorted(set(methods), key=method_sort_key) if m != "real"]
    palette = sns.color_palette(PALETTE, max(len(others), 1))
    colors: dict[str, Any] = {m: palette[i % len(palette)] for i, m in enumerate(others)}
    colors["real"] = REAL_COLOR
    return colors


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _empty(fig: Figure, text: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center")


# ================================================================================================ Fig. 5
def plot_color_similarity(records: Any, out_png: str | Path | None, out_pdf: str | Path | None) -> Figure:
    """Fig. 5: one panel per dataset, one line per method (real first, in black), mean ± std band.

    ``records`` is a :func:`~lvg.report.records.load_records` DataFrame, a metrics directory or a list of
    record dicts; only colour-similarity records are used. Each line's y data is the record's ``mean``
    (which starts with the t = 0 point, 1.0); the band is mean ± std (no band where std is null).
    """
    df = as_frame(records)
    df = df[df["kind"] == "color"]
    datasets = sorted(set(df["dataset"]))
    colors = method_colors(list(df["method"]))
    with sns.axes_style("whitegrid"):
        if not datasets:
            fig = new_figure(5, 3.5)
            _empty(fig, "no colour-similarity records")
            save_figure(fig, out_png, out_pdf)
            return fig
        rows, cols = _grid(len(datasets))
        fig = new_figure(5 * cols, 3.8 * rows)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax in axes[len(datasets):]:
            ax.set_axis_off()
        for ax, dataset in zip(axes, datasets, strict=False):
            sub = df[df["dataset"] == dataset]
            sub = sub.iloc[sorted(range(len(sub)), key=lambda i: method_sort_key(sub["method"].iat[i]))]
            counts = sorted(set(sub["num_clips"]))
            t_max = max(sub["clip_len"])
            for r in sub.itertuples():
                mean = np.asarray(r.mean, dtype=np.float64)
                std = np.array([np.nan if s is None else s for s in r.std], dtype=np.float64)
                x = np.arange(mean.size)
                label = method_info(r.method).name + (f" (n={r.num_clips})" if len(counts) > 1 else "")
                ax.plot(x, mean, color=colors[r.method], label=label, linewidth=1.5)
                ax.fill_between(x, mean - std, mean + std, color=colors[r.method], alpha=0.2, linewidth=0)
            ax.set_xlim(0, t_max)
            ax.set_ylim(0, 1)
            ax.set_xlabel("Frame separation")
            ax.set_ylabel("Color similarity")
            resolutions = ", ".join(sorted(set(sub["resolution"])))
            clips = f"{counts[0]} clips" if len(counts) == 1 else "clips per method in legend"
            ax.set_title(f"{dataset}: {resolutions}, {clips} of {t_max + 1} frames", fontsize=10)
            ax.legend(fontsize=8, loc="lower left")
    save_figure(fig, out_png, out_pdf)
    return fig


# ================================================================================================ Fig. 6(c)
def plot_sr_comparison(fvd_records: Any, out_png: str | Path | None, out_pdf: str | Path | None) -> Figure:
    """Fig. 6(c): FVD (mean, error bar = sample std over seeds) of SR on generated LR (``ours``) vs SR on real
    LR (``ours_sr_real_lr``), grouped by dataset, one panel per FVD metric. Refuses mixed detectors."""
    df = as_frame(fvd_records)
    df = df[(df["kind"] == "fvd") & df["method"].isin(list(SR_METHODS))]
    check_single_detector(df, "the SR comparison figure")
    computed = df[df["status"] == "computed"]
    metrics = sorted(set(df["metric"]), key=lambda m: int(m[3:]))
    palette = sns.color_palette(PALETTE, len(SR_METHODS))
    with sns.axes_style("whitegrid"):
        if not metrics:
            fig = new_figure(5, 3.5)
            _empty(fig, "no FVD records for ours / ours_sr_real_lr")
            save_figure(fig, out_png, out_pdf)
            return fig
        fig = new_figure(4.5 * len(metrics), 4.3)
        axes = fig.subplots(1, len(metrics), squeeze=False).ravel()
        width = 0.8 / len(SR_METHODS)
        for ax, metric in zip(axes, metrics, strict=True):
            sub = df[df["metric"] == metric]
            keys = sorted(set(zip(sub["dataset"], sub["resolution"].fillna(""), strict=True)))
            for j, (method, label) in enumerate(SR_METHODS.items()):
                xs, heights, errs = [], [], []
                for i, (dataset, res) in enumerate(keys):
                    hit = sub[(sub["dataset"] == dataset) & (sub["resolution"].fillna("") == res)
                              & (sub["method"] == method)]
                    x = i + (j - (len(SR_METHODS) - 1) / 2) * width
                    if len(hit) and hit["status"].iat[0] == "computed":
                        xs.append(x)
                        heights.append(float(hit["mean"].iat[0]))
                        std = hit["std"].iat[0]
                        errs.append(0.0 if std is None else float(std))
                    else:
                        ax.text(x, 0, "n/c", ha="center", va="bottom", fontsize=8)
                ax.bar(xs, heights, width=width, yerr=errs, capsize=4, color=palette[j],
                       label=label if ax is axes[0] else None)
                for x, h, e in zip(xs, heights, errs, strict=True):
                    ax.text(x, h + e, format_number(h), ha="center", va="bottom", fontsize=7)
            ax.set_xticks(range(len(keys)), [f"{d}\n{r}" for d, r in keys], fontsize=8)
            ax.set_ylabel(f"{metric.upper()} (lower is better)")
            ax.set_title(metric.upper(), fontsize=10)
            ax.margins(y=0.12)
        fig.legend(loc="outside lower center", ncols=len(SR_METHODS), fontsize=8)
        if computed.empty:
            detector = "detector: none (FVD not computed: weights absent)"
        else:
            name = computed["detector"].iat[0]
            detector = f"detector: {name}"
            if name == RANDOM_DETECTOR or not bool(computed["comparable"].iat[0]):
                detector += f" ({NOT_COMPARABLE})"
        fig.suptitle(f"Super-resolution on generated vs real low-res videos; {detector}", fontsize=10)
    save_figure(fig, out_png, out_pdf)
    return fig


# ================================================================================================ Fig. 1
def read_frames_at(path: str | Path, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """RGB uint8 frames [H, W, 3] of a video at the given frame indices, decoded sequentially from the start
    (exact frame counting, no keyframe seeking); stops after the last one needed."""
    import av

    path = Path(path)
    wanted = sorted(set(int(i) for i in indices))
    if not wanted:
        return {}
    if wanted[0] < 0:
        raise LvgError(f"{path}: negative frame index {wanted[0]}")
    out: dict[int, np.ndarray] = {}
    count = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise LvgError(f"{path}: no video stream")
            for i, frame in enumerate(container.decode(video=0)):
                count = i + 1
                if i in wanted:
                    out[i] = frame.to_ndarray(format="rgb24")
                if i >= wanted[-1]:
                    break
    except (av.error.FFmpegError, OSError) as e:
        raise LvgError(f"{path}: cannot decode video: {e}") from None
    missing = [i for i in wanted if i not in out]
    if missing:
        raise LvgError(f"{path}: has {count} frames; frame(s) {', '.join(map(str, missing))} requested")
    return out


def seconds_label(index: int, fps: float) -> str:
    return f"{round(index / fps, 2):g} s"


def plot_frame_strips(videos: Mapping[str, str | Path], times: Sequence[int], out_png: str | Path | None,
                      out_pdf: str | Path | None, fps: float = 30.0, frame_height_in: float = 1.4) -> Figure:
    """Fig. 1: a grid with one row per method (``videos`` maps method key -> mp4) and one column per frame
    index in ``times``; columns are labelled with the time in seconds at ``fps``."""
    if not videos or not times:
        raise LvgError("plot_frame_strips needs at least one video and one time")
    frames = {method: read_frames_at(path, times) for method, path in videos.items()}
    first = frames[next(iter(frames))][int(times[0])]
    cell_h = frame_height_in
    cell_w = cell_h * first.shape[1] / first.shape[0]
    names = [method_info(m).name for m in videos]
    gap, top, pad = 0.06, 0.3, 0.05
    left = 0.15 + 0.07 * max(len(n) for n in names)  # room for horizontal row labels at 9 pt
    rows, cols = len(videos), len(times)
    width = left + cols * cell_w + (cols - 1) * gap + pad
    height = top + rows * cell_h + (rows - 1) * gap + pad
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={
        "left": left / width, "right": 1 - pad / width, "top": 1 - top / height, "bottom": pad / height,
        "wspace": gap / cell_w, "hspace": gap / cell_h})
    for r, method in enumerate(videos):
        for c, t in enumerate(times):
            ax = axes[r, c]
            ax.imshow(frames[method][int(t)], interpolation="antialiased", aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(seconds_label(int(t), fps), fontsize=9)
            if c == 0:
                ax.set_ylabel(names[r], fontsize=9, rotation=0, ha="right", va="center")
    save_figure(fig, out_png, out_pdf)
    return fig


# ================================================================================================ semantic change
def plot_semantic_change(records: Any, out_png: str | Path | None, out_pdf: str | Path | None) -> Figure:
    """Beside Fig. 5: per dataset, the semantic drift curve (mean |change| of the world detector's
    standardised readout against frame separation, log scale) of each method, real in black, and the rate
    of biome changes per minute as bars. Only computed ``semantic_change`` records are drawn."""
    df = as_frame(records)
    df = df[(df["kind"] == "semantic")]
    df = df[[r.get("status", "computed") == "computed" for r in df["record"]]]
    datasets = sorted(set(df["dataset"]))
    colors = method_colors(list(df["method"]))
    with sns.axes_style("whitegrid"):
        if not datasets:
            fig = new_figure(5, 3.5)
            _empty(fig, "no semantic-change records (needs the world detector and long videos)")
            save_figure(fig, out_png, out_pdf)
            return fig
        fig = new_figure(10, 3.8 * len(datasets))
        axes = fig.subplots(len(datasets), 2, squeeze=False)
        for (ax, bar), dataset in zip(axes, datasets, strict=True):
            sub = df[df["dataset"] == dataset]
            sub = sub.iloc[sorted(range(len(sub)), key=lambda i: method_sort_key(sub["method"].iat[i]))]
            names, rates, cols = [], [], []
            for r in sub.itertuples():
                rec = r.record
                lags = np.array(rec["drift"]["lags"], dtype=float)
                mean = np.array([np.nan if v is None else v for v in rec["drift"]["mean"]], dtype=float)
                name = method_info(r.method).name
                ax.plot(lags, mean, marker="o", ms=3, color=colors[r.method], label=name,
                        lw=2.2 if r.method == "real" else 1.4)
                names.append(name)
                rates.append(rec["biome_changes_per_min"] or 0.0)
                cols.append(colors[r.method])
            ax.set_xscale("log", base=2)
            ax.set_xlabel("Frame separation")
            ax.set_ylabel("Semantic change (standardised units)")
            ax.set_title(f"{dataset}: world-state drift")
            ax.legend(fontsize=7)
            bar.barh(range(len(names)), rates, color=cols)
            bar.set_yticks(range(len(names)), names, fontsize=7)
            bar.invert_yaxis()
            bar.set_xlabel("Biome changes per minute")
            bar.set_title("new content: biome changes")
        fig.suptitle("Detector: world (trained on the synthetic world's ground truth)", fontsize=8)
    save_figure(fig, out_png, out_pdf)
    return fig
