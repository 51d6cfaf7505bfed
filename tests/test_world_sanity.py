"""The world detector's FVD means something: trained by the real pipeline on a small synthetic dataset, it ranks
another sample of real clips best and shuffled, frozen, blurred and colour-blob clips clearly worse, at 16 and
at 128 frames, against Table 1's real statistics and on the clips it never trained on (the sanity ranking of
lvg.metrics.sanity, as the default run records it for Table 1).

One module-scoped project: three 20-second synthetic rides with 5-8 s shots (so that 128-frame clips exist),
preprocessed at 32x32, the detector trained for 300 steps (well under a minute on one core), then
``run_real`` + ``run_sanity`` with 64 / 16 clips and two seeds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import TINY_PARAMS, make_project, snakemake, tiny_manifest

from lvg.evaluate import run_real, run_sanity
from lvg.metrics.sanity import DEGRADATIONS
from lvg.train.world import run_train_world

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

METRICS = {"detector": "world", "fvd16_clips": 64, "fvd128_clips": 16, "seeds": [0, 1], "color_clips": 4,
           "semantic_min_frames": 150}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    params = copy.deepcopy(TINY_PARAMS) | {"preprocess": {"resolutions": ["32x32"], "partitions": 2,
                                                          "jpeg_quality": 95}}
    manifest = tiny_manifest(n_sources=3, duration_s=20.0, shot_min_s=5.0, shot_max_s=8.0)
    project = make_project(tmp_path_factory.mktemp("sanity") / "proj", manifest, params)
    snakemake(project, "data/processed/tiny/0032x0032/index.json", "data/processed/tiny/world.csv")
    dataset = project / "data/processed/tiny"
    detector = run_train_world({"resolution": "32x32", "steps": 300, "batch": 8, "holdout": 0.34,
                                "eval_windows": 64, "checkpoint_every": 0, "log_every": 50},
                               dataset, dataset / "world.csv", project / "results/models/world/tiny")
    return project, dataset, detector


def test_world_detector_passes_the_sanity_ranking(trained) -> None:
    project, dataset, detector = trained
    metrics_dir = project / "results/metrics"
    run_real("tiny", dataset, "32x32", metrics_dir, METRICS, 150, world_detector=detector)
    doc = run_sanity("tiny", dataset, "32x32", metrics_dir, METRICS, 0.34, world_detector=detector)
    print("\n".join(doc["summary"]))
    assert set(doc["rankings"]) == {f"{p}/fvd{n}" for p in ("table1", "heldout") for n in (16, 128)}
    for key, ranking in doc["rankings"].items():
        assert ranking["real_best"], (key, ranking)
        assert set(ranking["degradations"]) == set(DEGRADATIONS)
        for kind, r in ranking["degradations"].items():
            assert r["clearly_worse"], (key, kind, r, ranking["real"])
    assert doc["passed"] and doc["detector"]["name"] == "world"
    # the resampled real clips' FVD is Table 1's real row, labelled as such, per seed
    rec = json.loads((metrics_dir / "tiny/real/fvd16.json").read_text())
    assert rec["status"] == "computed" and rec["model"]["kind"] == "resample" and rec["num_runs"] == 2
    assert rec["mean"] == pytest.approx(doc["rankings"]["table1/fvd16"]["real"]["mean"])
    heldout = json.loads(detector.with_suffix(".json").read_text())["heldout"]
    print({k: round(v["value"], 3) for k, v in heldout.items()})
    # the held-out heads: direction is near-constant on 3 sources' held-out clips, so not asserted; the
    # horizon (R²) is read from the frames of any clip. Its value after 300 steps depends on the CPU's float
    # kernels (0.48 here, above 0.5 on another machine), so the bar is "clearly learnt", not a fixed score.
    assert heldout["horizon"]["value"] > max(0.3, heldout["horizon"]["chance"] + 0.5)
    # the "real" head tells held-out windows from their made-up negatives (flat, scrambled, recoloured)
    assert heldout["real"]["value"] > 0.8 and heldout["real"]["negatives_called_negative"] > 0.7
