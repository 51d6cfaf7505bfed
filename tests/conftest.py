"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_project, snakemake


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
