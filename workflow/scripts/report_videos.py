# Thin wrapper: Snakemake rule report_videos -> browser-playable copies of a few sample videos.
from pathlib import Path

from lvg.data.video import iter_frames, write_video
from lvg.io import read_json
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
index = Path(smk.input[0])
out = Path(smk.output[0])
out.mkdir(parents=True, exist_ok=True)
for v in read_json(index)["videos"][: smk.params.num_videos]:
    src = Path(v["file"]) if Path(v["file"]).is_absolute() else index.parent / v["file"]
    frames = (f[None] for _, f in iter_frames(src))
    write_video(frames, out / f"{Path(v['file']).stem}.mp4", crf=18, pix_fmt="yuv420p", upscale="auto")
