# Thin wrapper: Snakemake rule preprocess_frames -> lvg.data.preprocess (also `lvg preprocess`).
from pathlib import Path

from lvg.data.preprocess import preprocess_dataset
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
h, w = (int(x) for x in smk.wildcards.res.split("x"))
preprocess_dataset(Path(smk.input.clips), Path(smk.params.raw_dir), Path(smk.params.out_dir), h, w,
                   smk.params.partitions, smk.params.jpeg_quality, resize=smk.params.resize)
