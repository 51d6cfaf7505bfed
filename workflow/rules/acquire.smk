# Phase 1, acquire: every source video to data/raw/<dataset>/<id>.mp4 with a provenance record.
# The only DVC stage with persist: true (downloads are expensive; the yt-dlp archive makes them idempotent).


rule acquire_source:
    input:
        acquire_inputs,
    output:
        video="data/raw/{dataset}/{source}.mp4",
        provenance="data/raw/{dataset}/{source}.provenance.json",
    params:
        entry=acquire_params,
        cfg=config["acquire"],
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
        lambda wc: expand("data/raw/{{dataset}}/{source}.provenance.json", source=sources(wc.dataset)),
    output:
        "data/raw/{dataset}/provenance.csv",
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
