# Phase 1, acquire: every source video to data/raw/<dataset>/<id>.mp4 with a provenance record.
# The only DVC stage with persist: true (downloads are expensive; the yt-dlp archive makes them idempotent).


rule acquire_source:
    input:
        acquire_inputs,
    output:
        video=L.RAW_VIDEO,
        provenance=L.RAW_PROVENANCE,
    params:
        entry=acquire_params,
        acquire=config["acquire"],
        manifest=lambda wc: L.MANIFEST.format(dataset=wc.dataset),
        raw_dir=lambda wc: L.RAW_DIR.format(dataset=wc.dataset),
    log:
        "logs/acquire_source/{dataset}/{source}.log",
    benchmark:
        "benchmarks/acquire_source/{dataset}/{source}.tsv"
    resources:
        downloads=1,
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/acquire_source.py"


rule acquire_provenance_table:
    input:
        per_source(L.RAW_PROVENANCE),
    output:
        L.RAW_TABLE,
    params:
        manifest=lambda wc: L.MANIFEST.format(dataset=wc.dataset),
        raw_dir=lambda wc: L.RAW_DIR.format(dataset=wc.dataset),
    log:
        "logs/acquire_provenance_table/{dataset}.log",
    benchmark:
        "benchmarks/acquire_provenance_table/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/acquire_provenance_table.py"


rule phase_acquire:
    input:
        phase_acquire_output(),
