# Thin wrapper: Snakemake rule samples_untrained -> lvg.sample_sets.untrained_sample_set (Table 1 control).
from pathlib import Path

import torch

from lvg.logs import snakemake_job
from lvg.sample_sets import untrained_sample_set

snakemake_job(snakemake)  # noqa: F821
smk = snakemake  # noqa: F821
torch.set_num_threads(smk.threads)
p = smk.params
untrained_sample_set(dict(p.lowres), dict(p.superres), p.samples, Path(p.out_dir))
