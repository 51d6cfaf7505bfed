# Phase 4, preprocess: centre-crop + Lanczos resize from the source, independently per resolution, into the
# reference's sharded zip format; then the per-clip provenance table (lvg audit, written as a file).


rule preprocess_frames:
    input:
        clips="data/clips/{dataset}.csv",
        videos=raw_videos,
    output:
        shards=expand("data/processed/{{dataset}}/{{res}}/partition_{part}.zip", part=PARTITIONS),
        index="data/processed/{dataset}/{res}/index.json",
    params:
        partitions=config["preprocess"]["partitions"],
        jpeg_quality=config["preprocess"]["jpeg_quality"],
    log:
        "logs/preprocess_frames/{dataset}/{res}.log",
    benchmark:
        "benchmarks/preprocess_frames/{dataset}/{res}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/preprocess_frames.py"


rule preprocess_audit:
    input:
        manifest="data/manifests/{dataset}.yaml",
        clips="data/clips/{dataset}.csv",
        provenance=lambda wc: expand(
            "data/raw/{{dataset}}/{source}.provenance.json", source=sources(wc.dataset)
        ),
        indexes=expand("data/processed/{{dataset}}/{res}/index.json", res=RESOLUTIONS),
    output:
        "data/processed/{dataset}/provenance.csv",
    log:
        "logs/preprocess_audit/{dataset}.log",
    benchmark:
        "benchmarks/preprocess_audit/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/preprocess_audit.py"


rule phase_preprocess:
    input:
        phase_preprocess_output(),
