"""Fine-tuning a converted released model (``train_lowres.init_from`` / ``train_superres.init_from``): the run
starts from exactly the converted weights with a freshly initialised D, trains, and resumes bit for bit like
any training run."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from helpers import assert_same_run, make_project, snakemake, tiny_manifest
from safetensors.torch import load_file
from test_reference_import import LRES, SRES

from lvg.errors import InputError
from lvg.models import load_generator
from lvg.reference import import_reference
from lvg.train import lowres as lr_train
from lvg.train import superres as sr_train

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

COMMON = dict(batch=2, steps=6, r1_interval=2, log_every=2, sample_every=0, checkpoint_every=3, keep_checkpoints=0,
              ema_beta=0.9, ema_rampup_steps=4)
SECTIONS = {"lowres": COMMON | dict(resolution="36x64", seq_length=16, steps=4, checkpoint_every=2),  # R1 at 0, 2
            "superres": COMMON | dict(lr_resolution="18x32", hr_resolution="72x128", sample_clips=0, batch=1,
                                      steps=2, checkpoint_every=1)}  # SR steps at 72x128 are slow: a short run
PICKLES = {"lowres": LRES, "superres": SRES}
COLUMNS = {"lowres": 7, "superres": 8}


@pytest.fixture(scope="module")
def dataset_16x9(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic dataset at the fixture models' sizes (18x32, 36x64, 72x128), built by the pipeline."""
    from helpers import TINY_PARAMS

    params = copy.deepcopy(TINY_PARAMS)
    params["preprocess"]["resolutions"] = ["18x32", "36x64", "72x128"]
    params["train_lowres"]["resolution"] = "36x64"
    params["train_superres"] |= {"lr_resolution": "18x32", "hr_resolution": "72x128"}
    project = make_project(tmp_path_factory.mktemp("finetune") / "proj", tiny_manifest(1, 8.0), params)
    snakemake(project, *(f"data/processed/tiny/{r}/index.json" for r in ("0018x0032", "0036x0064", "0072x0128")))
    return project / "data/processed/tiny"


def train(kind: str, out: Path, dataset: Path, init: Path, resume: bool = True, **overrides) -> Path:
    section = copy.deepcopy(SECTIONS[kind]) | {"init_from": str(init)} | overrides
    run = lr_train.run_train_lowres if kind == "lowres" else sr_train.run_train_superres
    return run(section, dataset, out, resume)


@pytest.mark.parametrize("kind", ["lowres", "superres"])
def test_finetuning_a_converted_model_starts_from_it_and_resumes_exactly(kind: str, dataset_16x9: Path,
                                                                         tmp_path: Path) -> None:
    converted = import_reference(PICKLES[kind], tmp_path / "converted").weights.parent
    start = train(kind, tmp_path / "start", dataset_16x9, converted, resume=False, steps=0)
    ours, released = load_file(str(start)), load_file(str(converted / "G_ema.safetensors"))
    assert ours.keys() == released.keys() and all(torch.equal(ours[k], released[k]) for k in ours)
    # D is freshly initialised from the seed, exactly as without init_from
    module = lr_train if kind == "lowres" else sr_train
    tc = (module.LowResTrainConfig if kind == "lowres" else module.SRTrainConfig).from_dict(
        module.validate_section(module.SECTION, copy.deepcopy(SECTIONS[kind])))
    torch.manual_seed(tc.seed)
    D = (module.LowResDiscriminator if kind == "lowres" else module.SRDiscriminator)(module.discriminator_config(tc))
    saved_D = load_file(str(tmp_path / "start/checkpoints/ckpt-00000000/D.safetensors"))
    assert all(torch.equal(saved_D[k], v) for k, v in D.state_dict().items())

    run_a, run_b, steps = tmp_path / "a", tmp_path / "b", SECTIONS[kind]["steps"]
    train(kind, run_a, dataset_16x9, converted, resume=False)
    train(kind, run_b, dataset_16x9, converted, steps=SECTIONS[kind]["checkpoint_every"])  # stop ...
    train(kind, run_b, dataset_16x9, converted)  # ... and resume
    assert_same_run(run_a, run_b, steps, columns=COLUMNS[kind])
    G = load_generator(run_a, kind)
    assert G.cfg.to_dict() | {"seq_length": 0} == load_generator(converted, kind).cfg.to_dict() | {"seq_length": 0}
    moved = load_file(str(run_a / "G_ema.safetensors"))
    assert any(not torch.equal(moved[k], released[k]) for k in released)  # it did train
    meta = json.loads((run_a / "G_ema.json").read_text())
    prov = json.loads((converted / "G_ema.json").read_text())["imported_from"]
    assert meta["init"]["model_id"] == prov["model_id"]
    assert meta["init"]["imported_from"]["source"]["sha256"] == prov["source"]["sha256"]  # the chain to the .pkl


def test_init_from_a_model_of_another_size_is_refused(dataset_16x9: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LVG_CACHE_DIR", str(tmp_path / "cache"))
    converted = import_reference(LRES, tmp_path / "converted").weights.parent
    with pytest.raises(InputError, match=r"converted: train_lowres.init_from: it makes 36x64 frames, "
                                         r"train_lowres.resolution is 18x32"):
        train("lowres", tmp_path / "run", dataset_16x9, converted, resume=False, resolution="18x32", steps=1)
    with pytest.raises(InputError, match="a low-resolution one is needed"):  # a .pkl is converted first
        train("lowres", tmp_path / "run2", dataset_16x9, SRES, resume=False, steps=1)
