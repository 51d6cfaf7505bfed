"""Shared test helpers: a tiny copy of the project that the real Snakemake and DVC run in."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore", ".dvcignore", "workflow",
        "profiles", "lvg", ".dvc/config", ".dvc/.gitignore"]

TINY_PARAMS = {
    "datasets": ["tiny"],
    "acquire": {},
    "scenes": {"detector": "content", "threshold": 27.0, "min_scene_len": 15},
    "clips": {"min_frames": 16},
    "preprocess": {"resolutions": ["16x16", "32x32"], "partitions": 2, "jpeg_quality": 95},
    "train_lowres": {"resolution": "16x16", "seq_length": 8, "batch": 2, "steps": 4, "r1_interval": 2,
                     "log_every": 2, "sample_every": 0, "checkpoint_every": 2, "sample_frames": 16},
    "train_superres": {"lr_resolution": "16x16", "hr_resolution": "32x32", "batch": 2, "steps": 4,
                       "r1_interval": 2, "log_every": 2, "sample_every": 0, "checkpoint_every": 2,
                       "sample_clips": 1},
    "samples": {"num_videos": 2, "num_frames": 16, "seed": 0, "resolution": "hr"},
    "baselines": {m: {"resolution": "16x16", "max_gap": 4, "batch": 2, "steps": 4, "r1_interval": 2,
                      "log_every": 2, "sample_every": 0, "checkpoint_every": 2}
                  for m in ["styleganv", "digan", "mocoganhd", "tats"]},
    "world_detector": {"resolution": "16x16", "steps": 4, "batch": 2, "holdout": 0.3, "eval_windows": 4,
                       "log_every": 2, "checkpoint_every": 2,
                       "corpus": {"shots": 6, "frames": 16, "render_height": 32, "object_shots": 6,
                                  "object_frames": 4},
                       "object_net": {"steps": 4, "batch": 4}},
    "metrics": {"fvd16_clips": 2, "fvd128_clips": 2, "seeds": [0, 1], "color_clips": 2},
    "ablations": {"seq_length": [4], "footprint": []},
    "released": {},  # a dvc.yaml params section: DVC reads it from params.yaml as written
    "compute": {"budget_s": None},  # likewise; no budget: the tiny sections run their steps
    "figures": {"long_video_frames": 40, "long_video_seeds": [0], "strip_times": [0, 13, 26, 39],
                "report_videos": 1},
}


def tiny_manifest(n_sources: int = 2, duration_s: float = 12.0, **spec_overrides) -> dict:
    """Synthetic sources small enough for tests, trimmed by the renderer's own ground truth."""
    from lvg.data.synthetic import SyntheticSpec, plan_video, suggest_keep_intervals

    sources = {}
    for i in range(n_sources):
        spec = SyntheticSpec(seed=100 + i, duration_s=duration_s, fps=30, height=72, width=128,
                             **(TINY_SPEC_EXTRA | spec_overrides))
        sources[f"clip{i}"] = {"kind": "synthetic", "synthetic": spec.to_dict(),
                               "keep": suggest_keep_intervals(plan_video(spec))}
    return {"dataset": "tiny", "licence": "CC0-1.0", "attribution": "tests", "sources": sources}


TINY_SPEC_EXTRA: dict = {"shot_min_s": 2.0, "shot_max_s": 3.5}


def make_project(dest: Path, manifest: dict | None = None, params: dict | None = None) -> Path:
    """Copy the workflow (not the data) into ``dest`` with the tiny config and manifest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            # __pycache__ is copied without the .pyc files: it holds numba's compiled kernels (conftest)
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("*.pyc"))
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    (dest / "data/manifests").mkdir(parents=True, exist_ok=True)
    (dest / "data/manifests/tiny.yaml").write_text(yaml.safe_dump(manifest or tiny_manifest(), sort_keys=False))
    (dest / "params.yaml").write_text(yaml.safe_dump(params or TINY_PARAMS, sort_keys=False))
    return dest


def copy_build(build: Path, dest: Path, git: bool = True) -> Path:
    """A private copy of conftest's ``tiny_build`` project (mtimes kept, so Snakemake finds it up to date); without
    ``git`` the copy is not a git repository, so Snakemake's DVC hook skips it (as on a project not in git)."""
    shutil.copytree(build, dest, symlinks=True)
    if not git:
        shutil.rmtree(dest / ".git")
    return dest


def build_report(build: Path) -> dict:
    """What the shared build's ``snakemake`` printed (``stdout``, ``stderr``) and how long it took (``seconds``)."""
    return json.loads((build.parent / "main.json").read_text())


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command with this interpreter's environment (its venv's bin first on PATH)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", LVG_IMPORT_AUDIT="1")  # jobs record their lvg imports
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def snakemake(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "snakemake", *args, "--cores", "2"], cwd, check=check)


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` keyed by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def section(cfg: dict, *keys: str) -> dict:
    """A copy of the (unvalidated) section ``cfg[k0][k1]...`` of a whole test config, as the phase entry
    points take it; ``{}`` where the config has none (the entry point then reports what is wrong)."""
    node = cfg
    for k in keys:
        node = node.get(k, {}) if isinstance(node, dict) else {}
    return copy.deepcopy(node)


def assert_same_run(a: Path, b: Path, step: int, networks: tuple[str, ...] = ("G", "D", "G_ema"),
                    columns: int | None = None) -> None:
    """Two run folders hold bit-identical checkpoints at ``step`` (every network and optimizer tensor, every
    rank's RNG / data / algorithm state), the same exported G_ema, and the same metrics.csv rows (its first
    ``columns`` columns: the losses, not the timings)."""
    import torch
    from safetensors.torch import load_file

    ca, cb = a / "checkpoints" / f"ckpt-{step:08d}", b / "checkpoints" / f"ckpt-{step:08d}"
    for name in (*networks, "optim"):
        ta, tb = load_file(str(ca / f"{name}.safetensors")), load_file(str(cb / f"{name}.safetensors"))
        assert ta.keys() == tb.keys(), name
        for k in ta:
            assert torch.equal(ta[k], tb[k]), (name, k)
    sa, sb = json.loads((ca / "state.json").read_text()), json.loads((cb / "state.json").read_text())
    assert sa["state"]["ranks"] == sb["state"]["ranks"]  # RNG states + data position + algorithm state
    if (a / "G_ema.safetensors").is_file():
        ea, eb = load_file(str(a / "G_ema.safetensors")), load_file(str(b / "G_ema.safetensors"))
        assert ea.keys() == eb.keys() and all(torch.equal(ea[k], eb[k]) for k in ea)
    rows_a, rows_b = ((r / "metrics.csv").read_text().splitlines() for r in (a, b))
    assert [r.split(",")[:columns] for r in rows_a] == [r.split(",")[:columns] for r in rows_b]
