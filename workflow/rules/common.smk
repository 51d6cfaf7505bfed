# Shared Python for the rules: config validation first, then manifests, then input functions.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir)))  # the lvg package of this checkout

from lvg.config import parse_resolution, resolution_dir, validate_config
from lvg.data.manifest import load_manifest, resolve_local_path

validate_config(config, "params.yaml (+ --configfile/--config overrides)")

MANIFESTS = {ds: load_manifest(f"data/manifests/{ds}.yaml") for ds in config["datasets"]}
RESOLUTIONS = [resolution_dir(*parse_resolution(r)) for r in config["preprocess"]["resolutions"]]
PARTITIONS = [f"{k:04d}" for k in range(config["preprocess"]["partitions"])]
LR_TRAIN_RES = resolution_dir(*parse_resolution(config["train_lowres"]["resolution"]))
SR_TRAIN_RES = [
    resolution_dir(*parse_resolution(config["train_superres"][k])) for k in ("lr_resolution", "hr_resolution")
]


wildcard_constraints:
    dataset=r"[a-z0-9][a-z0-9_-]*",
    source=r"[A-Za-z0-9_-][A-Za-z0-9_.-]*",
    res=r"\d{4}x\d{4}",


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


def raw_videos(wildcards):
    return expand("data/raw/{{dataset}}/{source}.mp4", source=sources(wildcards.dataset))


def scene_jsons(wildcards):
    return expand("data/scenes/{{dataset}}/{source}.json", source=sources(wildcards.dataset))


def phase_acquire_output():
    return [
        f"data/raw/{ds}/{name}" for ds in MANIFESTS for name in ["provenance.csv"]
    ] + [f"data/raw/{ds}/{s}.provenance.json" for ds in MANIFESTS for s in sources(ds)]


def all_synthetic(dataset):
    return all(s.kind == "synthetic" for s in MANIFESTS[dataset].sources.values())


def phase_scenes_output():
    out = [f"data/scenes/{ds}/{s}.json" for ds in MANIFESTS for s in sources(ds)]
    return out + [f"data/scenes/{ds}/accuracy.csv" for ds in MANIFESTS if all_synthetic(ds)]


def phase_clips_output():
    return [f"data/clips/{ds}.csv" for ds in MANIFESTS]


def phase_preprocess_output():
    out = []
    for ds in MANIFESTS:
        out += [f"data/processed/{ds}/{res}/index.json" for res in RESOLUTIONS]
        out.append(f"data/processed/{ds}/provenance.csv")
    return out


def phase_train_lowres_output():
    return [f"results/models/lowres/{ds}/G_ema.safetensors" for ds in MANIFESTS]


def phase_train_superres_output():
    return [f"results/models/superres/{ds}/G_ema.safetensors" for ds in MANIFESTS]


def phase_generate_output():
    return [f"results/samples/{ds}/{m}/index.json" for ds in MANIFESTS for m in ("ours", "ours_sr_real_lr")]


def get_final_output():
    """The default target; grows with the pipeline (next: metrics, results/table1.csv, paper_figures)."""
    return (
        phase_scenes_output()
        + phase_preprocess_output()
        + phase_train_lowres_output()
        + phase_train_superres_output()
        + phase_generate_output()
    )
