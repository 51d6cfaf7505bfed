"""The lvg command line: every phase has a sub-command with help; input errors exit 2 with one clear line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import run

from lvg.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", ["config", "manifest", "acquire", "scenes", "clips", "preprocess", "audit", "generate", "train"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert "usage: lvg " + command in capsys.readouterr().out


@pytest.mark.slow
def test_manifest_check_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: x\nlicence: y\nsources: {v: {kind: url, url: 'http://a/b', keep: ['1:00 0:10']}}\n")
    proc = run([sys.executable, "-m", "lvg.cli", "manifest", "check", str(bad)], tmp_path, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}, entry 'v': interval '1:00 0:10' ends before it starts" in proc.stderr


def test_config_prints_the_resolved_config(capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "--configfile", str(REPO / "params.yaml")]) == 0
    out = capsys.readouterr().out
    assert "datasets:" in out and "min_scene_len: 15" in out
