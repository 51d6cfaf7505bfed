"""The real Snakemake and DVC on a tiny copy of the project, end to end.

One module-scoped project is built once by `snakemake --cores 2` (the default target, results/table1.csv)
and then checked: Table 1 has our model, the untrained control and the four baselines; a second run does
nothing; outputs load back; `lvg audit` passes and catches a flipped byte; the paper_figures target adds
Table 2, Figs. 1/5/6 and `snakemake --report` writes a self-contained HTML report; a baseline whose samples
come from a folder is evaluated without training. (`dvc repro` builds a second copy in test_dvc_repro.py, a
file of its own so that the two test workers share the load.)
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import copy_build, make_project, run, snakemake, tiny_manifest

from lvg.data.reader import PairedVideoDataset
from lvg.data.video import probe
from lvg.models import load_generator

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tiny_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's copy of the shared tiny build (conftest), outside git: its Snakemake runs record nothing."""
    return copy_build(tiny_build, tmp_path_factory.mktemp("snakemake") / "proj", git=False)


def test_snakemake_builds_the_processed_dataset(built: Path) -> None:
    for res in ["0016x0016", "0032x0032"]:
        index = json.loads((built / f"data/processed/tiny/{res}/index.json").read_text())
        assert len(index["partitions"]) == 2
    clips = pd.read_csv(built / "data/clips/tiny.csv")
    data = PairedVideoDataset(built / "data/processed/tiny", lr=(16, 16), hr=(32, 32), seq_length=8)
    assert sorted(data.clip_ids) == sorted(clips["clip_id"])
    G = load_generator(built / "results/models/lowres/tiny/G_ema.safetensors", "lowres")
    assert tuple(G(seeds=[0], num_frames=8).shape) == (1, 3, 8, 16, 16)
    metrics = pd.read_csv(built / "results/models/lowres/tiny/metrics.csv")
    assert metrics["step"].iloc[-1] == 4 and metrics.filter(like="loss").notna().all().all()
    for method in ["ours", "ours_untrained"]:  # the sample sets the metrics read: HR videos at 32x32
        index = json.loads((built / f"results/samples/tiny/{method}/index.json").read_text())
        first = built / f"results/samples/tiny/{method}" / index["videos"][0]["file"]
        info = probe(first, count=True)
        assert len(index["videos"]) == 2 and (info.num_frames, info.height, info.width) == (16, 32, 32)
    for name in ["acquire_source", "scenes_detect", "clips_table", "preprocess_frames", "preprocess_audit",
                 "train_lowres", "train_superres", "samples_ours", "samples_untrained", "train_baseline",
                 "samples_baseline", "evaluate_real", "evaluate"]:
        assert any((built / "logs" / name).rglob("*.log")), name
        assert any((built / "benchmarks" / name).rglob("*.tsv")), name


def test_table1_has_every_method_under_one_labelled_detector(built: Path) -> None:
    table = pd.read_csv(built / "results/table1.csv")
    assert list(table["method"]) == ["real", "ours", "ours_untrained", "styleganv", "digan", "mocoganhd", "tats"]
    # auto: the world detector the DAG trained on the tiny world
    assert (table["detector"] == "world").all() and not table["comparable_to_published"].any()
    assert table["fvd16_mean"].notna().all() and (table["fvd16_n"] == 2).all()
    # equal compute: every trained method records its training time and steps
    trained = table[~table["method"].isin(["real", "ours_untrained"])]
    assert trained["train_cpu_s"].notna().all() and trained["train_steps"].notna().all()
    assert table["s1"].notna().all() and table["frame_change"].notna().all()
    assert table["fvd128"].str.startswith("not computed").all()  # 16-frame tiny sample sets
    assert table["paper_fvd16"].isna().all()  # nothing typed in: never invented
    md = (built / "results/table1.md").read_text()
    assert "Detector: world" in md and "fig5_color_similarity.png" in md and "Sanity ranking" in md
    assert (built / "paper_figures/fig5_color_similarity.pdf").stat().st_size > 1000
    real = json.loads((built / "results/metrics/tiny/real/color_similarity.json").read_text())
    assert real["mean"][0] == 1.0 and real["num_clips"] == 2


def test_paper_figures_table2_and_html_report(built: Path) -> None:
    snakemake(built, "paper_figures")
    table2 = pd.read_csv(built / "results/table2.csv")
    assert list(table2["method"]) == ["ours", "ours_seq4"] and list(table2["setting"].fillna("")) == ["", "4 frames"]
    for name in ["fig1_long_videos", "fig5_color_similarity", "fig6_superres"]:
        for ext in ["png", "pdf"]:
            assert (built / f"paper_figures/{name}.{ext}").stat().st_size > 1000, (name, ext)
    sr_real = json.loads((built / "results/extra/metrics/tiny/ours_sr_real_lr/fvd16.json").read_text())
    assert sr_real["status"] == "computed" and sr_real["detector"]["name"] == "world"
    snakemake(built, "paper_figures", "--report", "report.html")
    html = (built / "report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "table1.csv" in html and "fig5_color_similarity.png" in html
    assert "fig1_long_videos.png" in html and ".mp4" in html


def test_baseline_samples_from_a_folder_skip_training(built: Path, tmp_path: Path) -> None:
    built = shutil.copytree(built, tmp_path / "proj", symlinks=True)  # copy2 keeps mtimes: still up to date
    folder = tmp_path / "tats_videos"
    folder.mkdir()
    for p in sorted((built / "results/samples/tiny/ours").glob("*.mp4")):
        shutil.copy(p, folder / p.name)
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"baselines": {"tats": {"samples_from": str(folder)}}}))
    target = "results/metrics/tiny/tats/fvd16.json"
    plan = snakemake(built, target, "-n", "--forcerun", "samples_baseline", "--configfile", str(override))
    assert "samples_baseline" in plan.stdout and "train_baseline" not in plan.stdout
    snakemake(built, target, "--forcerun", "samples_baseline", "--configfile", str(override))
    index = json.loads((built / "results/samples/tiny/tats/index.json").read_text())
    assert index["kind"] == "external" and index["source"] == str(folder.resolve())
    record = json.loads((built / target).read_text())
    assert record["status"] == "computed" and record["model"]["kind"] == "external"


def test_released_models_join_table1_and_their_audit_passes(built: Path, tmp_path: Path) -> None:
    """The fixture pickles stand in for released files: converted, audited, sampled and evaluated in the DAG
    as the "LongVideoGAN (released)" row (LR frames: the fixture SR network takes 18x32 input, not 36x64)."""
    import hashlib

    from test_reference_import import LRES, SRES

    built = shutil.copytree(built, tmp_path / "proj", symlinks=True)  # copy2 keeps mtimes: still up to date
    pickles = {"lowres": tmp_path / "lres.pkl", "superres": tmp_path / "sres.pkl"}
    shutil.copy(LRES, pickles["lowres"])
    shutil.copy(SRES, pickles["superres"])
    override = tmp_path / "released.yaml"
    override.write_text(yaml.safe_dump({"released": {"tiny": {**{k: str(p) for k, p in pickles.items()},
                                                             "resolution": "lr"}}}))
    snakemake(built, "results/table1.csv", "--configfile", str(override))
    table = pd.read_csv(built / "results/table1.csv")
    assert list(table["method"]) == ["real", "ours", "released", "ours_untrained", "styleganv", "digan", "mocoganhd",
                                     "tats"]
    row = table.set_index("method").loc["released"]
    assert row["method_name"] == "LongVideoGAN (released)" and row["fvd16_n"] == 2 and row["detector"] == "world"
    audit = pd.read_csv(built / "results/models/released/provenance.csv").set_index("stage")
    for stage, pkl in pickles.items():
        assert audit.loc[stage, "source_sha256"] == hashlib.sha256(pkl.read_bytes()).hexdigest()
        assert audit.loc[stage, "source_path"] == str(pkl) and audit.loc[stage, "dataset"] == "tiny"
    record = json.loads((built / "results/metrics/tiny/released/fvd16.json").read_text())
    assert record["model"]["models"]["lowres"] == audit.loc["lowres", "model_id"]  # samples <- audited model
    assert "36x64 frames centre-cropped to 36x36 (the target aspect) and resized to 32x32" in record["runs"][0]["resized"]
    md = (built / "results/table1.md").read_text()
    assert f"the published lres.pkl (sha256 {audit.loc['lowres', 'source_sha256'][:12]}…) + sres.pkl" in md
    colour = json.loads((built / "results/metrics/tiny/released/color_similarity.json").read_text())
    assert colour["mean"][0] == 1.0
    # `lvg audit` checks the same chain, and catches a released file that is no longer the converted one
    cli = [sys.executable, "-m", "lvg.cli", "audit", "--dataset", "tiny", "--configfile", "params.yaml", str(override)]
    assert "tiny: released models OK — lres.pkl, sres.pkl match" in run(cli, built).stdout
    blob = bytearray(pickles["lowres"].read_bytes())
    blob[len(blob) // 3] ^= 0xFF
    pickles["lowres"].write_bytes(bytes(blob))
    proc = run(cli, built, check=False)
    assert proc.returncode == 2 and f"{pickles['lowres']}: altered (released.tiny.lowres: the converted pickle " \
        "lres.pkl: sha256" in proc.stderr


def test_second_snakemake_run_does_nothing(built: Path) -> None:
    proc = snakemake(built, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_trim_removes_every_defect_and_cuts_split_clips(built: Path) -> None:
    clips = pd.read_csv(built / "data/clips/tiny.csv")
    for source, group in clips.groupby("source"):
        truth = json.loads((built / f"data/raw/tiny/{source}.truth.json").read_text())
        for d in truth["defects"]:
            for c in group.to_dict("records"):
                assert c["end_frame"] <= d["start_frame"] or c["start_frame"] >= d["end_frame"], (c, d)
        scenes = json.loads((built / f"data/scenes/tiny/{source}.json").read_text())
        for c in group.to_dict("records"):  # no detected cut inside a clip
            assert not any(c["start_frame"] < cut < c["end_frame"] for cut in scenes["cuts"])


def test_scene_detection_recovers_the_synthetic_cuts(built: Path) -> None:
    snakemake(built, "phase_scenes")  # the accuracy table (synthetic ground truth) is not a Table 1 input
    acc = pd.read_csv(built / "data/scenes/tiny/accuracy.csv").set_index(["source", "truth"])
    scene = acc.loc[("ALL", "scene_cuts")]
    assert scene["true_positives"] >= 1, "the tiny videos must contain scene cuts to test"
    assert scene["recall"] == 1.0 and scene["false_positives"] == 0
    assert acc.loc[("ALL", "cuts")]["precision"] == 1.0


def test_audit_passes_then_catches_a_flipped_byte(built: Path, tmp_path: Path) -> None:
    proc = run([sys.executable, "-m", "lvg.cli", "audit", "--dataset", "tiny", "-v"], built)
    assert "tiny: OK" in proc.stdout and "clip0" in proc.stdout
    copy = tmp_path / "proj"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns(".snakemake"))
    shard = copy / "data/processed/tiny/0032x0032/partition_0000.zip"
    blob = bytearray(shard.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    shard.write_bytes(bytes(blob))
    raw = copy / "data/raw/tiny/clip1.mp4"
    raw.unlink()
    proc = run([sys.executable, "-m", "lvg.cli", "audit", "--dataset", "tiny"], copy, check=False)
    assert proc.returncode == 2
    assert "0032x0032/partition_0000.zip: altered" in proc.stderr
    assert "clip1.mp4: missing" in proc.stderr


def test_bad_config_key_stops_snakemake_with_the_key_named(built: Path, tmp_path: Path) -> None:
    override = tmp_path / "bad.yaml"
    override.write_text(yaml.safe_dump({"scenes": {"treshold": 30}}))
    proc = snakemake(built, "-n", "--configfile", str(override), check=False)
    assert proc.returncode != 0
    assert "scenes.treshold: unknown key" in proc.stdout + proc.stderr


def test_documented_config_overrides_work(built: Path, tmp_path: Path) -> None:
    """The README's override forms: a nested --config value (typed by the schema) and a --configfile."""
    proc = snakemake(built, "-n", "--config", "clips={min_frames: 17}", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "clips_table" in proc.stdout  # the changed setting reruns the clips (params trigger)
    proc = snakemake(built, "-n", "--config", "clips={min_frames: 0}", check=False)
    assert proc.returncode != 0 and "clips.min_frames: 0 is less than the minimum of 1" in proc.stdout + proc.stderr
    override = tmp_path / "o.yaml"
    override.write_text(yaml.safe_dump({"ablations": {"seq_length": [2]}}))  # schema: seq_length >= 4
    proc = snakemake(built, "-n", "--configfile", str(override), check=False)
    assert proc.returncode != 0 and "train_lowres.seq_length: 2 is less than the minimum of 4" in (
        proc.stdout + proc.stderr)  # an ablation is validated as its own train_lowres section, before any job


# ------------------------------------------------------------------------------------------ DVC stage deps
def _rules_of_outputs(project: Path) -> dict[str, str]:
    """Every output file of the whole DAG (main target and the extras) -> the rule that makes it."""
    proc = snakemake(project, "-n", "--forceall", "--detailed-summary", "results/table1.csv", "paper_figures")
    text = proc.stdout[proc.stdout.index("output_file\t"):]
    return {r["output_file"]: r["rule"] for r in csv.DictReader(io.StringIO(text), delimiter="\t") if r.get("rule")}


def _rule_files(project: Path) -> dict[str, tuple[str, str | None]]:
    """rule -> (its .smk file, its script) from workflow/rules/*.smk (``use rule A as B`` inherits A's)."""
    found: dict[str, list] = {}
    for smk in sorted((project / "workflow/rules").glob("*.smk")):
        text = smk.read_text()
        heads = list(re.finditer(r"^(?:rule (\w+)|use rule (\w+) as (\w+) with):", text, re.M))
        for i, m in enumerate(heads):
            body = text[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)]
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', body)
            found[m.group(1) or m.group(3)] = [f"workflow/rules/{smk.name}", m.group(2),
                                               f"workflow/scripts/{script.group(1)}" if script else None]
    return {r: (smk, script or (found[parent][2] if parent else None)) for r, (smk, parent, script) in found.items()}


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_dvc_stage_deps_cover_every_module_their_jobs_ran(built: Path) -> None:
    """Each DVC stage's deps cover the .smk files, scripts and lvg modules its jobs actually ran (every job of
    the tiny DAG records its imports, LVG_IMPORT_AUDIT): an edit anywhere they ran invalidates the stage."""
    snakemake(built, "paper_figures")  # the extras' jobs too (a no-op when built already)
    outputs, files = _rules_of_outputs(built), _rule_files(built)
    for stage_file in ("dvc.yaml", "extras/dvc.yaml"):
        for name, stage in yaml.safe_load((REPO / stage_file).read_text())["stages"].items():
            outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"]]
            deps = [str(d) for d in stage["deps"]]
            rules = {rule for out, rule in outputs.items() if _covered(out, outs)}
            assert rules, f"{stage_file}:{name}: no rule writes {outs}"
            needed: set[str] = set()
            for rule in rules:
                smk, script = files[rule]
                audits = [*(built / "logs" / rule).rglob("*.imports.json"),
                          *(built / "logs").glob(f"{rule}.log.imports.json")]
                assert script and audits, f"{rule}: no script, or its jobs recorded no imports"
                needed |= {smk, script} | {f for a in audits for f in json.loads(a.read_text())}
            if "lvg/schema.py" in needed:  # it reads the schemas at run time
                needed.add("workflow/schemas")
            missing = sorted(n for n in needed if not _covered(n, deps))
            assert not missing, f"{stage_file}:{name} (rules {sorted(rules)}) misses deps {missing}"


def test_keep_going_finishes_good_sources_and_names_the_bad_one(tmp_path: Path) -> None:
    manifest = tiny_manifest(n_sources=1, duration_s=3.0)
    manifest["sources"]["broken"] = {"kind": "url", "url": "http://127.0.0.1:9/missing.mp4", "keep": "all"}
    project = make_project(tmp_path / "proj", manifest=manifest)
    proc = snakemake(project, "phase_acquire", "--keep-going", check=False)
    assert proc.returncode != 0
    assert (project / "data/raw/tiny/clip0.provenance.json").is_file()  # the good source is done
    assert not (project / "data/raw/tiny/broken.mp4").exists()  # nothing partial for the bad one
    log = (project / "logs/acquire_source/tiny/broken.log").read_text()
    assert "tiny.yaml" in log and "'broken'" in log and "refused" in log.lower()
    # The CLI takes the same path: the error names the entry, other sources still finish.
    cli = run([sys.executable, "-m", "lvg.cli", "acquire", "--dataset", "tiny", "--keep-going"], project, check=False)
    assert cli.returncode == 1 and "1 of 2 source(s) failed: broken" in cli.stderr


@pytest.mark.faults
def test_killed_snakemake_recovers_with_unlock_and_rerun(built: Path, tmp_path: Path) -> None:
    """Issue #17: kill -9 the whole Snakemake process group while preprocess_frames writes its staging folder;
    the README's recovery (``snakemake --unlock``, the same command again) completes the DAG without a hand
    clean-up, and the outputs are the uninterrupted run's bytes."""
    import os
    import signal
    import subprocess
    import time

    from helpers import tree_hashes

    copy = tmp_path / "proj"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns(".snakemake", "results", "paper_figures", "logs",
                                                               "benchmarks", "cache", "report*.html"))
    processed = copy / "data/processed/tiny"
    before = tree_hashes(processed)
    shutil.rmtree(processed / "0016x0016")
    (processed / "provenance.csv").unlink()
    target = "data/processed/tiny/provenance.csv"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", target, "--cores", "2"], cwd=copy, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not any(p.is_dir() for p in processed.glob(".0016x0016.tmp-*")):  # the job is mid-write
        assert proc.poll() is None and time.monotonic() < deadline, "preprocess_frames never started"
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its job, as a crash or an OOM kill takes them
    proc.wait()
    assert not (processed / "0016x0016/index.json").exists()  # (Snakemake made the empty output folder)
    snakemake(copy, "--unlock")  # the lock of the killed run (without it: "Directory cannot be locked")
    snakemake(copy, target)
    assert tree_hashes(processed) == before  # staging folder gone, every byte as before


@pytest.mark.faults
def test_killed_evaluation_recovers_to_the_same_records_tables_and_figures(built: Path, tmp_path: Path) -> None:
    """Issue #17: kill -9 Snakemake while an evaluate job runs (at a random point of it), recover as the README
    says; the records are the uninterrupted run's bytes, and Table 1 and Fig. 5, rendered again by other
    processes, too (byte-reproducible tables and figures)."""
    import os
    import random
    import signal
    import subprocess
    import time

    copy = tmp_path / "proj"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns(".snakemake", "logs", "benchmarks"))
    metrics = copy / "results/metrics/tiny"
    rendered = [copy / "results" / f"table1.{e}" for e in ("csv", "md", "tex")] + sorted(
        (copy / "paper_figures").glob("fig5*"))
    def state() -> tuple[dict, dict]:  # (the records name the processed folder by its absolute path: the
        def read(f: Path) -> bytes:  # project they were computed in, the shared build's or this copy)
            return re.sub(rb"/[^\"\s]*/proj/", b"<project>/", f.read_bytes())
        return ({str(f.relative_to(metrics)): read(f) for f in sorted(metrics.rglob("*")) if f.is_file()},
                {f.name: read(f) for f in rendered})

    before = state()
    shutil.rmtree(metrics / "ours")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    log = tmp_path / "killed.log"
    targets = [f"results/metrics/tiny/ours/{m}.json" for m in ("fvd16", "fvd128", "color_similarity",
                                                               "semantic_change")]
    with open(log, "w") as out:  # (a missing intermediate file alone does not make Table 1 rerun: name them)
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", *targets, "--cores", "2"],
                                cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while "rule evaluate:" not in log.read_text():  # the evaluate job of `ours` has started
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.01)
    time.sleep(random.Random().uniform(0.0, 2.0))  # somewhere inside it
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    snakemake(copy, "--unlock")
    snakemake(copy, *targets)
    assert not list((metrics / "ours").glob(".*"))  # no staging file left
    # Table 1 and Fig. 5 rendered again, by other processes, from the recovered records
    snakemake(copy, "results/table1.csv", "--forcerun", "table1", "fig5_color_similarity", "fig5b_semantic_change")
    assert state() == before
