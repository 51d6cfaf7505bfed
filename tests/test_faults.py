"""The fault suite (issue #17): kill -9 at fixed points of a phase, rerun, compare the outputs with an
uninterrupted run's (sha256); bad names, corrupt frames, read-only / full output folders and mismatched
weight files, each with the one-line message the user sees. Run alone with ``pytest -m faults``.

Kill points are deterministic: each test waits until the phase's staging folder or temporary file exists
(the phase is then mid-write) and sends SIGKILL. Read-only and full folders are injected as the OSError the
kernel would raise (tests run as root here, where chmod cannot make a folder read-only, and mounting a small
tmpfs is not possible in a container). Training kills are in tests/test_checkpoint.py / test_resume.py /
test_distributed.py, a killed Snakemake run in tests/test_workflow.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from helpers import REPO, tree_hashes

from lvg import cli
from lvg.data.audit import AuditError, run_audit
from lvg.data.manifest import load_dataset_manifest
from lvg.data.preprocess import preprocess_dataset
from lvg.data.shards import FrameDecodeError, ShardReader
from lvg.errors import InputError, LvgError, OutputError
from lvg.io import canonical_header, is_staging_name, save_tensors, sha256_file, umask
from lvg.lowres.generator import GeneratorConfig, VideoGenerator
from lvg.models import load_generator, save_generator

pytestmark = pytest.mark.faults

LVG = str(Path(sys.executable).parent / "lvg")
LR_CFG = GeneratorConfig.tiny(height=8, width=8, output_scale=50.0)


def _env() -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        OMP_NUM_THREADS="1",
    )


def start_lvg(args: list[str], cwd: Path | None = None) -> subprocess.Popen:
    """An ``lvg`` command in the background (output kept for kill_when's message), to be killed mid-run."""
    return subprocess.Popen([LVG, *args], cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds (polled every 2 ms); fail if it ends first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"finished (rc {proc.returncode}) before the kill point: {out}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("kill point not reached")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if is_staging_name(p.name))


@pytest.fixture()
def project(tiny_dataset: Path, tmp_path: Path) -> Path:
    """A copy of the tiny project that conftest's pipeline built (manifest, raw videos, clips, shards)."""
    src = tiny_dataset.parents[2]
    dst = tmp_path / "proj"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".snakemake", "logs", "benchmarks"))
    return dst


# ============================================================================================ kill -9, rerun
@pytest.mark.slow
def test_killed_preprocess_is_cleaned_by_the_rerun_and_never_blocks_the_audit(project: Path) -> None:
    """Reproduction 1: kill -9 mid-preprocess; the audit ignores (and reports) the staging folder; the
    rerun removes it and writes the same bytes as the uninterrupted run; folders get the umask's mode."""
    processed = project / "data/processed/tiny"
    res = processed / "0016x0016"
    before = tree_hashes(res)
    shutil.rmtree(res)
    proc = start_lvg(["preprocess", "--configfile", "params.yaml", "--dataset", "tiny", "--resolution", "16x16"],
                     project)
    kill_when(
        proc,
        lambda: any(p.name.endswith(".tmp") for s in processed.glob(".0016x0016.tmp-*") for p in s.iterdir()),
    )  # mid-write of a shard
    assert [p.name[:15] for p in processed.glob(".*")] == [".0016x0016.tmp-"]
    assert not res.exists()  # nothing under the final name
    table = run_audit("tiny", project)  # the leftover is reported, not a missing index.json
    assert [Path(p).name[:15] for p in table.attrs["leftovers"]] == [".0016x0016.tmp-"]

    cwd = os.getcwd()
    os.chdir(project)
    try:
        assert (
            cli.main(
                ["preprocess", "--configfile", "params.yaml", "--dataset", "tiny", "--resolution", "16x16"]
            )
            == 0
        )
        table = run_audit("tiny", project, decode=True)
    finally:
        os.chdir(cwd)
    assert hidden(processed) == [] and table.attrs["leftovers"] == []
    assert tree_hashes(res) == before  # the rerun's bytes are the uninterrupted run's
    assert res.stat().st_mode & 0o777 == 0o777 & ~umask()  # not mkdtemp's 0700


@pytest.fixture(scope="module")
def lowres_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("model")
    save_generator(VideoGenerator(LR_CFG).eval(), d / "G_ema.safetensors", {"step": 0})
    return d


@pytest.mark.slow
def test_killed_generate_leaves_no_tmp_after_the_rerun(lowres_model: Path, tmp_path: Path) -> None:
    """Reproduction 1 (generate): the rerun removes the killed run's ``.<name>.mp4.*.tmp`` and writes the
    same mp4 bytes as an uninterrupted run."""
    out, ref = tmp_path / "out", tmp_path / "ref"
    args = ["generate", "--lres", str(lowres_model), "--seed", "3", "--len", "400", "--outdir"]
    proc = start_lvg([*args, str(out)])
    kill_when(proc, lambda: out.is_dir() and any(p.suffix == ".tmp" for p in out.iterdir()))
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []  # nothing final, partial
    assert len(hidden(out)) == 1
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:  # the rerun, then an uninterrupted run (mp4 bytes across processes: the next test)
        assert cli.main([*args, str(out)]) == 0
        assert hidden(out) == []  # the killed run's temporary file is gone
        assert cli.main([*args, str(ref)]) == 0
    finally:
        torch.set_num_threads(n)
    assert tree_hashes(out) == tree_hashes(ref)


# ============================================================================================ reproducible bytes
_SAVE_SCRIPT = """
import sys
from pathlib import Path
import numpy as np, torch
from lvg.generate import generate
from lvg.io import save_tensors
from lvg.lowres.generator import GeneratorConfig, VideoGenerator
from lvg.metrics.world import WorldNet, WorldNetConfig, save_world_detector
from lvg.models import save_generator
from lvg.train.checkpoint import save_checkpoint
out = Path(sys.argv[1])
torch.manual_seed(0)
G = VideoGenerator(GeneratorConfig.tiny(height=8, width=8))
save_generator(G, out / "G_ema.safetensors", {"step": 1})
opt = torch.optim.Adam(G.parameters())
for p in G.parameters():
    p.grad = torch.ones_like(p)
opt.step()
save_checkpoint(out / "checkpoints", 1, {"G": G, "G_ema": G}, {"G": opt}, {"k": 1})
save_tensors({"mu": np.arange(4.0), "sigma": np.eye(4)}, out / "fvd-real.safetensors")
save_world_detector(WorldNet(WorldNetConfig(height=16, width=16)), out / "detector.safetensors", {"x": 1})
torch.set_num_threads(1)
generate(G.eval(), None, 3, 0, 20, out / "video")  # an mp4 + its info JSON
"""


@pytest.mark.slow
def test_same_tensors_same_bytes_across_processes(tmp_path: Path, monkeypatch) -> None:
    """Reproduction 4: models, checkpoints, caches, detectors and mp4s written by two processes are identical
    files (the safetensors metadata used to come out in a per-process random order)."""
    subprocess.run(
        [sys.executable, "-c", _SAVE_SCRIPT, str(tmp_path / "a")], env=_env(), check=True, cwd=REPO
    )
    monkeypatch.setattr(sys, "argv", ["-c", str(tmp_path / "b")])
    n = torch.get_num_threads()
    try:
        exec(compile(_SAVE_SCRIPT, "<save>", "exec"), {})  # the same in this process (another Rust hash seed)
    finally:
        torch.set_num_threads(n)
    a, b = tree_hashes(tmp_path / "a"), tree_hashes(tmp_path / "b")
    assert len(a) == 11 and a == b


def test_safetensors_header_is_canonical(tmp_path: Path) -> None:
    meta = {"z": "1", "format": "lvg", "model": "m"}
    save_tensors(
        {"b": torch.ones(3), "a": torch.zeros(2, dtype=torch.float16)}, tmp_path / "t.safetensors", meta
    )
    raw = (tmp_path / "t.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    assert raw[8 : 8 + n] == canonical_header(header) and list(header["__metadata__"]) == [
        "format",
        "model",
        "z",
    ]
    from safetensors.torch import load_file

    t = load_file(str(tmp_path / "t.safetensors"))
    assert torch.equal(t["b"], torch.ones(3)) and t["a"].dtype == torch.float16


# ============================================================================================ bad inputs
@pytest.mark.parametrize(
    "argv",
    [
        ["acquire", "--dataset", "../../../evil"],
        ["train", "lowres", "--dataset", "../.."],
        ["preprocess", "--dataset", "/abs"],
        ["scenes", "--source", "../x"],
        ["samples", "../m"],
        ["evaluate", "--method", "a/b"],
        ["audit", "--dataset", ".hidden"],
    ],
)
def test_names_that_become_paths_are_checked(argv: list[str], tmp_path: Path, capsys, monkeypatch) -> None:
    """Reproduction 3: a dataset, source or method name with a path in it stops before any file is touched."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "name" in err and "is not allowed" in err
    assert list(tmp_path.iterdir()) == []


def test_manifest_dataset_must_equal_its_name(tmp_path: Path) -> None:
    (tmp_path / "data/manifests").mkdir(parents=True)
    (tmp_path / "data/manifests/mine.yaml").write_text(
        "dataset: other\nlicence: CC0-1.0\nsources:\n  a:\n    kind: local\n    path: a.mp4\n    keep: all\n"
    )
    with pytest.raises(InputError, match="dataset: is 'other', but the file is the manifest of 'mine'"):
        load_dataset_manifest("mine", tmp_path)
    with pytest.raises(LvgError, match="not allowed"):
        load_dataset_manifest("../mine", tmp_path)


def _truncate_frame(res_dir: Path, part: str, every: bool = False) -> tuple[str, str]:
    """Rewrite ``part`` with one JPEG (``every``: each) cut in half (a valid zip: CRCs match); fix the index's checksum so that
    only decoding can tell. Returns (clip id, frame name)."""
    path = res_dir / part
    with zipfile.ZipFile(path) as zf:
        entries = [(i, zf.read(i)) for i in zf.infolist()]
    victim = next(i.filename for i, _ in entries if i.filename.endswith(".jpg"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for info, data in entries:
            cut = info.filename == victim or (every and info.filename.endswith(".jpg"))
            zf.writestr(info, data[: len(data) // 2] if cut else data)
    index = json.loads((res_dir / "index.json").read_text())
    for p in index["partitions"]:
        if p["file"] == part:
            p["sha256"], p["size"] = sha256_file(path), path.stat().st_size
    (res_dir / "index.json").write_text(json.dumps(index))
    clip, _, frame = victim.rpartition("/")
    return clip, frame


def test_corrupt_frame_is_named_by_shard_clip_and_frame(project: Path) -> None:
    """Reproduction 2: a truncated JPEG inside a valid shard: reading it (training, evaluation) and
    ``lvg audit --decode`` name the shard, the clip and the frame; the plain audit cannot see it."""
    res = project / "data/processed/tiny/0016x0016"
    clip, frame = _truncate_frame(res, "partition_0000.zip")
    reader = ShardReader(res)
    c = reader.clip_index(clip)
    with pytest.raises(FrameDecodeError) as e:
        reader.read_frames(c, range(reader.num_frames(c)))
    msg = str(e.value)
    assert str(res / "partition_0000.zip") in msg and f"{clip}/{frame}" in msg and "does not decode" in msg
    assert "\n" not in msg
    run_audit("tiny", project)  # checksums all match
    with pytest.raises(AuditError) as e:
        run_audit("tiny", project, decode=True)
    assert len(e.value.problems) == 1 and f"frame {frame!r} of clip {clip!r}" in e.value.problems[0]


def test_worker_errors_keep_their_one_line(project: Path) -> None:
    """The same error raised in a DataLoader worker reaches the training loop as one line, not a traceback."""
    from lvg.data.reader import VideoDataset
    from lvg.train.loop import BatchSource

    res = project / "data/processed/tiny/0016x0016"
    for part in ("partition_0000.zip", "partition_0001.zip"):
        _truncate_frame(res, part, every=True)
    ds = VideoDataset(res.parent, 16, 16, seq_length=16)
    with pytest.raises(LvgError) as e:
        BatchSource(ds, 2, 0, num_workers=1).next()
    assert "does not decode" in str(e.value) and "Traceback" not in str(e.value)


def test_weights_json_of_other_weights_is_refused(lowres_model: Path, tmp_path: Path) -> None:
    """Reproduction 6: a G_ema.json next to other weights of the same shapes no longer loads silently."""
    G = load_generator(lowres_model, "lowres")
    save_generator(G, tmp_path / "a/G_ema.safetensors")
    with torch.no_grad():
        next(iter(G.parameters())).add_(1)  # same shapes, other weights
    save_generator(G, tmp_path / "b/G_ema.safetensors")
    load_generator(tmp_path / "a", "lowres")
    shutil.copy(tmp_path / "b/G_ema.json", tmp_path / "a/G_ema.json")
    with pytest.raises(InputError, match="describes other weights"):
        load_generator(tmp_path / "a", "lowres")


# ============================================================================================ read-only / full
def _refuse(code: int) -> Callable[..., None]:
    def fail(*args, **kwargs):
        path = kwargs.get("dir") or (args[0] if args else "?")
        raise OSError(code, os.strerror(code), str(path))

    return fail


def test_read_only_outdir_is_one_line_and_leaves_nothing(
    lowres_model: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Reproduction 5 (generate): a read-only --outdir: one line naming the path and the operation, exit 2."""
    monkeypatch.setattr("tempfile.mkstemp", _refuse(errno.EROFS))
    out = tmp_path / "ro"
    rc = cli.main(
        ["generate", "--lres", str(lowres_model), "--seed", "0", "--len", "4", "--outdir", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("lvg generate: error: cannot write ") and str(out) in err and "Read-only" in err
    assert hidden(tmp_path) == [] and not any(out.glob("*.mp4"))


def test_full_disk_while_saving_weights(tmp_path: Path, monkeypatch) -> None:
    """Reproduction 5 (train's export): the Rust writer's ENOSPC (a SafetensorError) becomes an OutputError
    naming the final file, and no temporary file remains."""
    from safetensors import SafetensorError

    def full(*args, **kwargs):
        raise SafetensorError(
            "Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "
            '"No space left on device" })'
        )

    monkeypatch.setattr("safetensors.torch.save_file", full)
    torch.manual_seed(0)
    with pytest.raises(OutputError) as e:
        save_generator(VideoGenerator(LR_CFG), tmp_path / "run/G_ema.safetensors")
    assert str(e.value) == f"cannot write {tmp_path / 'run/G_ema.safetensors'}: No space left on device"
    assert list((tmp_path / "run").iterdir()) == []


def test_io_error_anywhere_in_a_phase_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """An environment OSError that no writer converted (a checkpoint folder on a full disk) still ends in one
    line and exit 2; a bug's OSError keeps its traceback."""
    import lvg.train.launch

    def full(*args, **kwargs):
        raise OSError(
            errno.ENOSPC, "No space left on device", str(tmp_path / "run/checkpoints/ckpt-00000002")
        )

    monkeypatch.setattr(lvg.train.launch, "train", full)
    monkeypatch.chdir(REPO)
    rc = cli.main(["train", "lowres", "--dataset", "tiny", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == (
        f"lvg train: error: cannot access {tmp_path}/run/checkpoints/ckpt-00000002: No space left on device"
    )

    def bug(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "x")

    monkeypatch.setattr(lvg.train.launch, "train", bug)
    with pytest.raises(FileNotFoundError):
        cli.main(["train", "lowres", "--dataset", "tiny", "--out", str(tmp_path / "run")])


def test_read_only_processed_folder(project: Path, monkeypatch) -> None:
    """Preprocess into a read-only data/processed: OutputError naming the output folder; the old one stays."""
    res = project / "data/processed/tiny/0016x0016"
    before = tree_hashes(res)
    monkeypatch.setattr("tempfile.mkdtemp", _refuse(errno.EROFS))
    with pytest.raises(OutputError, match=f"cannot create folder {res.parent}: Read-only file system"):
        preprocess_dataset(project / "data/clips/tiny.csv", project / "data/raw/tiny", res, 16, 16, 2, 95)
    assert tree_hashes(res) == before and hidden(res.parent) == []


def test_staging_names_of_live_writers_are_kept(tmp_path: Path) -> None:
    """Cleaning is safe while another writer runs: only names whose owner process is gone are removed."""
    from lvg.io import owner_tag, remove_stale

    host = owner_tag().split("@")[1]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        names = {
            f".x.mp4.{live.pid}@{host}.abcdefgh.tmp": True,
            f".x.mp4.{2**22 + 7}@{host}.abcdefgh.tmp": False,
            ".x.mp4.abcdefgh.tmp": False,
            ".x.mp4.mp4.abcdefgh.tmp": True,
            "x.mp4": True,
        }
        for n in names:
            (tmp_path / n).write_text("")
        remove_stale(tmp_path, ".x.mp4.", ".tmp")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, keep in names.items() if keep)
    finally:
        live.kill()
        live.wait()


@pytest.mark.slow
def test_killed_sample_set_resumes_to_the_uninterrupted_bytes(project: Path, tmp_path: Path) -> None:
    """kill -9 while a sample set writes its videos; the rerun keeps what is complete, removes the partial
    video's temporary file and ends with the bytes of an uninterrupted run (made in this process)."""
    (project / "over.yaml").write_text("samples: {num_videos: 3, num_frames: 32, resolution: lr}\n")
    out, ref = project / "results/samples/tiny/ours_untrained", tmp_path / "ref"
    args = [
        "samples",
        "ours_untrained",
        "--configfile",
        "params.yaml",
        "over.yaml",
        "--dataset",
        "tiny",
        "--out",
    ]
    proc = start_lvg([*args, str(out)], project)
    kill_when(
        proc,
        lambda: (
            out.is_dir()
            and len(list(out.glob("*.mp4"))) >= 1
            and any(p.suffix == ".tmp" for p in out.iterdir())
        ),
    )  # one video done, the next mid-write
    assert not (out / "index.json").exists() and len(hidden(out)) == 1
    n, cwd = torch.get_num_threads(), os.getcwd()
    torch.set_num_threads(1)
    os.chdir(project)
    try:  # the rerun and the uninterrupted run in this process (other processes: the generate test)
        assert cli.main([*args, str(out)]) == 0
        assert hidden(out) == [] and (out / "index.json").is_file()
        assert cli.main([*args, str(ref)]) == 0
    finally:
        os.chdir(cwd)
        torch.set_num_threads(n)
    assert tree_hashes(out) == tree_hashes(ref)
