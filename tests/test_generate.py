"""Streaming generation: frames bit-identical however they are reached, constant memory, mp4 writers,
checkpoint loading, the phase entry point and the sample sets for metrics."""

from __future__ import annotations

import ctypes
import gc
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from lvg import generate as gen
from lvg import models
from lvg import sample_sets as ss
from lvg.data import video as vid
from lvg.errors import InputError, LvgError
from lvg.lowres.generator import GeneratorConfig, VideoGenerator
from lvg.superres.generator import SRGenerator, SRGeneratorConfig

SEED = 7
GRID = 128  # internal LR chunk for the tests (the default 256 works the same, only slower here)
# untrained nets with output scales raised so that the videos are O(0.3), not O(1e-3): tolerances then mean
# something
LR_CFG = GeneratorConfig.tiny(height=8, width=8, output_scale=50.0)
SR_CFG = SRGeneratorConfig.tiny(lr_height=8, lr_width=8, hr_height=16, hr_width=16, channel_max=8,
                                num_layers=3, num_critical=1, output_scale=1.0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny convs gain nothing from a second thread, and on a busy 2-core machine OpenMP barriers make them
    up to 50x slower; restored afterwards."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def G() -> VideoGenerator:
    torch.manual_seed(0)
    return VideoGenerator(LR_CFG).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def S() -> SRGenerator:
    torch.manual_seed(1)
    return SRGenerator(SR_CFG).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def long_lr(G) -> torch.Tensor:
    """LR frames -70 .. 329 of video SEED in one pass (same grid)."""
    return gen.generate_lowres(G, SEED, -70, 400, lr_grid=GRID)


def _cat(pieces) -> torch.Tensor:
    return torch.cat(list(pieces), dim=1)


# ------------------------------------------------------------------------------------------ low-res
def test_lowres_frame_identical_however_reached(G, long_lr) -> None:
    chunked = {}
    for chunk in (7, 32, 50):  # a long run (from t0 = -70) read in chunks of any size
        pieces = list(gen.iter_lowres(G, SEED, -70, 260, chunk, lr_grid=GRID))
        assert {p.shape[1] for p in pieces[:-1]} == {chunk}
        chunked[chunk] = torch.cat(pieces, dim=1)
    for t in (-37, 0, 130):
        ref = long_lr[:, t + 70]
        assert torch.equal(_cat(gen.iter_lowres(G, SEED, t, 1, lr_grid=GRID))[:, 0], ref)  # from t itself
        assert torch.equal(_cat(gen.iter_lowres(G, SEED, t - 5, 9, lr_grid=GRID))[:, 5], ref)  # from t - 5
        for run in chunked.values():
            assert torch.equal(run[:, t + 70], ref)


def test_lowres_stream_matches_one_pass_and_naive_forward(G, long_lr) -> None:
    assert long_lr.shape == (3, 400, 8, 8)
    assert torch.equal(_cat(gen.iter_lowres(G, SEED, 3, 301, 50, lr_grid=GRID)), long_lr[:, 73:374])
    naive = G([SEED], t0=3, num_frames=301)[0]  # one forward over the whole window: equal up to rounding
    torch.testing.assert_close(naive, long_lr[:, 73:374], rtol=0, atol=1e-5)


def test_seeds_reproduce_across_instances_and_differ(G, long_lr) -> None:
    twin = VideoGenerator(LR_CFG).eval()
    twin.load_state_dict(G.state_dict())
    assert torch.equal(gen.generate_lowres(twin, SEED, 100, 40, lr_grid=GRID), long_lr[:, 170:210])
    other = gen.generate_lowres(G, SEED + 1, 100, 40, lr_grid=GRID)
    assert (other - long_lr[:, 170:210]).abs().mean() > 1e-3


def test_grid_must_be_aligned(G) -> None:
    with pytest.raises(ValueError, match="multiple"):
        next(gen.iter_lowres(G, 0, 0, 10, lr_grid=48))


# ------------------------------------------------------------------------------------------ super-res
def test_superres_streaming_equals_one_pass_and_naive(G, S) -> None:
    one_pass = gen.generate_superres(G, S, SEED, -20, 100, lr_grid=GRID)
    assert one_pass.shape == (3, 100, 16, 16) and one_pass.std() > 0.05
    for t0, n, chunk in ((-20, 100, 7), (5, 30, None), (37, 1, None), (-3, 64, 50)):
        got = _cat(gen.iter_superres(G, S, SEED, t0, n, chunk, lr_grid=GRID))
        assert torch.equal(got, one_pass[:, t0 + 20:t0 + 20 + n]), (t0, n, chunk)
    # naive: the whole LR clip (4 context frames each side) in one forward, then one SR forward
    with torch.no_grad():
        lr = G([SEED], t0=-24, num_frames=108)
        naive = S(lr, gen.superres_latent(SEED, SR_CFG.z_dim))[0]
    torch.testing.assert_close(naive, one_pass, rtol=0, atol=1e-5)


def test_superres_latent_depends_on_seed_only() -> None:
    z = gen.superres_latent(SEED, 32)
    assert z.shape == (1, 32) and torch.equal(z, gen.superres_latent(SEED, 32))
    assert not torch.equal(z, gen.superres_latent(SEED + 1, 32))


def test_superres_size_mismatch_is_clear(G) -> None:
    S16 = SRGenerator(SRGeneratorConfig.tiny())  # expects 16x16 LR frames
    with pytest.raises(LvgError, match="8x8 frames but the super-res generator expects 16x16"):
        next(gen.iter_superres(G, S16, 0, 0, 4))


# ------------------------------------------------------------------------------------------ memory
class _Heap:
    """Bytes in use by malloc (glibc ``mallinfo2``: arenas + mmapped chunks), sampled after every module's
    forward and at every yield; torch's CPU tensors are malloc'd, so this is a page-cache-free proxy for
    the process's tensor memory."""

    class _Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    def __init__(self, *modules) -> None:
        try:
            self._fn = ctypes.CDLL(None).mallinfo2
        except AttributeError:
            pytest.skip("glibc mallinfo2 not available")
        self._fn.restype = self._Info
        self.peak = 0
        self.handles = [m.register_forward_hook(lambda *_: self.sample()) for mod in modules
                        for m in mod.modules()]

    def now(self) -> int:
        info = self._fn()
        return info.uordblks + info.hblkhd

    def sample(self) -> None:
        self.peak = max(self.peak, self.now())

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _streaming_peak(modules, make_iter) -> int:
    """Peak malloc'd bytes above the starting level while consuming ``make_iter(None)``; ``make_iter(32)``
    first warms up one-off allocations (kernels, primitive caches)."""
    for piece in make_iter(32):
        del piece
    gc.collect()
    heap = _Heap(*modules)
    try:
        base = heap.now()
        for piece in make_iter(None):
            heap.sample()
            del piece
        return heap.peak - base
    finally:
        heap.close()


@pytest.mark.slow
def test_memory_does_not_grow_with_length(G, S) -> None:
    # LR only and LR + SR: 600 vs 3000 frames
    def lr_run(n):
        return lambda warm: gen.iter_lowres(G, SEED, 0, warm or n, 50, lr_grid=GRID)

    def sr_run(n):
        return lambda warm: gen.iter_superres(G, S, SEED, 0, warm or n, 50, lr_grid=GRID)

    peaks = {}
    for name, make, short, long in (("lr", lr_run, 600, 3000), ("sr", sr_run, 600, 3000)):
        p_short = peaks[name] = _streaming_peak((G, S), make(short))
        p_long = _streaming_peak((G, S), make(long))
        assert p_short > 0
        assert abs(p_long - p_short) < 0.1 * p_short, (name, short, p_short, long, p_long)

    # the proxy does see growth: a consumer that keeps every piece
    kept = []

    def hoarding(warm):
        for piece in gen.iter_lowres(G, SEED, 0, warm or 3000, 50, lr_grid=GRID):
            kept.append(piece)
            yield piece

    p_hoard = _streaming_peak((G, S), hoarding)
    assert p_hoard > peaks["lr"] + 0.9 * 3000 * 3 * 8 * 8 * 4


def test_stream_caches_are_bounded(G, S) -> None:
    stream = gen.SuperResStream(G, S, SEED, lr_grid=GRID, sr_grid=16)
    for _ in stream.iter_frames(0, 300, 40):
        pass
    lr_chunk = 3 * GRID * 8 * 8 * 4
    assert stream.lowres.max_cached_bytes <= 2 * lr_chunk
    assert stream.max_cached_bytes == 3 * 16 * 16 * 16 * 4
    assert stream.lowres.chunks_computed == 4  # chunks -1..2 (frame 0 needs context -4..-1), each once


# ------------------------------------------------------------------------------------------ writers
def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_write_video_decodes_with_right_count_and_size(tmp_path, long_lr) -> None:
    info = vid.write_video(long_lr[:, :33].split(10, dim=1), tmp_path / "a.mp4")
    frames = _decode(tmp_path / "a.mp4")
    assert frames.shape == (33, 16, 16, 3)  # 8x8 nearest-upsampled x2 to multiples of 16
    assert info["num_frames"] == 33 and info["size"] == [16, 16] and info["upscale"] == 2
    assert vid.auto_upscale(36, 64) == 4 and vid.auto_upscale(32, 32) == 1 and vid.auto_upscale(144, 256) == 1
    # lossless settings at native size reproduce the uint8 frames up to the RGB <-> YUV round trip
    vid.write_video([long_lr[:, :5]], tmp_path / "b.mp4", crf=0, pix_fmt="yuv444p", upscale=1)
    decoded = _decode(tmp_path / "b.mp4").astype(int)
    assert decoded.shape == (5, 8, 8, 3)
    assert np.abs(decoded - vid.to_uint8(long_lr[:, :5]).astype(int)).max() <= 3


def test_to_uint8_is_the_reference_conversion() -> None:
    x = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]).reshape(1, 6, 1, 1).expand(3, 6, 1, 1)
    assert vid.to_uint8(x)[:, 0, 0, 0].tolist() == [0, 0, 128, 191, 255, 255]


def test_write_video_is_atomic(tmp_path, long_lr) -> None:
    def broken():
        yield long_lr[:, :4]
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        vid.write_video(broken(), tmp_path / "c.mp4")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ checkpoints + entry
def _save(module, d: Path, name: str, doc: dict) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(d / "G_ema.safetensors"))
    (d / name).write_text(json.dumps(doc))
    return d


def test_load_checkpoints_and_errors(tmp_path, G, S) -> None:
    lr_dir = _save(G, tmp_path / "lr", "config.json", {"model": "lowres.VideoGenerator",
                                                       "generator": G.cfg.to_dict()})
    G2 = models.load_generator(lr_dir, "lowres")
    assert models.model_id(G2) == models.model_id(G)
    # a checkpoint dir: config under state.json -> state -> generator
    sr_dir = _save(S, tmp_path / "run/checkpoints/ckpt-00000010", "state.json", {"state": {"generator":
                                                                                          S.cfg.to_dict()}})
    assert models.model_id(models.load_generator(sr_dir / "G_ema.safetensors", "superres")) == models.model_id(S)
    with pytest.raises(InputError, match="expected a 'superres.SRGenerator'"):
        models.load_generator(lr_dir, "superres")
    (tmp_path / "bare").mkdir()
    save_file({"x": torch.zeros(1)}, str(tmp_path / "bare/G_ema.safetensors"))
    with pytest.raises(InputError, match="no generator config found"):
        models.load_generator(tmp_path / "bare", "lowres")
    with pytest.raises(InputError, match="weights not found"):
        models.load_generator(tmp_path / "nowhere", "lowres")


def test_trainer_export_loads(tmp_path, G) -> None:
    path = models.save_generator(G, tmp_path / "G_ema.safetensors", {"step": 1})
    assert models.model_id(models.load_generator(path, "lowres")) == models.model_id(G)


def test_generate_entry_point(tmp_path, G, S, long_lr) -> None:
    lr_dir = _save(G, tmp_path / "lr", "G_ema.json", {"generator": G.cfg.to_dict()})
    sr_dir = _save(S, tmp_path / "sr", "G_ema.json", {"generator": S.cfg.to_dict()})
    out = tmp_path / "out"
    paths = gen.generate(lr_dir, sr_dir, SEED, -3, 20, out, save_lowres=True, save_frames=True, lr_grid=GRID)
    stem = "seed=7_t0=-3_len=20"
    assert paths["lowres"] == out / f"{stem}_lres.mp4" and paths["superres"] == out / f"{stem}_sres.mp4"
    assert _decode(paths["lowres"]).shape == (20, 16, 16, 3)
    assert _decode(paths["superres"]).shape == (20, 16, 16, 3)
    pngs = sorted(p.name for p in paths["frames_dir"].iterdir())
    assert len(pngs) == 40 and "lres_-00003.png" in pngs and "sres_000016.png" in pngs
    from PIL import Image

    frame = np.asarray(Image.open(paths["frames_dir"] / "lres_000010.png"))
    assert np.array_equal(frame, vid.to_uint8(long_lr[:, 80:81])[0])  # PNGs: exact frames at native size
    info = json.loads(paths["info"].read_text())
    assert info["models"]["lowres"] == models.model_id(G) and info["lr_grid"] == GRID
    # LR only: the LR video is always written
    paths = gen.generate(G, None, SEED, 0, 5, out, lr_grid=GRID)
    assert set(paths) == {"lowres", "info"} and _decode(paths["lowres"]).shape[0] == 5


def test_outputs_are_byte_identical_on_rerun(tmp_path, G) -> None:
    a = gen.generate(G, None, SEED, 40, 12, tmp_path / "a", lr_grid=GRID)
    b = gen.generate(G, None, SEED, 40, 12, tmp_path / "b", lr_grid=GRID)
    for key in ("lowres", "info"):
        assert a[key].read_bytes() == b[key].read_bytes(), key  # DVC sees an unchanged output


def test_cli_main(tmp_path, G, capsys) -> None:
    lr_dir = _save(G, tmp_path / "lr", "G_ema.json", {"generator": G.cfg.to_dict()})
    out = tmp_path / "out"
    assert gen.main(["--lres", str(lr_dir), "--seed", "3", "--t0", "-2", "--len", "4", "--outdir", str(out),
                     "--lr-grid", str(GRID), "--frames-dir", str(tmp_path / "png")]) == 0
    assert (out / "seed=3_t0=-2_len=4_lres.mp4").is_file() and len(list((tmp_path / "png").iterdir())) == 4
    assert gen.main(["--lres", str(tmp_path / "missing"), "--seed", "3", "--outdir", str(out)]) == 2
    assert "weights not found" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ sample sets
def test_sample_set_lr_and_hr(tmp_path, G, S, long_lr) -> None:
    index = ss.generate_sample_set(G, None, 2, 12, [SEED, 3], tmp_path / "lr", "lr", lr_grid=GRID)
    doc = json.loads(index.read_text())
    assert doc["seeds"] == [SEED, 3] and all(0 <= t < 32 for t in doc["t0s"])
    assert doc["models"]["lowres"] == models.model_id(G) and not (tmp_path / "lr/index.partial.json").exists()
    v0 = doc["videos"][0]
    frames = _decode(tmp_path / "lr" / v0["file"])
    assert frames.shape == (12, 8, 8, 3)  # native size, lossless yuv444p
    ref = vid.to_uint8(long_lr[:, v0["t0"] + 70:v0["t0"] + 82]).astype(int)
    assert np.abs(frames.astype(int) - ref).max() <= 3

    index = ss.generate_sample_set(G, S, 2, 6, 100, tmp_path / "hr", "hr", t0=[0, -5], lr_grid=GRID)
    doc = json.loads(index.read_text())
    assert [v["t0"] for v in doc["videos"]] == [0, -5] and doc["seeds"] == [100, 101]
    assert _decode(tmp_path / "hr" / doc["videos"][1]["file"]).shape == (6, 16, 16, 3)
    with pytest.raises(LvgError, match="super-resolution model"):
        ss.generate_sample_set(G, None, 1, 6, 0, tmp_path / "x", "hr")


def test_sample_set_resumes_after_interruption(tmp_path, G, monkeypatch) -> None:
    out = tmp_path / "set"
    real = ss.write_video
    calls = []

    def failing_second(frames, path, **kw):
        calls.append(Path(path).name)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(frames, path, **kw)

    monkeypatch.setattr(ss, "write_video", failing_second)
    with pytest.raises(RuntimeError):
        ss.generate_sample_set(G, None, 2, 4, 0, out, lr_grid=GRID)
    assert not (out / "index.json").exists() and (out / "index.partial.json").exists()
    calls.clear()
    ss.generate_sample_set(G, None, 2, 4, 0, out, lr_grid=GRID)
    assert len(calls) == 1  # the finished first video was kept
    assert len(json.loads((out / "index.json").read_text())["videos"]) == 2


def test_superres_from_real(tmp_path, S) -> None:
    from lvg.data.reader import VideoDataset
    from lvg.data.shards import ShardWriter

    lengths = {"a": 10, "b": 40}  # "a" is too short for 20 frames + 8 context
    with ShardWriter(tmp_path / "ds/0008x0008", list(lengths), 1) as w:
        for c, (cid, n) in enumerate(sorted(lengths.items())):
            for k in range(n):
                w.add_image(cid, np.full((8, 8, 3), 5 * k + 60 * c, np.uint8))
    reader = VideoDataset(tmp_path / "ds", 8, 8, seq_length=1)
    index = ss.superres_from_real(S, reader, 2, 20, tmp_path / "sr", seeds=[4, 5], save_lowres=True)
    doc = json.loads(index.read_text())
    assert doc["kind"] == "superres_from_real" and doc["models"]["superres"] == models.model_id(S)
    for v in doc["videos"]:
        assert v["clip_id"] == "b" and 4 <= v["start"] <= 40 - 4 - 20
        assert _decode(tmp_path / "sr" / v["file"]).shape == (20, 16, 16, 3)
        lr = _decode(tmp_path / "sr" / v["lowres_file"]).astype(int)
        assert abs(lr[0].mean() - (60 + 5 * v["start"])) <= 2  # the real frames of the recorded span
        expected = S(reader.read_window(1, v["start"] - 4, 28)[None], gen.superres_latent(v["seed"], 32))[0]
        hr = _decode(tmp_path / "sr" / v["file"]).astype(int)
        assert np.abs(hr - vid.to_uint8(expected).astype(int)).max() <= 3


# ------------------------------------------------------------------------------------------ fast mode, bf16, memory
def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_exact_margin_is_the_smallest_clean_one(G, long_lr) -> None:
    """5 samples of margin per level give the exact frames up to rounding; 4 let the zero padding in."""
    import dataclasses

    fast = gen.exact_margin_generator(G)
    assert fast.cfg.temporal_padding == gen.EXACT_MARGIN and fast.const is G.const  # shares the parameters
    ref = long_lr[:, 70:70 + 64]
    assert _rel(fast([SEED], t0=0, num_frames=64)[0], ref) < 1e-5
    four = dataclasses.replace(G.cfg, temporal_padding=4)
    leaky = VideoGenerator(four).eval().requires_grad_(False)
    leaky.load_state_dict(G.state_dict())
    assert _rel(leaky([SEED], t0=0, num_frames=64)[0], ref) > 1e-4


@pytest.mark.parametrize("segment", [32, 96, 256])
def test_fast_mode_equals_exact_within_1e5(G, long_lr, segment) -> None:
    """A long sequential run in the fast mode, at several segment sizes and unaligned starts."""
    for t0, n in ((-70, 400), (-13, 150), (5, 33)):
        pieces = list(gen.iter_lowres(G, SEED, t0, n, 50, lr_grid=segment, mode="fast"))
        fast = torch.cat(pieces, dim=1)
        assert fast.shape[1] == n and all(p.shape[1] == 50 for p in pieces[:-1])
        assert _rel(fast, long_lr[:, t0 + 70:t0 + 70 + n]) < 1e-5, (segment, t0)
    stream = gen.sequential_lowres(G, SEED, 5, 33, segment=segment)
    assert stream.grid == min(segment, 64) and stream.origin == 0  # a short request computes no whole chunk


def test_fast_superres_equals_exact(G, S) -> None:
    exact = gen.generate_superres(G, S, SEED, -20, 60, lr_grid=GRID)
    fast = gen.generate_superres(G, S, SEED, -20, 60, lr_grid=64, mode="fast")
    assert _rel(fast, exact) < 1e-5


def test_bf16_is_deterministic_and_close(G, long_lr) -> None:
    a = gen.generate_lowres(G, SEED, 0, 64, lr_grid=GRID, precision="bf16")
    b = gen.generate_lowres(G, SEED, 0, 64, lr_grid=GRID, precision="bf16")
    assert a.dtype == torch.float32 and torch.equal(a, b)
    dev = _rel(a, long_lr[:, 70:134])
    assert 0 < dev < 0.1  # bf16 has an 8-bit mantissa: ~1e-2 relative, not bit-identical to fp32
    with pytest.raises(LvgError, match="precision"):
        gen.generate_lowres(G, SEED, 0, 8, precision="fp16")


def test_memory_budget_picks_chunks_or_refuses(tmp_path, G, S, capsys) -> None:
    from lvg import memory

    assert memory.parse_memory("1.5G") == int(1.5 * 2**30) and memory.parse_memory("512MiB") == 512 * 2**20
    with pytest.raises(LvgError, match="cannot read"):
        memory.parse_memory("lots")
    assert memory.plan_chunks(G, S, lr_grid=256, sr_grid=16, max_memory="64G") == (256, 16)
    fixed_lr = memory.RUNTIME_BYTES + sum(t.numel() * 4 for t in [*G.parameters(), *G.buffers()])
    fixed = fixed_lr + sum(t.numel() * 4 for t in [*S.parameters(), *S.buffers()])
    small = fixed_lr + memory.lowres_peak_bytes(G, 64) + 1  # LR only: 64-frame chunks fit, 128 do not
    assert memory.plan_chunks(G, None, lr_grid=256, sr_grid=16, max_memory=small) == (64, 16)
    index = ss.generate_sample_set(G, None, 1, 20, 0, tmp_path / "set", lr_grid=256, max_memory=small)
    assert json.loads(index.read_text())["lr_grid"] == 64  # the sample-set rules use the same budget
    # SR inference synthesises one frame per pass, so its need does not grow with the chunk
    assert memory.superres_peak_bytes(S, 16) == memory.superres_peak_bytes(S, 1)
    enough = fixed + max(memory.lowres_peak_bytes(G, 256), memory.superres_peak_bytes(S, 16))
    assert memory.plan_chunks(G, S, lr_grid=256, sr_grid=16, max_memory=enough) == (256, 16)
    with pytest.raises(LvgError, match="too small"):
        memory.plan_chunks(G, S, lr_grid=256, sr_grid=16, max_memory=fixed // 2)
    # the estimate grows with the chunk, so a bigger budget never picks smaller chunks
    assert memory.lowres_peak_bytes(G, 512) > memory.lowres_peak_bytes(G, 128)
    lr_dir = _save(G, tmp_path / "lr", "G_ema.json", {"generator": G.cfg.to_dict()})
    assert gen.main(["--lres", str(lr_dir), "--seed", "1", "--len", "4", "--outdir", str(tmp_path / "o"),
                     "--max-memory", "1M"]) == 2
    assert "max-memory 1 MiB is too small" in capsys.readouterr().out


def test_generate_records_mode_and_precision(tmp_path, G) -> None:
    paths = gen.generate(G, None, SEED, 3, 20, tmp_path, lr_grid=GRID, mode="fast", precision="bf16")
    info = json.loads(paths["info"].read_text())
    assert (info["mode"], info["precision"], info["lr_grid"]) == ("fast", "bf16", GRID)
    assert len(list(vid.iter_frames(paths["lowres"]))) == 20
