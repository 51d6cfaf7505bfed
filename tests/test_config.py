"""The one config: params.yaml validates, defaults fill in, bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lvg.config import load_config, parse_resolution, resolution_dir, validate_config
from lvg.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_params_yaml_is_valid() -> None:
    config = load_config(REPO / "params.yaml")
    assert config["datasets"] == ["synthetic"]
    assert config["preprocess"]["resolutions"] == ["32x32", "64x64"]
    # equal compute (issue 12): the budget is split 75/25 between the two stages, each baseline gets all of it
    budget = config["compute"]["budget_s"]
    assert config["train_lowres"]["budget_s"] == pytest.approx(0.75 * budget)
    assert config["train_superres"]["budget_s"] == pytest.approx(0.25 * budget)
    assert all(section["budget_s"] == budget for section in config["baselines"].values())


def test_paper_preset_layers_over_params_and_keeps_the_protocol_counts() -> None:
    from lvg.baselines import baseline
    from lvg.baselines.common import BaselineTrainConfig
    from lvg.evaluate import MetricsConfig, evaluation_resolution

    config = load_config(REPO / "params.yaml", REPO / "config/paper.yaml")
    mc = MetricsConfig.from_section(config["metrics"])
    assert (mc.fvd16_clips, mc.fvd128_clips, len(mc.seeds), mc.color_clips) == (2048, 2048, 3, 1000)
    assert config["samples"]["num_videos"] == 2048 and evaluation_resolution(config) == "256x256"
    for method, section in config["baselines"].items():
        tc = BaselineTrainConfig.from_dict(section, method)
        assert tc.preset == "paper" and tc.resolution == "256x256"
        if method not in ("styleganv", "digan"):  # their own config classes accept the paper preset
            cfg_cls = baseline(method).CONFIG
            h, w = parse_resolution(tc.resolution)
            assert cfg_cls.preset("paper", height=h, width=w).to_dict()


def test_defaults_are_filled() -> None:
    config = validate_config({"datasets": ["x"], "acquire": {}, "scenes": {}, "clips": {}, "preprocess": {}})
    assert config["scenes"]["threshold"] == 27.0 and config["preprocess"]["partitions"] == 10


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"scenes": {"thresh": 3}}, "scenes.thresh: unknown key"),
        ({"clips": {"min_frames": 0}}, "clips.min_frames"),
        ({"preprocess": {"resolutions": ["64by64"]}}, "preprocess.resolutions.0"),
        ({"scenes": {"detector": "magic"}}, "scenes.detector"),
        ({"typo_section": {}}, "typo_section: unknown key"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, patch: dict, needle: str) -> None:
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump(patch))
    with pytest.raises(InputError) as info:
        load_config(REPO / "params.yaml", override)
    assert needle in str(info.value) and "override.yaml" in str(info.value)


def test_override_merges_key_by_key(tmp_path: Path) -> None:
    override = tmp_path / "o.yaml"
    override.write_text("scenes: {threshold: 40}\n")
    config = load_config(REPO / "params.yaml", override)
    assert config["scenes"]["threshold"] == 40 and config["scenes"]["detector"] == "content"


def test_resolution_helpers() -> None:
    assert parse_resolution("36x64") == (36, 64)
    assert resolution_dir(36, 64) == "0036x0064"
