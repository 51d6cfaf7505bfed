# Thin wrapper: Snakemake rules fig1_long_videos / fig5_color_similarity / fig6_superres -> lvg.report.figures.
from pathlib import Path

from lvg.io import read_json
from lvg.logs import snakemake_job
from lvg.report.figures import (
    plot_color_similarity,
    plot_frame_strips,
    plot_semantic_change,
    plot_sr_comparison,
)
from lvg.report.records import load_records

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
out = smk.output
if smk.rule == "fig1_long_videos":
    fig = smk.params.figures
    videos = {label: Path(folder) / read_json(Path(folder) / "index.json")["videos"][0]["file"]
              for label, folder in smk.params.videos.items()}
    times = [t for t in fig["strip_times"] if t < fig["long_video_frames"]]
    plot_frame_strips(videos, times, out.png, out.pdf)
else:
    records = load_records(smk.params.metrics_roots)
    wanted = {tuple(dm) for dm in smk.params.methods}
    records = records[[(d, m) in wanted for d, m in zip(records["dataset"], records["method"], strict=True)]]
    plot = {"fig5_color_similarity": plot_color_similarity, "fig5b_semantic_change": plot_semantic_change,
            "fig6_superres": plot_sr_comparison}[smk.rule]
    plot(records, out.png, out.pdf)
