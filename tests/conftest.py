"""Fixtures shared by several test modules."""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from pathlib import Path

import pytest
import torch
from helpers import make_project, run, snakemake


@pytest.fixture(scope="session", autouse=True)
def compiled_resample() -> None:
    """Compile preprocessing's Lanczos (numba) into the checkout's __pycache__ once: the test projects copy
    it (helpers.make_project), so their preprocess jobs load it (~0.5 s) instead of compiling (~2.6 s)."""
    import numpy as np

    from lvg.data.resample import lanczos_resize

    lanczos_resize(np.zeros((9, 9, 3), np.uint8), 4, 5)


@pytest.fixture(scope="module")
def one_thread():
    """Single-threaded torch: bit-exact comparisons and no OpenMP stalls on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic dataset at 16x16 and 32x32, built once by the real pipeline (~10 s)."""
    project = make_project(tmp_path_factory.mktemp("tiny") / "proj")
    snakemake(project, "data/processed/tiny/0016x0016/index.json", "data/processed/tiny/0032x0032/index.json")
    return project / "data/processed/tiny"


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The tiny project in git, built by the main job (Snakemake), once per pytest run for all xdist workers:
    test_workflow.py and test_dvc_repro.py each copy it (helpers.copy_build) instead of building their own
    (75-110 s each). ``main.json`` beside it keeps what that run printed (its DVC hook's report) and took."""
    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "tiny-build"  # the run's folder, across workers
    root.mkdir(exist_ok=True)
    project = root / "proj"
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker builds; another waits for it
        if not (root / "main.json").exists():
            shutil.rmtree(project, ignore_errors=True)
            make_project(project)
            run(["git", "init", "-q"], project)
            run(["git", "add", "-A"], project)
            run(["git", "commit", "-qm", "init"], project)
            t0 = time.monotonic()
            main = snakemake(project)
            (root / "main.json").write_text(json.dumps({"stdout": main.stdout, "stderr": main.stderr,
                                                         "seconds": time.monotonic() - t0}))
    return project

