# lvg: LongVideoGAN as a reproducible workflow. Entry point of the Snakemake DAG.
#   snakemake --cores all results/table1.csv   # the default target: Table 1 (with Fig. 5)
#   snakemake --cores all paper_figures        # Figs. 1, 5, 6(c), Table 2 and the report's sample videos
#   snakemake --report report.html             # self-contained HTML report of what was built
#   snakemake --cores all phase_scenes         # one phase, as the DVC stages call it
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
include: "workflow/rules/released.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_output(),
    default_target: True


# After a direct run, `dvc commit` the DVC stages whose phase is now complete and up to date (lvg/dvc_record.py),
# so that `dvc repro` finds nothing to do instead of deleting them; inside `dvc repro` DVC records its stages.
onsuccess:
    record_after_snakemake(Path(workflow.basedir), config["dvc"]["record_snakemake_runs"])


onerror:
    record_after_snakemake(Path(workflow.basedir), config["dvc"]["record_snakemake_runs"])
