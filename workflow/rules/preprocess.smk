# Phase 4, preprocess: centre-crop + Lanczos resize from the source, independently per resolution, into the
# reference's sharded zip format; then the per-clip provenance table (lvg audit, written as a file).


rule preprocess_frames:
    input:
        clips=L.CLIPS,
        videos=per_source(L.RAW_VIDEO),
    output:
        shards=expand(L.PROCESSED_SHARD, part=PARTITIONS, allow_missing=True),
        index=L.PROCESSED_INDEX,
    params:
        # only what changes this resolution's bytes (adding a resolution must not redo the others)
        partitions=config["preprocess"]["partitions"],
        jpeg_quality=config["preprocess"]["jpeg_quality"],
        resize=config["preprocess"]["resize"],
        raw_dir=lambda wc: L.RAW_DIR.format(dataset=wc.dataset),
        out_dir=lambda wc: L.PROCESSED_RES.format(dataset=wc.dataset, res=wc.res),
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
        manifest=L.MANIFEST,
        clips=L.CLIPS,
        provenance=per_source(L.RAW_PROVENANCE),
        indexes=expand(L.PROCESSED_INDEX, res=RESOLUTIONS, allow_missing=True),
    output:
        L.PROVENANCE,
    priority: DETECTOR_PRIORITY  # it gates evaluate_real
    log:
        "logs/preprocess_audit/{dataset}.log",
    benchmark:
        "benchmarks/preprocess_audit/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/preprocess_audit.py"


rule preprocess_world:
    # Synthetic datasets only: the world's state in every frame of every clip (the world detector's labels).
    input:
        clips=L.CLIPS,
        provenance=per_source(L.RAW_PROVENANCE),
    output:
        L.WORLD_STATES,
    params:
        raw_dir=lambda wc: L.RAW_DIR.format(dataset=wc.dataset),
    priority: DETECTOR_PRIORITY
    log:
        "logs/preprocess_world/{dataset}.log",
    benchmark:
        "benchmarks/preprocess_world/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/preprocess_world.py"


rule phase_preprocess:
    input:
        phase_preprocess_output(),
