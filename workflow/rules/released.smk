# Released LongVideoGAN models (config released): the reference's published G_ema pickles, converted by
# lvg.reference without executing anything from them, audited, and sampled like every other method (Table 1
# and Fig. 5 row "released"). The audit table always exists (header only when nothing is configured): Table 1
# names the released files from it, and the samples of a released model wait for it to pass.


rule import_released:
    input:
        pkl=released_pickle,
    output:
        model=f"{L.MODEL_RELEASED}/G_ema.safetensors",
        config=f"{L.MODEL_RELEASED}/G_ema.json",
    params:
        out_dir=lambda wc: L.MODEL_RELEASED.format(dataset=wc.dataset, stage=wc.stage),
    log:
        "logs/import_released/{dataset}/{stage}.log",
    benchmark:
        "benchmarks/import_released/{dataset}/{stage}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/import_released.py"


rule audit_released:
    # Every configured pickle re-hashed against the sha256 recorded at conversion, every converted model
    # against its recorded model id (lvg.data.audit.audit_released; `lvg audit` runs the same check).
    input:
        models=released_models(),
        pickles=[e[st] for e in RELEASED.values() for st in RELEASED_STAGES if e[st]],
    output:
        L.RELEASED_AUDIT,
    params:
        released={ds: {st: e[st] for st in RELEASED_STAGES} for ds, e in RELEASED.items()},
    log:
        "logs/audit_released.log",
    benchmark:
        "benchmarks/audit_released.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/audit_released.py"


rule samples_released:
    input:
        unpack(released_sample_inputs),
    output:
        f"{L.SAMPLES_ROOT}/{{dataset}}/released/index.json",
    params:
        samples=lambda wc: config["samples"] | {"resolution": released_resolution(wc.dataset)},
        out_dir=lambda wc: L.samples(wc.dataset, "released"),
    threads: config["samples"]["threads"]
    log:
        "logs/samples_released/{dataset}.log",
    benchmark:
        "benchmarks/samples_released/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/samples_ours.py"


rule phase_import_released:
    input:
        phase_import_released_output(),
