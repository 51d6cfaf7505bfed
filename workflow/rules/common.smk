# Shared Python for the rules: config validation first, then manifests, then the sections each rule hands
# its script (params:), then input functions. Artifact paths come from lvg.layout (one spelling for all).
import copy
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir)))  # the lvg package of this checkout

# torch-free imports only (lvg.plan): every snakemake run, and each stage dvc repro runs, builds the DAG
from lvg import layout as L
from lvg import plan
from lvg.config import deep_merge, parse_resolution, resolution_dir, validate_config, validate_section
from lvg.data.manifest import load_dataset_manifest, resolve_local_path
from lvg.dvc_record import record_after_snakemake
from lvg.errors import InputError
from lvg.plan import RELEASED_STAGES, evaluation_resolution, resolve_detector

validate_config(config, "params.yaml (+ --configfile/--config overrides)", coerce_strings=True)

# each name checked (lvg.layout.NAMES) and each manifest's dataset: equal to its name, as lvg's CLI does
MANIFESTS = {ds: load_dataset_manifest(ds) for ds in config["datasets"]}
RESOLUTIONS = [resolution_dir(*parse_resolution(r)) for r in config["preprocess"]["resolutions"]]
PARTITIONS = [f"{k:04d}" for k in range(config["preprocess"]["partitions"])]
LR_TRAIN_RES = resolution_dir(*parse_resolution(config["train_lowres"]["resolution"]))
SR_TRAIN_RES = [
    resolution_dir(*parse_resolution(config["train_superres"][k])) for k in ("lr_resolution", "hr_resolution")
]
# GPU jobs hold resources gpu=1 (the profile allows one at a time) only where there is a GPU: on a CPU-only
# machine the single-threaded trainers run side by side, one per core.
GPU = 1 if shutil.which("nvidia-smi") else 0
BASELINES = [m for m, section in config["baselines"].items() if section["enabled"]]
# Table 2 variants of the LR model; a setting equal to the main model's is the main model itself. Each
# variant's train_lowres section (the ablation override applied) is validated here, before any job runs.
ABLATIONS = [f"seq{n}" for n in config["ablations"]["seq_length"] if n != config["train_lowres"]["seq_length"]] + [
    f"fp{a}-{b}" for a, b in config["ablations"]["footprint"] if [a, b] != config["train_lowres"]["footprint"]
]
ABLATION_SECTIONS = {
    v: validate_section(
        "train_lowres", deep_merge(config["train_lowres"], plan.ablation_override(v)), f"ablations ({v})"
    )
    for v in ABLATIONS
}
TABLE1_METHODS = ["ours", "ours_untrained", *BASELINES]
# Released LongVideoGAN models (config released): converted, audited, and one more Table 1 / Fig. 5 row
# ("released") on the datasets that name them.
RELEASED = config["released"]
for _ds, _entry in RELEASED.items():
    if _ds not in MANIFESTS:
        raise InputError("config", f"released.{_ds}: not one of the datasets {list(MANIFESTS)}")
    if _entry["resolution"] == "hr" and not _entry["superres"]:
        raise InputError("config", f"released.{_ds}.resolution: hr needs released.{_ds}.superres")
EVAL_RES = evaluation_resolution(config)
EVAL_RES_DIR = resolution_dir(*parse_resolution(EVAL_RES))
METRICS = ("fvd16", "fvd128", "color_similarity", "semantic_change")
# The colour curves of the real clips are as long as the sample sets (at most 129 frames).
COLOR_FRAMES = config["samples"]["num_frames"]


# the same name patterns as lvg's CLI (lvg.layout.NAMES): a wildcard never holds a slash, '..' or an option
wildcard_constraints:
    dataset=L.NAMES["dataset"],
    source=L.NAMES["source"],
    res=L.NAMES["res"],
    baseline="|".join(config["baselines"]) or "(?!)",
    variant=L.NAMES["variant"],
    stage=L.NAMES["stage"],
    method=f"(?!(?:real|real_lr|ours_lr)(?:/|\\.|$)){L.NAMES['method']}",




def all_synthetic(dataset):
    return all(s.kind == "synthetic" for s in MANIFESTS[dataset].sources.values())


# The detector's chain (world labels -> detector -> real statistics -> sanity ranking) runs first once the
# clips exist: every evaluation waits for it, and left to the default order it ran alone at the end of the
# run (one core idle for ~6 of 21 minutes on 2 cores).
DETECTOR_PRIORITY = 10
# Then every training, before sample sets and evaluations: left to the default order the last baseline
# started training when everything else was done, and its samples and evaluation ran alone at the end.
TRAIN_PRIORITY = 5

# The FVD detector of each dataset: config metrics.detector with "auto" resolved (world on synthetic data).
DETECTOR = {ds: resolve_detector(config["metrics"]["detector"], all_synthetic(ds)) for ds in MANIFESTS}
for _ds, _det in DETECTOR.items():
    if _det == "world" and not all_synthetic(_ds):
        raise ValueError(f"metrics.detector is 'world' but dataset {_ds!r} is not synthetic: the world detector "
                         "learns from the synthetic world's ground truth (use an I3D weights file or i3d-random)")


# ---------------------------------------------------------------------------------------------- sections
def section(name):
    """A rule's config section (a copy: the job fills in its own threads)."""
    return copy.deepcopy(config[name])


def train_threads(name):
    """A trainer's threads (0 = all cores): what the job reserves from Snakemake's --cores."""
    return config[name]["threads"] or workflow.cores


def baseline_threads(wildcards):
    return config["baselines"][wildcards.baseline]["threads"] or workflow.cores


def lowres_section(wildcards):
    """train_lowres, or a Table 2 variant of it (validated above)."""
    variant = getattr(wildcards, "variant", None)
    return copy.deepcopy(ABLATION_SECTIONS[variant] if variant else config["train_lowres"])


def init_from_input(name):
    """An input function: the generator a fine-tuning section starts from (init_from), so that the DAG
    converts a released model first (init_from: released) and retrains when the init changes."""

    def inputs(wildcards):
        init = config[name]["init_from"]
        stage = "lowres" if name == "train_lowres" else "superres"
        if not init:
            return []
        if init == "released":
            if wildcards.dataset not in RELEASED or not RELEASED[wildcards.dataset][stage]:
                raise InputError("config", f"{name}.init_from: released, but released.{wildcards.dataset}."
                                 f"{stage} names no pickle")
            return [model(L.MODEL_RELEASED, dataset=wildcards.dataset, stage=stage)]
        path = Path(init)
        return [str(path / L.WEIGHTS if path.is_dir() else path)]

    return inputs


def table1_methods(dataset):
    """Table 1's methods on one dataset: ours, the control, the baselines, and the released model if named."""
    return TABLE1_METHODS + (["released"] if dataset in RELEASED else [])


def released_resolution(dataset):
    """The frames of the released model's sample set: lr (LR model alone) or hr (LR + SR)."""
    return plan.released_resolution(RELEASED[dataset], config["samples"]["resolution"])


def released_pickle(wildcards):
    entry = RELEASED.get(wildcards.dataset) or {}
    if not entry.get(wildcards.stage):
        raise InputError("config", f"released.{wildcards.dataset}.{wildcards.stage}: no pickle configured")
    return entry[wildcards.stage]


def released_models():
    """Every converted released model (weights and JSON) the config asks for."""
    return [f"{L.MODEL_RELEASED.format(dataset=ds, stage=st)}/{name}" for ds, e in RELEASED.items()
            for st in RELEASED_STAGES if e[st] for name in (L.WEIGHTS, "G_ema.json")]


def released_sample_inputs(wildcards):
    ds = wildcards.dataset
    out = {"lowres": model(L.MODEL_RELEASED, dataset=ds, stage="lowres"), "audit": L.RELEASED_AUDIT}
    if released_resolution(ds) == "hr":
        out["superres"] = model(L.MODEL_RELEASED, dataset=ds, stage="superres")
    return out


def network_keys(name, keys):
    """Only the keys that decide a section's networks and their initialisation (the untrained control's
    samples do not depend on steps or learning rates)."""
    return {k: copy.deepcopy(config[name][k]) for k in keys}


def metrics_section(wildcards):
    """The metrics section with the dataset's detector resolved (world / i3d-random / a weights file)."""
    return copy.deepcopy(config["metrics"]) | {"detector": DETECTOR[wildcards.dataset]}


def world_detector(wildcards):
    """The world detector file, an input of the evaluation jobs of datasets that use it."""
    if DETECTOR[wildcards.dataset] != "world":
        return {}
    return {"world": f"{L.MODEL_WORLD.format(dataset=wildcards.dataset)}/{L.WORLD_DETECTOR}"}


def world_corpus(wildcards):
    """The rendered corpus the world detector also trains on, unless world_detector.corpus.shots is 0, and
    the rides its object network trains on, with world_detector.object_net.steps > 0 (without object_shots,
    the training job says what to set)."""
    out = {}
    if config["world_detector"]["corpus"]["shots"]:
        out["corpus"] = f"{L.WORLD_CORPUS.format(dataset=wildcards.dataset)}/world.csv"
    if config["world_detector"]["object_net"]["steps"] and config["world_detector"]["corpus"]["object_shots"]:
        out["objects"] = f"{L.WORLD_OBJECTS.format(dataset=wildcards.dataset)}/world.csv"
    return out


def world_detector_path(wildcards, input):
    return input.world if "world" in input.keys() else None


def baseline_section(wildcards):
    return copy.deepcopy(config["baselines"][wildcards.baseline])


def samples_from(method):
    """A baseline's external sample folder (config baselines.<method>.samples_from), or None."""
    return config["baselines"][method]["samples_from"]


# ---------------------------------------------------------------------------------------------- inputs
def sources(dataset):
    return list(MANIFESTS[dataset].sources)


def acquire_inputs(wildcards):
    """A local source's file is a real input (edit it, re-acquire); other kinds have none."""
    src = MANIFESTS[wildcards.dataset].sources[wildcards.source]
    return [str(resolve_local_path(src))] if src.kind == "local" else []


def acquire_params(wildcards):
    """Only what changes the downloaded bytes: editing keep-intervals must not re-download."""
    entry = MANIFESTS[wildcards.dataset].raw["sources"][wildcards.source]
    return {k: v for k, v in entry.items() if k in ("kind", "url", "youtube_id", "path", "sha256", "synthetic")}


def per_source(template):
    """An input function: ``template`` for every source of the job's dataset."""
    return lambda wc: expand(template, source=sources(wc.dataset), allow_missing=True)


def processed_index(res):
    """An input function: the processed index of the job's dataset at ``res`` (a HHHHxWWWW folder name)."""
    return lambda wc: L.PROCESSED_INDEX.format(dataset=wc.dataset, res=res)


def baseline_train_index(wildcards):
    res = resolution_dir(*parse_resolution(config["baselines"][wildcards.baseline]["resolution"]))
    return L.PROCESSED_INDEX.format(dataset=wildcards.dataset, res=res)


def model(kind, **wildcards):
    """The exported generator (G_ema.safetensors) of a model folder template."""
    return model_file(kind, L.WEIGHTS, **wildcards)


def model_file(kind, name, **wildcards):
    return f"{kind.format(**wildcards)}/{name}"


def ours_models(wildcards):
    """Our LR generator (a Table 2 variant's for samples_ablation) and, for HR sample sets, the SR network."""
    variant = getattr(wildcards, "variant", None)
    out = {"lowres": model(L.MODEL_ABLATION, dataset=wildcards.dataset, variant=variant) if variant
           else model(L.MODEL_LOWRES, dataset=wildcards.dataset)}
    if config["samples"]["resolution"] == "hr":
        out["superres"] = model(L.MODEL_SUPERRES, dataset=wildcards.dataset)
    return out


def baseline_samples_input(wildcards):
    """The trained generator, or nothing when the samples come from an external folder."""
    if samples_from(wildcards.baseline):
        return {}
    return {"model": model(L.MODEL_BASELINE, baseline=wildcards.baseline, dataset=wildcards.dataset)}


def long_video_inputs(wildcards):
    if wildcards.method == "ours":
        return {
            "lowres": model(L.MODEL_LOWRES, dataset=wildcards.dataset),
            "superres": model(L.MODEL_SUPERRES, dataset=wildcards.dataset),
        }
    if wildcards.method in BASELINES and not samples_from(wildcards.method):
        return {"model": model(L.MODEL_BASELINE, baseline=wildcards.method, dataset=wildcards.dataset)}
    raise ValueError(f"no long videos for method {wildcards.method!r}")


def records(dataset, method, extra=False):
    """The three metric records of one sample set (``extra``: under results/extra for the paper_figures)."""
    root = L.EXTRA_METRICS_ROOT if extra else L.METRICS_ROOT
    return [L.record(dataset, method, m, root) for m in METRICS]


def real_records(dataset):
    """The real side: colour curve and semantic change (evaluate_real), resampled FVD (evaluate_sanity)."""
    return [L.record(dataset, "real", m) for m in METRICS]


# With HR sample sets, the LR stage is measured on its own too (its colour curve at the LR size: is the LR model
# coherent before super-resolution?): ours_lr samples -> ours_lr / real_lr colour records.
LR_STAGE = config["samples"]["resolution"] == "hr"
LR_RES = config["train_lowres"]["resolution"]


def lr_stage_records(dataset):
    return [L.record(dataset, m, "color_similarity") for m in ("ours_lr", "real_lr")] if LR_STAGE else []


def sanity(dataset):
    return L.SANITY.format(metrics_root=L.METRICS_ROOT, dataset=dataset)


def table1_inputs(wildcards):
    recs = [r for ds in MANIFESTS for m in table1_methods(ds) for r in records(ds, m)]
    recs += [r for ds in MANIFESTS for r in lr_stage_records(ds)]
    return recs + [r for ds in MANIFESTS for r in real_records(ds)] + [sanity(ds) for ds in MANIFESTS]


def table2_inputs(wildcards):
    ours = [r for ds in MANIFESTS for r in records(ds, "ours")]
    return ours + [r for ds in MANIFESTS for v in ABLATIONS for r in records(ds, f"ours_{v}", extra=True)]


def fig6_inputs(wildcards):
    return [r for ds in MANIFESTS for r in records(ds, "ours") + records(ds, "ours_sr_real_lr", extra=True)]


def training_stats():
    """What each compared method's training cost, for Table 1: ``{"<dataset>/<method>": {stage: file}}``
    (the loop's train_stats.json beside every trained model; ours has two stages)."""
    out = {}
    for ds in MANIFESTS:
        out[f"{ds}/ours"] = {"LR": f"{L.MODEL_LOWRES.format(dataset=ds)}/train_stats.json",
                             "SR": f"{L.MODEL_SUPERRES.format(dataset=ds)}/train_stats.json"}
        for b in BASELINES:
            if not samples_from(b):
                out[f"{ds}/{b}"] = {"": f"{L.MODEL_BASELINE.format(baseline=b, dataset=ds)}/train_stats.json"}
    return out


def fig1_videos(wildcards):
    """Fig. 1's long-video sample sets, labelled by method (and dataset, when there are several)."""
    methods = ["ours", *[b for b in BASELINES if not samples_from(b)]]
    return {(m if len(MANIFESTS) == 1 else f"{ds}: {m}"): L.LONG_VIDEOS.format(dataset=ds, method=m)
            for ds in MANIFESTS for m in methods}


def fig1_inputs(wildcards):
    return [f"{folder}/index.json" for folder in fig1_videos(wildcards).values()]


# ---------------------------------------------------------------------------------------------- phase targets
def phase_acquire_output():
    out = [L.RAW_TABLE.format(dataset=ds) for ds in MANIFESTS]
    return out + [L.RAW_PROVENANCE.format(dataset=ds, source=s) for ds in MANIFESTS for s in sources(ds)]


def phase_scenes_output():
    out = [L.SCENES_JSON.format(dataset=ds, source=s) for ds in MANIFESTS for s in sources(ds)]
    return out + [L.SCENES_ACCURACY.format(dataset=ds) for ds in MANIFESTS if all_synthetic(ds)]


def phase_clips_output():
    return [L.CLIPS.format(dataset=ds) for ds in MANIFESTS]


def phase_preprocess_output():
    out = []
    for ds in MANIFESTS:
        out += [L.PROCESSED_INDEX.format(dataset=ds, res=res) for res in RESOLUTIONS]
        out.append(L.PROVENANCE.format(dataset=ds))
        if all_synthetic(ds):
            out.append(L.WORLD_STATES.format(dataset=ds))
    return out


def phase_train_world_output():
    return [model_file(L.MODEL_WORLD, L.WORLD_DETECTOR, dataset=ds) for ds in MANIFESTS if DETECTOR[ds] == "world"]


def phase_train_lowres_output():
    return [model(L.MODEL_LOWRES, dataset=ds) for ds in MANIFESTS]


def phase_train_superres_output():
    return [model(L.MODEL_SUPERRES, dataset=ds) for ds in MANIFESTS]


def phase_generate_output():
    """Every sample set Table 1 reads: ours (and its LR stage), the released models, the untrained control and
    the baselines."""
    methods = lambda ds: table1_methods(ds) + (["ours_lr"] if LR_STAGE else [])  # noqa: E731
    return [f"{L.samples(ds, m)}/index.json" for ds in MANIFESTS for m in methods(ds)]


def phase_import_released_output():
    """The converted released models and their audit (a header-only table when none are configured)."""
    return [L.RELEASED_AUDIT, *released_models()]


def phase_train_baselines_output():
    return [model(L.MODEL_BASELINE, baseline=m, dataset=ds) for ds in MANIFESTS for m in BASELINES
            if not samples_from(m)]


def phase_evaluate_output():
    out = [r for ds in MANIFESTS for r in real_records(ds) + lr_stage_records(ds)] + [sanity(ds) for ds in MANIFESTS]
    return out + [r for ds in MANIFESTS for m in table1_methods(ds) for r in records(ds, m)]


def stage_outputs_before_render():
    """What every DVC stage before render builds (dvc.yaml): Table 1 waits for all of it, so that after the
    default target each stage is complete and `dvc repro` has nothing left to do (lvg/dvc_record.py)."""
    phases = [phase_acquire_output, phase_scenes_output, phase_clips_output, phase_preprocess_output,
              phase_train_world_output, phase_train_lowres_output, phase_train_superres_output,
              phase_train_baselines_output, phase_import_released_output, phase_generate_output,
              phase_evaluate_output]
    return sorted({f for phase in phases for f in phase()})


def table_outputs(name):
    return [L.TABLE.format(table=name, ext=ext) for ext in ("csv", "md", "tex")]


def figure(name, ext):
    return L.FIGURE.format(name=name, ext=ext)


def phase_render_output():
    return table_outputs("table1") + [figure(name, ext) for name in ("fig5_color_similarity", "fig5b_semantic_change")
                                      for ext in ("png", "pdf")]


FIGURES = [figure(name, ext) for name in ("fig1_long_videos", "fig5_color_similarity", "fig6_superres")
           for ext in ("png", "pdf")]


def get_final_output():
    """The default target: Table 1 (which brings Fig. 5 with it: the paper's main comparison)."""
    return [L.TABLE.format(table="table1", ext="csv")]
