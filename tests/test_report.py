"""Reporting: record formats, Table 1 / Table 2, paper values, and the figures (all from constructed records)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lvg.errors import LvgError
from lvg.report.records import (
    NOT_COMPUTED,
    load_records,
    method_info,
    record_path,
    write_color_record,
    write_fvd_record,
)
from lvg.report.tables import format_mean_std, read_paper_values, table1, table2

REPO = Path(__file__).resolve().parents[1]
PAPER_HEADER = "# typed in from the paper PDF (test fixture)\ndataset,resolution,method,metric,value,source\n"


def run(value, seed, *, clip_len=16, detector="i3d-random", sha=None, num_real=2048, num_fake=2048,
        resolution="256x256", protocol="longvideogan", warnings=()):
    """The fields of lvg.metrics.fvd.metric_record that reporting relies on."""
    return {"metric": f"fvd{clip_len}", "value": value, "status": "computed", "protocol": protocol,
            "num_real": num_real, "num_fake": num_fake, "clip_len": clip_len, "seeds": {"fake": seed, "real": 0},
            "detector_name": detector, "detector_sha256": sha,
            "detector": {"name": detector, "sha256": sha, "comparable_to_published": sha is not None},
            "resolution": resolution, "comparable_to_published": sha is not None, "warnings": list(warnings)}


def fvd(metrics: Path, dataset: str, method: str, values, clip_len=16, **kw) -> Path:
    path = record_path(metrics, dataset, method, f"fvd{clip_len}")
    runs = [run(v, s, clip_len=clip_len, **kw) for s, v in enumerate(values)]
    write_fvd_record(path, dataset=dataset, method=method, runs=runs, model={"steps": 10})
    return path


def paper_csv(tmp_path: Path, rows: str = "") -> Path:
    p = tmp_path / "paper_values.csv"
    p.write_text(PAPER_HEADER + rows)
    return p


# ================================================================================================ records
def test_fvd_record_fields_and_sample_std(tmp_path: Path) -> None:
    path = fvd(tmp_path, "horseback", "ours", [100.0, 110.0, 120.0])
    rec = json.loads(path.read_text())
    assert rec["metric"] == "fvd16" and rec["dataset"] == "horseback" and rec["method"] == "ours"
    assert rec["mean"] == 110.0 and rec["std"] == 10.0 and rec["std_ddof"] == 1 and rec["num_runs"] == 3
    assert (rec["num_real"], rec["num_fake"], rec["clip_len"], rec["protocol"]) == (2048, 2048, 16, "longvideogan")
    assert rec["detector"]["name"] == "i3d-random" and rec["detector"]["sha256"] is None
    assert rec["detector"]["comparable"] is False and "not comparable" in rec["detector"]["warning"]
    assert rec["resolution"] == "256x256" and rec["model"] == {"steps": 10} and len(rec["runs"]) == 3
    one = json.loads(fvd(tmp_path, "horseback", "tats", [50.0]).read_text())
    assert one["std"] is None and one["num_runs"] == 1


def test_fvd_record_from_metric_record(tmp_path: Path) -> None:
    from lvg.metrics.fvd import metric_record

    class Det:
        name, sha256 = "i3d-random", None

    runs = [metric_record(value=v, clip_len=128, protocol="longvideogan", num_real=64, num_fake=64,
                          seeds={"fake": s, "real": 0}, detector=Det(), resolution=(64, 64), dataset_id="x",
                          model_id="m") for s, v in enumerate([3.0, 5.0])]
    path = record_path(tmp_path, "synthetic", "ours", "fvd128")
    write_fvd_record(path, dataset="synthetic", method="ours", runs=runs)
    df = load_records(tmp_path)
    r = df.iloc[0]
    assert (r["metric"], r["mean"], r["std"], r["resolution"]) == ("fvd128", 4.0, math.sqrt(2), "64x64")
    assert r["seeds"] == "fake 0,1; real 0" and any("small sample" in w for w in r["warnings"])


def test_runs_must_agree(tmp_path: Path) -> None:
    runs = [run(1.0, 0), run(2.0, 1, num_real=1000)]
    with pytest.raises(LvgError, match="num_real"):
        write_fvd_record(tmp_path / "a/b/fvd16.json", dataset="a", method="b", runs=runs)
    runs = [run(1.0, 0), run(2.0, 1, detector="i3d-torchscript", sha="ab" * 32)]
    with pytest.raises(LvgError, match="detector"):
        write_fvd_record(tmp_path / "a/b/fvd16.json", dataset="a", method="b", runs=runs)


def test_malformed_records_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "m" / "sky" / "ours" / "fvd16.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(LvgError, match=r"fvd16\.json: malformed JSON"):
        load_records(tmp_path / "m")
    rec = json.loads(fvd(tmp_path / "ok", "sky", "ours", [1.0, 2.0]).read_text())
    del rec["mean"]
    bad.write_text(json.dumps(rec))
    with pytest.raises(LvgError, match=rf"{bad}: malformed fvd16 record: missing field\(s\) mean"):
        load_records(tmp_path / "m")
    rec["mean"], rec["detector"] = 1.5, {"name": "x"}
    bad.write_text(json.dumps(rec))
    with pytest.raises(LvgError, match="detector.sha256"):
        load_records(tmp_path / "m")
    rec["detector"], rec["mean"] = {"name": "x", "sha256": None, "comparable": False}, 7.0
    bad.write_text(json.dumps(rec))
    with pytest.raises(LvgError, match="not the mean of the runs"):
        load_records(tmp_path / "m")
    rec["mean"], rec["method"] = 1.5, "tats"
    bad.write_text(json.dumps(rec))
    with pytest.raises(LvgError, match="its path says"):
        load_records(tmp_path / "m")
    with pytest.raises(LvgError, match="does not exist"):
        load_records(tmp_path / "nowhere")


def test_color_record_validation(tmp_path: Path) -> None:
    p = tmp_path / "d" / "real" / "color_similarity.json"
    rec = write_color_record(p, dataset="d", method="real", resolution="64x64", mean=[0.9, 0.8],
                             std=[0.1, float("nan")], num_clips=1, seed=3, prepend_t0=True)
    assert rec["mean"] == [1.0, 0.9, 0.8] and rec["std"] == [0.0, 0.1, None] and rec["clip_len"] == 2
    with pytest.raises(LvgError, match="t = 0"):
        write_color_record(p, dataset="d", method="real", resolution="64x64", mean=[0.9, 0.8], std=[0.1, 0.1],
                           num_clips=2, seed=3)
    with pytest.raises(LvgError, match="clip_len"):
        write_color_record(p, dataset="d", method="real", resolution="64x64", mean=[1.0, 0.8], std=[0.0, 0.1],
                           num_clips=2, seed=3, clip_len=5)


def test_method_info() -> None:
    assert method_info("styleganv").group == "baseline" and method_info("real").group == "real"
    assert method_info("ours_seq128").name == "Ours, trained on 128-frame sequences"
    assert method_info("ours_fp16-256").group == "ablation_fp"
    assert method_info("my_method").name == "my_method" and method_info("my_method").group == "other"


# ================================================================================================ tables
def test_table1_values_formatting_and_blank_paper_columns(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    fvd(m, "horseback", "ours", [117.8, 129.0])
    fvd(m, "horseback", "ours", [300.25, 310.5], clip_len=128)
    fvd(m, "horseback", "ours_untrained", [5000.0, 5100.0])
    write_fvd_record(record_path(m, "horseback", "styleganv", "fvd16"), dataset="horseback", method="styleganv",
                     metric="fvd16")
    fvd(m, "horseback", "ours_seq16", [200.0])  # an ablation: Table 2 only
    out = tmp_path / "out"
    table1(m, paper_csv(tmp_path), out / "table1.csv", out / "table1.md", out / "table1.tex",
           color_figure=tmp_path / "paper_figures/fig5.png")
    t = pd.read_csv(out / "table1.csv", keep_default_na=False)
    assert list(t["method"]) == ["ours", "ours_untrained", "styleganv"]
    ours = t.iloc[0]
    assert float(ours["fvd16_mean"]) == np.mean([117.8, 129.0])
    assert float(ours["fvd16_std"]) == np.std([117.8, 129.0], ddof=1)
    assert ours["fvd16"] == "123.4 ± 7.9" and ours["fvd128"] == "305.4 ± 7.2"
    assert int(ours["fvd16_n"]) == 2 and int(ours["n_real"]) == 2048 and ours["seeds"] == "fake 0,1; real 0"
    assert ours["part"] == "main" and ours["method_name"] == "LongVideoGAN (ours)"
    assert ours["detector"] == "i3d-random" and ours["comparable_to_published"] == "False"
    assert (ours["paper_fvd16"], ours["paper_fvd128"], ours["paper_source"]) == ("", "", "")
    assert t.iloc[2]["fvd16"] == NOT_COMPUTED and t.iloc[2]["fvd16_mean"] == ""
    md = (out / "table1.md").read_text()
    assert "Detector: i3d-random (sha256 none)." in md and "not comparable to published FVD" in md
    assert "| LongVideoGAN (ours)" in md and "123.4 ± 7.9" in md
    assert md.rstrip().endswith("](../paper_figures/fig5.png)")  # linked relative to the table
    assert "Control check (horseback, " in md and "beats its untrained control" in md
    assert r"123.4 $\pm$ 7.9" in (out / "table1.tex").read_text()
    assert format_mean_std(123.4, 5.6) == "123.4 ± 5.6" and format_mean_std(0.01234, None) == "0.0123"


def test_paper_values_only_from_csv(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    fvd(m, "horseback", "ours", [10.0, 12.0], detector="i3d-torchscript", sha="cd" * 32)
    fvd(m, "horseback", "styleganv", [20.0, 22.0], detector="i3d-torchscript", sha="cd" * 32)
    csv = paper_csv(tmp_path, "horseback,256x256,ours,fvd16,999.5,fixture p. 0 Table 0\n"
                              "horseback,256x256,digan,fvd128,888,fixture p. 0 Table 0\n")
    t = table1(m, csv, tmp_path / "t.csv", tmp_path / "t.md")
    ours = t[t["method"] == "ours"].iloc[0]
    assert ours["paper_fvd16"] == 999.5 and ours["paper_source"] == "fixture p. 0 Table 0"
    assert ours["paper_fvd128"] is None
    sg = t[t["method"] == "styleganv"].iloc[0]
    assert sg["paper_fvd16"] is None and sg["paper_source"] is None
    digan = t[t["method"] == "digan"].iloc[0]  # a paper value with no record of ours still shows
    assert digan["paper_fvd128"] == 888.0 and digan["fvd16"] == "" and digan["fvd16_mean"] is None
    md = (tmp_path / "t.md").read_text()
    assert "i3d-torchscript" in md and "not comparable" not in md and "999.5" in md


def test_shipped_paper_values_are_blank_and_bad_rows_fail(tmp_path: Path) -> None:
    shipped = REPO / "workflow" / "paper_values.csv"
    assert shipped.read_text().startswith("#") and len(read_paper_values(shipped)) == 0
    with pytest.raises(LvgError, match="line 3: source is empty"):
        read_paper_values(paper_csv(tmp_path, "sky,256x256,ours,fvd16,1.0,\n"))
    with pytest.raises(LvgError, match="line 3: value 'abc' is not a number"):
        read_paper_values(paper_csv(tmp_path, "sky,256x256,ours,fvd16,abc,p. 1\n"))
    with pytest.raises(LvgError, match="line 4: duplicate of line 3"):
        read_paper_values(paper_csv(tmp_path, "sky,256x256,ours,fvd16,1,p. 1\nsky,256x256,ours,fvd16,2,p. 1\n"))


def test_mixing_detectors_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    a = fvd(m, "sky", "ours", [1.0, 2.0])
    b = fvd(m, "sky", "tats", [3.0, 4.0], detector="i3d-torchscript", sha="ab" * 32)
    with pytest.raises(LvgError, match="different detectors") as e:
        table1(m, None, tmp_path / "t.csv", tmp_path / "t.md")
    assert str(a) in str(e.value) and str(b) in str(e.value) and "i3d-torchscript" in str(e.value)
    assert not (tmp_path / "t.csv").exists()


def test_parts_and_table2(tmp_path: Path) -> None:
    m = tmp_path / "metrics"
    fvd(m, "sky_timelapse128", "ours", [1.0, 2.0], resolution="128x128")  # one resolution per dataset dir
    fvd(m, "sky_timelapse", "ours", [3.0, 4.0], resolution="256x256")
    fvd(m, "biking", "ours", [5.0, 6.0])
    fvd(m, "biking", "ours_seq128", [7.0, 8.0])
    fvd(m, "biking", "ours_seq16", [9.0, 10.0])
    fvd(m, "biking", "ours_fp16-256", [11.0, 12.0])
    t1 = table1(m, None, tmp_path / "t1.csv", tmp_path / "t1.md")
    assert list(zip(t1["part"], t1["dataset"], t1["resolution"], strict=True)) == [
        ("main", "biking", "256x256"), ("main", "sky_timelapse", "256x256"), ("sky128", "sky_timelapse128", "128x128")]
    t2 = table2(m, None, tmp_path / "t2.csv", tmp_path / "t2.md")
    assert list(t2["method"]) == ["ours", "ours_seq16", "ours_seq128", "ours_fp16-256"]
    assert list(t2["part"]) == ["reference", "seq_len", "seq_len", "footprint"]
    assert list(t2["setting"]) == ["", "16 frames", "128 frames", "16-256"]
    assert list(t2["fvd16"]) == ["5.5 ± 0.707", "9.5 ± 0.707", "7.5 ± 0.707", "11.5 ± 0.707"]
    md = (tmp_path / "t2.md").read_text()
    assert "(a) training sequence length" in md and "| Setting" in md


# ================================================================================================ figures
def _color(metrics: Path, method: str, mean_t1: list[float], num_clips: int = 10, dataset: str = "d") -> dict:
    return write_color_record(record_path(metrics, dataset, method, "color_similarity"), dataset=dataset,
                              method=method, resolution="64x64", mean=mean_t1, std=[0.05] * len(mean_t1),
                              num_clips=num_clips, seed=0, prepend_t0=True)


def test_color_similarity_figure(tmp_path: Path) -> None:
    from lvg.report.figures import plot_color_similarity

    m = tmp_path / "metrics"
    curves = {"styleganv": [0.99, 0.98, 0.97, 0.96], "real": [0.9, 0.8, 0.7, 0.6], "ours": [0.92, 0.8, 0.71, 0.6]}
    for method, c in curves.items():
        _color(m, method, c)
    fvd(m, "d", "ours", [1.0])  # FVD records are ignored
    fig = plot_color_similarity(load_records(m), tmp_path / "a.png", tmp_path / "a.pdf")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["Real videos", "LongVideoGAN (ours)", "StyleGAN-V (lite)"]
    for line, method in zip(ax.lines, ["real", "ours", "styleganv"], strict=True):
        np.testing.assert_array_equal(line.get_ydata(), [1.0, *curves[method]])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(5))
    assert ax.lines[0].get_color() == "black"
    band = ax.collections[0]
    assert band.get_alpha() == 0.2
    np.testing.assert_allclose(band.get_paths()[0].vertices[:, 1].min(), 0.6 - 0.05)
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_xlim() == (0.0, 4.0)
    assert ax.get_xlabel() == "Frame separation" and ax.get_ylabel() == "Color similarity"
    assert ax.get_title() == "d: 64x64, 10 clips of 5 frames"
    png, pdf = (tmp_path / "a.png").read_bytes(), (tmp_path / "a.pdf").read_bytes()
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF")
    plot_color_similarity(m, tmp_path / "b.png", tmp_path / "b.pdf")
    assert (tmp_path / "b.png").read_bytes() == png and (tmp_path / "b.pdf").read_bytes() == pdf


def test_sr_comparison_figure(tmp_path: Path) -> None:
    from lvg.report.figures import plot_sr_comparison

    m = tmp_path / "metrics"
    fvd(m, "biking", "ours", [100.0, 120.0])
    fvd(m, "biking", "ours_sr_real_lr", [40.0, 50.0])
    fvd(m, "biking", "tats", [1.0])  # not part of the figure
    fig = plot_sr_comparison(m, tmp_path / "a.png", tmp_path / "a.pdf")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [110.0, 45.0]
    assert "i3d-random" in fig.get_suptitle() and "not comparable to published FVD" in fig.get_suptitle()
    png = (tmp_path / "a.png").read_bytes()
    plot_sr_comparison(m, tmp_path / "b.png", tmp_path / "b.pdf")
    assert (tmp_path / "b.png").read_bytes() == png
    assert (tmp_path / "b.pdf").read_bytes() == (tmp_path / "a.pdf").read_bytes()
    fvd(m, "sky", "ours_sr_real_lr", [1.0], detector="i3d-torchscript", sha="ab" * 32)
    with pytest.raises(LvgError, match="different detectors"):
        plot_sr_comparison(m, None, None)


def _video(path: Path, n: int, h: int = 32, w: int = 48, offset: int = 0) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30, options={"crf": "0", "preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            img = np.full((h, w, 3), offset + 5 * i, dtype=np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def test_frame_strips(tmp_path: Path) -> None:
    from lvg.report.figures import plot_frame_strips

    videos = {"ours": _video(tmp_path / "a.mp4", 40), "styleganv": _video(tmp_path / "b.mp4", 40, offset=20)}
    fig = plot_frame_strips(videos, [0, 15, 39], tmp_path / "s.png", tmp_path / "s.pdf")
    assert len(fig.axes) == 6
    grid = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in grid[0]] == ["0 s", "0.5 s", "1.3 s"]
    assert [ax.get_ylabel() for ax in grid[:, 0]] == ["LongVideoGAN (ours)", "StyleGAN-V (lite)"]
    for r, offset in enumerate([0, 20]):
        for c, t in enumerate([0, 15, 39]):
            img = grid[r, c].images[0].get_array()
            assert img.shape == (32, 48, 3)
            assert abs(float(np.mean(img)) - (offset + 5 * t)) < 3
    png = (tmp_path / "s.png").read_bytes()
    plot_frame_strips(videos, [0, 15, 39], tmp_path / "s2.png", None)
    assert (tmp_path / "s2.png").read_bytes() == png and (tmp_path / "s.pdf").stat().st_size > 0
    with pytest.raises(LvgError, match=r"a\.mp4: has 40 frames; frame\(s\) 100 requested"):
        plot_frame_strips(videos, [0, 100], None, None)


def test_empty_metrics_dir_gives_header_only_outputs(tmp_path: Path) -> None:
    from lvg.report.figures import plot_color_similarity, plot_sr_comparison

    m = tmp_path / "metrics"
    m.mkdir()
    (m / "cache").mkdir()
    (m / "cache" / "fvd-real-abc.json").write_text("{}")  # not a record: ignored
    t = table1(m, REPO / "workflow" / "paper_values.csv", tmp_path / "t.csv", tmp_path / "t.md")
    assert t.empty and (tmp_path / "t.csv").read_text().startswith("part,dataset,resolution,method,")
    assert "No FVD records found." in (tmp_path / "t.md").read_text()
    plot_color_similarity(m, tmp_path / "c.png", tmp_path / "c.pdf")
    plot_sr_comparison(m, tmp_path / "s.png", tmp_path / "s.pdf")
    assert all((tmp_path / f).stat().st_size > 0 for f in ["c.png", "c.pdf", "s.png", "s.pdf"])


def test_control_check_says_whether_the_trained_model_beats_its_control() -> None:
    import pandas as pd

    from lvg.report.tables import control_check

    def table(ours: float, untrained: float) -> pd.DataFrame:
        rows = [{"dataset": "d", "resolution": "32x32", "method": m, "fvd16_mean": v, "fvd128_mean": None}
                for m, v in (("ours", ours), ("ours_untrained", untrained), ("styleganv", 1.0))]
        return pd.DataFrame(rows, dtype=object)

    (good,) = control_check(table(10.0, 20.0))
    assert "beats its untrained control (FVD16 10.0 vs 20.0)" in good and "FVD128" not in good
    (bad,) = control_check(table(30.0, 20.0))
    assert bad.startswith("Control check (d, 32x32): WARNING") and "NOT beat" in bad and "FVD16" in bad
    assert control_check(table(10.0, 20.0).iloc[[0, 2]]) == []  # no control row, no claim


def test_table1_colour_training_columns_and_lr_stage_note(tmp_path: Path) -> None:
    """Each row carries S(1) / S(16) / S(128) and the frame change of its colour record and the training
    CPU-seconds and steps of every stage (equal compute); the LR-stage pair becomes a note."""
    m = tmp_path / "metrics"
    fvd(m, "synthetic", "ours", [50.0, 52.0])
    fvd(m, "synthetic", "tats", [80.0, 82.0])
    curve = [1.0] + [1.0 - 0.003 * t for t in range(1, 129)]
    for method, change, res in (("ours", 0.02, "64x64"), ("ours_lr", 0.01, "32x32"), ("real_lr", 0.02, "32x32")):
        mean = curve if method != "ours_lr" else [1.0] + [v - 0.05 for v in curve[1:]]
        write_color_record(record_path(m, "synthetic", method, "color_similarity"), dataset="synthetic",
                           method=method, resolution=res, mean=mean, std=[0.0] * 129, num_clips=4, seed=0,
                           extra={"frame_change": change})
    stats = {}
    for name, cpu, steps in (("lr", 89.95, 210), ("sr", 30.2, 45), ("tats", 120.4, 600)):
        stats[name] = tmp_path / f"{name}.json"
        stats[name].write_text(json.dumps({"train_s": cpu, "steps": steps}))
    training = {"synthetic/ours": {"LR": stats["lr"], "SR": stats["sr"]}, "synthetic/tats": {"": stats["tats"]}}
    t = table1(m, None, tmp_path / "t.csv", tmp_path / "t.md", training=training)
    ours, tats = (t[t["method"] == k].iloc[0] for k in ("ours", "tats"))
    assert (ours["s1"], ours["s16"], ours["s128"], ours["frame_change"]) == (0.997, 0.952, 0.616, 0.02)
    assert ours["train_cpu_s"] == 120.2 and ours["train_steps"] == "LR 210 + SR 45"
    assert tats["train_cpu_s"] == 120.4 and tats["train_steps"] == "600" and tats["s16"] is None
    md = (tmp_path / "t.md").read_text()
    assert "| Training CPU-s   | Training steps   |" in md and "| 120.2            | LR 210 + SR 45   |" in md
    assert "LR stage (synthetic, 32x32, before super-resolution): max |S_ours(t) - S_real(t)| over t <= 128 = " \
           "0.050; frame change 0.0100 vs real 0.0200 (0.50x)." in md
