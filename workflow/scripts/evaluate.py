# Thin wrapper: Snakemake rules evaluate_real / evaluate / evaluate_sanity / evaluate_lr_stage -> lvg.evaluate.
from pathlib import Path

from lvg.evaluate import run_lr_stage, run_method, run_real, run_sanity
from lvg.logs import snakemake_job

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
p = smk.params
metrics = dict(p.metrics) | {"threads": smk.threads}
if smk.rule == "evaluate_lr_stage":
    run_lr_stage(smk.wildcards.dataset, Path(p.dataset_dir), p.resolution, Path(p.samples_dir), Path(p.metrics_root),
                 metrics, p.color_frames)
elif smk.rule == "evaluate_real":
    run_real(smk.wildcards.dataset, Path(p.dataset_dir), p.resolution, Path(p.metrics_root), metrics,
             p.color_frames, world_detector=p.world_detector)
elif smk.rule == "evaluate_sanity":
    run_sanity(smk.wildcards.dataset, Path(p.dataset_dir), p.resolution, Path(p.metrics_root), metrics, p.holdout,
               cache_dir=Path(p.cache_dir), out=smk.output.sanity, world_detector=p.world_detector)
else:
    run_method(smk.wildcards.dataset, smk.wildcards.method, Path(p.dataset_dir), p.resolution, Path(p.samples_dir),
               Path(p.metrics_root), metrics, p.color_frames, cache_dir=Path(p.cache_dir),
               world_detector=p.world_detector)
