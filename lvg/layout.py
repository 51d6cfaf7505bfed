"""Where every artifact lives: the one module that spells ``data/...``, ``results/...`` and ``paper_figures/``.

Each location is a template in Snakemake's pattern syntax (wildcards in braces: ``dataset``, ``source``,
``res`` = ``HHHHxWWWW``, ``part``, ``method``, ``baseline``, ``variant``, ``metric``, ``stage``). Rules use
the templates as their ``input:``/``output:`` patterns; Python fills them with :func:`path`, optionally under
a ``root`` (a checkout, a test project). The contracts between phases (DESIGN.md) are these paths and nothing else.

``results/extra/`` holds what only the ``paper_figures`` target builds (Table 2 models, long videos, the
SR-on-real-LR control, report videos): building the extras never changes a Table 1 artifact.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from lvg.errors import LvgError

# ---------------------------------------------------------------------------------------------- names
# Every name that becomes a path component, and what it may be: the CLI checks its arguments with
# check_name and the DAG uses the same patterns as wildcard constraints (workflow/rules/common.smk), so
# "../x", "/abs", "a/b", ".hidden" or "-option" can never leave the project tree or pose as an option.
NAMES = {
    "dataset": r"[a-z0-9][a-z0-9_-]*",
    "source": r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}",  # YouTube ids may start with '-' or '_'
    "method": r"[a-z0-9][a-z0-9_-]*",
    "baseline": r"[a-z0-9][a-z0-9_-]*",
    "variant": r"seq\d+|fp\d+-\d+",
    "stage": "lowres|superres",
    "res": r"\d{4}x\d{4}",
}


def name_problem(kind: str, value: str) -> str | None:
    """Why ``value`` is not a valid ``kind`` name (see :data:`NAMES`), or None."""
    if not isinstance(value, str) or not re.fullmatch(NAMES[kind], value) or ".." in value:
        return (f"{kind} name {value!r} is not allowed: it becomes a file name, so it must match "
                f"{NAMES[kind]} (no '/', '..' or leading '.')")
    return None


def name_arg(kind: str) -> Callable[[str], str]:
    """An argparse ``type`` accepting only valid ``kind`` names: checked before any file is read or written."""

    def check(value: str) -> str:
        if problem := name_problem(kind, value):
            raise argparse.ArgumentTypeError(problem)
        return value

    check.__name__ = kind  # argparse names the type in its message
    return check


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid ``kind`` name, else LvgError saying what a name may be."""
    if problem := name_problem(kind, value):
        raise LvgError(problem)
    return value

# ---------------------------------------------------------------------------------------------- data
MANIFEST = "data/manifests/{dataset}.yaml"
RAW_DIR = "data/raw/{dataset}"
RAW_VIDEO = RAW_DIR + "/{source}.mp4"
RAW_PROVENANCE = RAW_DIR + "/{source}.provenance.json"
RAW_TABLE = RAW_DIR + "/provenance.csv"
SCENES_DIR = "data/scenes/{dataset}"
SCENES_JSON = SCENES_DIR + "/{source}.json"
SCENES_CSV = SCENES_DIR + "/{source}.scenes.csv"
SCENES_STATS = SCENES_DIR + "/{source}.stats.csv"
SCENES_ACCURACY = SCENES_DIR + "/accuracy.csv"
CLIPS = "data/clips/{dataset}.csv"
CLIPS_DROPPED = "data/clips/{dataset}.dropped.csv"
PROCESSED_DIR = "data/processed/{dataset}"  # the dataset folder the readers take (holds one folder per res)
PROCESSED_RES = PROCESSED_DIR + "/{res}"
PROCESSED_INDEX = PROCESSED_RES + "/index.json"
PROCESSED_SHARD = PROCESSED_RES + "/partition_{part}.zip"
PROVENANCE = PROCESSED_DIR + "/provenance.csv"
WORLD_STATES = PROCESSED_DIR + "/world.csv"  # the synthetic world's state in every clip frame (lvg.data.world)

# ---------------------------------------------------------------------------------------------- models
WEIGHTS = "G_ema.safetensors"  # a run folder's exported generator (+ G_ema.json), lvg.models
MODEL_LOWRES = "results/models/lowres/{dataset}"
MODEL_SUPERRES = "results/models/superres/{dataset}"
MODEL_BASELINE = "results/models/baselines/{baseline}/{dataset}"
MODEL_ABLATION = "results/extra/models/lowres_ablation/{dataset}/{variant}"
MODEL_WORLD = "results/models/world/{dataset}"  # the world detector of a synthetic dataset (lvg.metrics.world)
WORLD_DETECTOR = "detector.safetensors"  # ... its weights (+ detector.json)
WORLD_CORPUS = MODEL_WORLD + "/corpus"  # ... extra renders it trains on (lvg.data.world_corpus): shards + world.csv
WORLD_OBJECTS = WORLD_CORPUS + "/objects"  # ... and short rides for its object network (corpus.object_shots)
# released reference generators converted by lvg.reference (stage: lowres | superres), and their audit
MODEL_RELEASED = "results/models/released/{dataset}/{stage}"
RELEASED_AUDIT = "results/models/released/provenance.csv"

# ---------------------------------------------------------------------------------------------- samples, metrics
SAMPLES_ROOT, EXTRA_SAMPLES_ROOT = "results/samples", "results/extra/samples"
METRICS_ROOT, EXTRA_METRICS_ROOT = "results/metrics", "results/extra/metrics"
SAMPLES = "{samples_root}/{dataset}/{method}"  # index.json + videos (lvg.sample_sets)
RECORD = "{metrics_root}/{dataset}/{method}/{metric}.json"  # one metric record (lvg.report.records)
METRICS_CACHE = "{metrics_root}/cache/{dataset}"  # real FVD statistics (lvg.metrics.fvd)
SANITY = "{metrics_root}/{dataset}/sanity.json"  # the detector's sanity ranking (lvg.metrics.sanity)
LONG_VIDEOS = "results/extra/long_videos/{dataset}/{method}"
REPORT_VIDEOS = "results/extra/report_videos/{dataset}/{method}"

# ---------------------------------------------------------------------------------------------- tables, figures
TABLE = "results/{table}.{ext}"  # table1 / table2 as csv, md, tex
FIGURE = "paper_figures/{name}.{ext}"  # png, pdf


def path(template: str, root: str | Path | None = None, **wildcards: object) -> Path:
    """``template`` with its wildcards filled (``SAMPLES`` needs ``samples_root`` too), under ``root``."""
    p = Path(template.format(**wildcards))
    return Path(root) / p if root is not None else p


def samples(dataset: str, method: str, extra: bool = False) -> str:
    """A sample set's folder (``results/samples/...``, or ``results/extra/samples/...`` for the extras)."""
    return SAMPLES.format(samples_root=EXTRA_SAMPLES_ROOT if extra else SAMPLES_ROOT, dataset=dataset,
                          method=method)


def record(dataset: str, method: str, metric: str, metrics_root: str | Path = METRICS_ROOT) -> str:
    """A metric record (``metric`` = ``fvd16``, ``fvd128``, ``color_similarity``, ``fvd_stats``)."""
    return RECORD.format(metrics_root=metrics_root, dataset=dataset, method=method, metric=metric)


def metrics_cache(dataset: str, metrics_root: str | Path = METRICS_ROOT) -> str:
    return METRICS_CACHE.format(metrics_root=metrics_root, dataset=dataset)
