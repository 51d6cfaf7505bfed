"""Equal compute (issue #12): ``compute.budget_s`` spread over the compared methods' sections, and the loop
stopping when a budget of training CPU-seconds is spent (lvg/config.py, lvg/train/loop.py).

Proven here: the budget goes 75/25 to ours' LR/SR stages and whole to each baseline, a section's own
budget wins, no budget changes nothing; a budgeted run stops by the budget (not by its step bound), records
what it spent in train_stats.json, does nothing more when rerun with the same budget and continues when the
budget grows; a two-stage baseline switches stage when its share of the budget is spent.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import TINY_PARAMS, section

from lvg.baselines.train import run_train_baseline
from lvg.config import validate_config
from lvg.train.lowres import run_train_lowres

pytestmark = pytest.mark.usefixtures("one_thread")


def test_budget_is_spread_over_every_compared_method() -> None:
    cfg = copy.deepcopy(TINY_PARAMS) | {"compute": {"budget_s": 100}}
    cfg["baselines"] = copy.deepcopy(cfg["baselines"])
    first = next(iter(cfg["baselines"]))
    cfg["baselines"][first]["budget_s"] = 7.0
    c = validate_config(cfg)
    assert c["train_lowres"]["budget_s"] == 75.0 and c["train_superres"]["budget_s"] == 25.0
    assert c["baselines"][first]["budget_s"] == 7.0  # set by hand: kept
    assert all(s["budget_s"] == 100.0 for m, s in c["baselines"].items() if m != first)
    assert validate_config(c) == c  # idempotent
    plain = validate_config(copy.deepcopy(TINY_PARAMS))
    assert plain["train_lowres"]["budget_s"] is None and plain["compute"]["budget_s"] is None


def _lowres(budget: float, steps: int = 10_000) -> dict:
    return section(TINY_PARAMS, "train_lowres") | dict(
        resolution="16x16", seq_length=16, batch=2, steps=steps, budget_s=budget, log_every=2, sample_every=0,
        checkpoint_every=0, keep_checkpoints=1)


@pytest.mark.slow
def test_loop_stops_when_the_budget_is_spent_and_continues_when_it_grows(tiny_dataset: Path,
                                                                         tmp_path: Path) -> None:
    run = tmp_path / "lr"
    run_train_lowres(_lowres(2.0), tiny_dataset, run)
    stats = json.loads((run / "train_stats.json").read_text())
    assert stats["stopped_by"] == "budget" and 0 < stats["steps"] < 10_000
    assert 2.0 <= stats["train_s"] < 2.0 + 3 * stats["train_s"] / stats["steps"] + 1.0  # at most a step over
    assert stats["clock"] == "process CPU time" and stats["budget_s"] == 2.0
    run_train_lowres(_lowres(2.0), tiny_dataset, run)  # same budget: spent, nothing more
    assert json.loads((run / "train_stats.json").read_text())["steps"] == stats["steps"]
    run_train_lowres(_lowres(4.0), tiny_dataset, run)  # a bigger budget continues the same run
    more = json.loads((run / "train_stats.json").read_text())
    assert more["steps"] > stats["steps"] and more["train_s"] >= 4.0 and more["stopped_by"] == "budget"
    capped = tmp_path / "capped"
    run_train_lowres(_lowres(1000.0, steps=3), tiny_dataset, capped)  # the step bound still holds
    assert json.loads((capped / "train_stats.json").read_text())["stopped_by"] == "steps"


@pytest.mark.slow
def test_two_stage_baseline_switches_stage_when_its_share_is_spent(tiny_dataset: Path, tmp_path: Path) -> None:
    tc = section(TINY_PARAMS, "baselines", "tats") | dict(
        resolution="16x16", batch=2, steps=10_000, budget_s=3.0, stage_split=0.5, log_every=1, sample_every=0,
        checkpoint_every=0, keep_checkpoints=1)
    out = run_train_baseline("tats", tc, tiny_dataset, tmp_path / "tats")
    stats = json.loads((tmp_path / "tats" / "train_stats.json").read_text())
    stage1 = json.loads(Path(out).with_suffix(".json").read_text())["stage1_steps"]
    assert stats["stopped_by"] == "budget" and 0 < stage1 < stats["steps"]
    rows = (tmp_path / "tats" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    gpt = [r.split(",")[header.index("loss_gpt")] for r in rows[1:]]
    assert all(v == "" for v in gpt[:stage1]) and all(v != "" for v in gpt[stage1:])  # GPT only in stage 2
