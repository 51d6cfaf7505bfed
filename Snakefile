# lvg: LongVideoGAN as a reproducible workflow. Entry point of the Snakemake DAG.
#   snakemake --cores all               # the default target (grows into results/table1.csv)
#   snakemake --cores all phase_scenes  # one phase, as the DVC stages call it
from snakemake.utils import min_version

min_version("9.1.0")


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/acquire.smk"
include: "workflow/rules/scenes.smk"
include: "workflow/rules/clips.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/generate.smk"


rule all:
    input:
        get_final_output(),
    default_target: True
