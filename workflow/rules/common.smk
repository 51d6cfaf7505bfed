# Shared Python for the rules: config validation first, then manifests, then input functions.
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir)))  # the lvg package of this checkout

from lvg.config import parse_resolution, resolution_dir, validate_config
from lvg.data.manifest import load_manifest, resolve_local_path
from lvg.evaluate import evaluation_resolution

validate_config(config, "params.yaml (+ --configfile/--config overrides)")

MANIFESTS = {ds: load_manifest(f"data/manifests/{ds}.yaml") for ds in config["datasets"]}
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
# Table 2 variants of the LR model; a setting equal to the main model's is the main model itself.
ABLATIONS = [f"seq{n}" for n in config["ablations"]["seq_length"] if n != config["train_lowres"]["seq_length"]] + [
    f"fp{a}-{b}" for a, b in config["ablations"]["footprint"] if [a, b] != config["train_lowres"]["footprint"]
]
TABLE1_METHODS = ["ours", "ours_untrained", *BASELINES]
EVAL_RES = evaluation_resolution(config)
EVAL_RES_DIR = resolution_dir(*parse_resolution(EVAL_RES))


def train_threads(section):
    """A trainer's threads (0 = all cores): what the job reserves from Snakemake's --cores."""
    return config[section]["threads"] or workflow.cores


def samples_from(method):
    """A baseline's external sample folder (config baselines.<method>.samples_from), or None."""
    return config["baselines"][method]["samples_from"]


wildcard_constraints:
    dataset=r"[a-z0-9][a-z0-9_-]*",
    source=r"[A-Za-z0-9_-][A-Za-z0-9_.-]*",
    res=r"\d{4}x\d{4}",
    baseline="|".join(config["baselines"]),
    variant=r"seq\d+|fp\d+-\d+",
    method=r"(?!real$)[a-z0-9][a-z0-9_-]*",


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
    """Every sample set Table 1 reads: ours, the untrained control and the baselines."""
    return [f"results/samples/{ds}/{m}/index.json" for ds in MANIFESTS for m in TABLE1_METHODS]


def phase_train_baselines_output():
    return [f"results/models/baselines/{m}/{ds}/G_ema.safetensors" for ds in MANIFESTS for m in BASELINES
            if not samples_from(m)]


def records(dataset, method, root="results"):
    """The three metric records of one sample set; ``root`` results/extra for the paper_figures extras."""
    return [f"{root}/metrics/{dataset}/{method}/{m}.json" for m in ("fvd16", "fvd128", "color_similarity")]


def phase_evaluate_output():
    out = [f"results/metrics/{ds}/real/color_similarity.json" for ds in MANIFESTS]
    return out + [r for ds in MANIFESTS for m in TABLE1_METHODS for r in records(ds, m)]


def phase_render_output():
    return ["results/table1.csv", "results/table1.md", "results/table1.tex"] + [
        f"paper_figures/fig5_color_similarity.{ext}" for ext in ("png", "pdf")
    ]


FIGURES = [
    f"paper_figures/{name}.{ext}"
    for name in ("fig1_long_videos", "fig5_color_similarity", "fig6_superres")
    for ext in ("png", "pdf")
]


def get_final_output():
    """The default target: Table 1 (which brings Fig. 5 with it: the paper's main comparison)."""
    return ["results/table1.csv"]
