# Phase 5, train: the low-resolution GAN on the LR frames (GPU when there is one, CPU otherwise), and the
# super-resolution network on real LR/HR pairs. Each script gets its validated section (params.section) and
# its folders; the job's threads are filled in by the script (a schedule setting: never blocks a resume).
# Outputs are listed file by file (not directory()) so that a killed job's checkpoints survive: Snakemake
# deletes declared outputs before a rerun, and the trainer resumes from <model dir>/checkpoints.


rule train_lowres:
    input:
        index=processed_index(LR_TRAIN_RES),
        init=init_from_input("train_lowres"),
    output:
        model=f"{L.MODEL_LOWRES}/G_ema.safetensors",
        config=f"{L.MODEL_LOWRES}/G_ema.json",
        metrics=f"{L.MODEL_LOWRES}/metrics.csv",
        stats=f"{L.MODEL_LOWRES}/train_stats.json",
    params:
        section=lowres_section,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        out_dir=lambda wc: L.MODEL_LOWRES.format(dataset=wc.dataset),
    threads: train_threads("train_lowres")
    resources:
        gpu=GPU,
    priority: TRAIN_PRIORITY
    log:
        "logs/train_lowres/{dataset}.log",
    benchmark:
        "benchmarks/train_lowres/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_lowres.py"


rule phase_train_lowres:
    input:
        phase_train_lowres_output(),


use rule train_lowres as train_lowres_ablation with:
    # Table 2: the LR model trained with one setting changed (variant seq<L> or fp<min>-<max>).
    output:
        model=f"{L.MODEL_ABLATION}/G_ema.safetensors",
        config=f"{L.MODEL_ABLATION}/G_ema.json",
        metrics=f"{L.MODEL_ABLATION}/metrics.csv",
        stats=f"{L.MODEL_ABLATION}/train_stats.json",
    params:
        section=lowres_section,
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        out_dir=lambda wc: L.MODEL_ABLATION.format(dataset=wc.dataset, variant=wc.variant),
    log:
        "logs/train_lowres_ablation/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/train_lowres_ablation/{dataset}/{variant}.tsv"


rule train_superres:
    # The SR network trains on real LR/HR pairs only (spec model.md §8), independently of the LR GAN.
    input:
        lr_index=processed_index(SR_TRAIN_RES[0]),
        hr_index=processed_index(SR_TRAIN_RES[1]),
        init=init_from_input("train_superres"),
    output:
        model=f"{L.MODEL_SUPERRES}/G_ema.safetensors",
        config=f"{L.MODEL_SUPERRES}/G_ema.json",
        metrics=f"{L.MODEL_SUPERRES}/metrics.csv",
        stats=f"{L.MODEL_SUPERRES}/train_stats.json",
    params:
        section=lambda wc: section("train_superres"),
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        out_dir=lambda wc: L.MODEL_SUPERRES.format(dataset=wc.dataset),
    threads: train_threads("train_superres")
    resources:
        gpu=GPU,
    priority: TRAIN_PRIORITY
    log:
        "logs/train_superres/{dataset}.log",
    benchmark:
        "benchmarks/train_superres/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_superres.py"


rule phase_train_superres:
    input:
        phase_train_superres_output(),


rule render_world_corpus:
    # Extra short shots of the synthetic world (rides of 6), labelled frame by frame, for the world detector.
    output:
        states=f"{L.WORLD_CORPUS}/world.csv",
        frames=directory(f"{L.WORLD_CORPUS}/{resolution_dir(*parse_resolution(config['world_detector']['resolution']))}"),
    params:
        shots=config["world_detector"]["corpus"]["shots"],
        frames=config["world_detector"]["corpus"]["frames"],
        seed=config["world_detector"]["corpus"]["seed"],
        render_height=config["world_detector"]["corpus"]["render_height"],
        resolution=config["world_detector"]["resolution"],
        out_dir=lambda wc: L.WORLD_CORPUS.format(dataset=wc.dataset),
    priority: DETECTOR_PRIORITY
    log:
        "logs/render_world_corpus/{dataset}.log",
    benchmark:
        "benchmarks/render_world_corpus/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_world_corpus.py"


rule render_world_objects:
    # Many short rides (object_shots shots of object_frames frames) for the world detector's object network;
    # their seeds (corpus.seed + 1) are none of the corpus's, so its held-out renders stay unseen.
    output:
        states=f"{L.WORLD_OBJECTS}/world.csv",
        frames=directory(f"{L.WORLD_OBJECTS}/{resolution_dir(*parse_resolution(config['world_detector']['resolution']))}"),
    params:
        shots=config["world_detector"]["corpus"]["object_shots"],
        frames=config["world_detector"]["corpus"]["object_frames"],
        seed=config["world_detector"]["corpus"]["seed"] + 1,
        render_height=config["world_detector"]["corpus"]["render_height"],
        resolution=config["world_detector"]["resolution"],
        out_dir=lambda wc: L.WORLD_OBJECTS.format(dataset=wc.dataset),
    priority: DETECTOR_PRIORITY
    log:
        "logs/render_world_objects/{dataset}.log",
    benchmark:
        "benchmarks/render_world_objects/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/render_world_corpus.py"


rule train_world_detector:
    # The world-state detector of a synthetic dataset (the FVD features of metrics.detector: world).
    input:
        unpack(world_corpus),
        index=lambda wc: L.PROCESSED_INDEX.format(
            dataset=wc.dataset, res=resolution_dir(*parse_resolution(config["world_detector"]["resolution"]))
        ),
        states=L.WORLD_STATES,
    output:
        model=f"{L.MODEL_WORLD}/{L.WORLD_DETECTOR}",
        config=f"{L.MODEL_WORLD}/detector.json",
        metrics=f"{L.MODEL_WORLD}/metrics.csv",
    params:
        section=lambda wc: section("world_detector"),
        dataset_dir=lambda wc: L.PROCESSED_DIR.format(dataset=wc.dataset),
        out_dir=lambda wc: L.MODEL_WORLD.format(dataset=wc.dataset),
    threads: train_threads("world_detector")
    priority: DETECTOR_PRIORITY
    log:
        "logs/train_world_detector/{dataset}.log",
    benchmark:
        "benchmarks/train_world_detector/{dataset}.tsv"
    conda:
        "../envs/lvg.yaml"
    script:
        "../scripts/train_world_detector.py"


rule phase_train_world:
    input:
        phase_train_world_output(),
