"""TATS-lite (lvg/baselines/tats.py): time-agnostic VQ tokenizer + GPT with sliding-window long sampling.

Proven here: a short tokenizer-only training makes reconstructions far better than at init and than the
clip-mean predictor, and the code path through indices equals the quantiser's output exactly; the tokenizer
is time-agnostic (interior tokens of a window equal the tokens of the same frames inside a longer video; a
static video gets the same tokens at every latent step, the window edges included, which zero padding would
not give); long videos (far beyond one GPT window) are deterministic per seed, differ between seeds and any
frame range equals the same slice of a longer call; chunked decoding matches a whole-sequence decode away
from the end; N steps == k steps + resume + N - k steps bit for bit, resuming in stage 1 and continuing past
the stage boundary; load_generator renders the same frames; config errors name the section.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_PARAMS, section
from safetensors.torch import load_file

from lvg.baselines.common import generate_frames
from lvg.baselines.tats import TATSConfig, TATSGenerator, TConv3d
from lvg.baselines.train import run_train_baseline
from lvg.data.reader import VideoDataset
from lvg.errors import InputError
from lvg.models import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(height=16, width=16, s_down=4, ch=8, ch_max=32, gpt_width=32, codebook_size=64, decode_chunk=4)


def small_G(seed: int = 0, **kw) -> TATSGenerator:
    torch.manual_seed(seed)
    return TATSGenerator(TATSConfig.preset("tiny", **(SMALL | kw))).eval()


def cfg_with(**train) -> dict:
    cfg = copy.deepcopy(TINY_PARAMS)
    base = dict(resolution="16x16", batch=2, steps=6, log_every=2, sample_every=0, checkpoint_every=2,
                keep_checkpoints=0, stage_split=0.5, generator={k: v for k, v in SMALL.items()
                                                                 if k not in ("height", "width")})
    cfg["baselines"] = {"tats": base | train}
    return cfg


def real_clips(dataset: Path, frames: int = 8) -> torch.Tensor:
    data = VideoDataset(dataset, 16, 16, frames)
    return torch.stack([data.read_window(c, s) for c in range(len(data))
                        for s in (0, (data.num_frames(c) - frames) // 2)])


# ---------------------------------------------------------------------------------------------- tokenizer
@pytest.mark.slow
def test_tokenizer_learns_to_reconstruct_and_index_path_is_exact(tiny_dataset: Path) -> None:
    G = small_G().train()
    clips = real_clips(tiny_dataset)
    g = torch.Generator().manual_seed(0)

    def recon_error() -> float:
        with torch.no_grad():
            return float((G.decode(G.quantize(G.encode(clips))[0]) - clips).abs().mean())

    before = recon_error()
    opt = torch.optim.Adam(G.tokenizer_parameters(), lr=2e-3, betas=(0.5, 0.9))
    for _ in range(300):
        x = clips[torch.randint(len(clips), (4,), generator=g)]
        z = G.encode(x)
        zq, idx, loss_vq = G.quantize(z)
        loss = (G.decode(zq) - x).abs().mean() + loss_vq
        opt.zero_grad()
        loss.backward()
        opt.step()
        G.quantizer.restart_dead(z, idx, g)
    after = recon_error()
    mean_pred = float((clips.mean(dim=(2, 3, 4), keepdim=True) - clips).abs().mean())
    print(f"tokenizer L1: init {before:.3f}, trained {after:.3f}, clip-mean predictor {mean_pred:.3f}")
    assert after < 0.5 * before and after < 0.75 * mean_pred, (before, after, mean_pred)
    with torch.no_grad():
        x = clips[:3]
        idx = G.encode_indices(x)
        assert idx.shape == (3, 4, 4, 4) and idx.dtype == torch.long
        assert torch.equal(G.decode(G.lookup(idx)), G.decode(G.quantize(G.encode(x))[0]))
        assert len(idx.unique()) > 4  # more than a handful of codes in use


def test_tokens_are_time_agnostic() -> None:
    G = small_G()
    td, r = G.cfg.t_down, G.encoder.radius
    video = torch.rand(1, 3, 64, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        z_long = G.encode(video)
        full = G.quantizer.indices(z_long)
        for start, length in [(16, 32), (24, 30)]:  # window starts on the t_down grid
            z_win = G.encode(video[:, :, start:start + length])
            win = G.quantizer.indices(z_win)
            inner = [m for m in range(length // td) if m * td - r >= 0 and m * td + td - 1 + r <= length - 1]
            assert len(inner) >= 2, (r, length)
            off = start // td
            for m in inner:  # tokens away from the window edges do not know where the window sits
                assert torch.allclose(z_win[:, :, m], z_long[:, :, off + m], atol=1e-5)
                assert torch.equal(win[:, m], full[:, off + m])
            # ... while at the window's edge the receptive field sees replicated frames, not the video's
            assert not torch.allclose(z_win[:, :, 0], z_long[:, :, off], atol=1e-3)
        # a static clip gets identical tokens at every latent step, the first and last included
        static = video[:, :, :1].expand(-1, -1, 8, -1, -1)
        z = G.encode(static)
        for m in range(1, z.shape[2]):
            assert torch.allclose(z[:, :, m], z[:, :, 0], atol=1e-6)
        assert (G.quantizer.indices(z) == G.quantizer.indices(z)[:, :1]).all()
        # the same network with zero temporal padding would mark the window edges
        for m in G.encoder.modules():
            if isinstance(m, TConv3d):
                m.forward = (lambda mod: lambda x: mod.conv(F.pad(x, (mod.ps,) * 4 + (mod.pt // 2,) * 2)))(m)
        z0 = G.encode(static)
        assert not torch.allclose(z0[:, :, 0], z0[:, :, 1], atol=1e-4)


# ---------------------------------------------------------------------------------------------- sampling
def test_long_sampling_is_deterministic_and_prefix_consistent() -> None:
    G = small_G(top_k=16)
    cfg = G.cfg
    n = 3 * cfg.train_frames + 5  # far beyond one GPT window (train_frames frames)
    long = G.frames(3, 0, n)
    assert long.shape == (3, n, 16, 16) and torch.isfinite(long).all() and long.abs().max() <= 1
    assert torch.equal(G.frames(3, 0, n), long)  # deterministic given the seed
    assert torch.equal(generate_frames(G, 3, 11, 9), long[:, 11:20])  # any slice = the longer call's
    assert torch.equal(G.frames(3, 0, 5), long[:, :5])
    assert not torch.allclose(G.frames(4, 0, n), long)  # another seed, another video
    state = torch.get_rng_state()
    G.frames(5, 2, 3)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is never touched
    # latent frames: the first window, then one slid latent frame at a time; prefixes agree
    count = 2 * cfg.decode_chunk + G.decode_radius + 2
    tok = G.latent_tokens(3, count)
    assert tok.shape == (count, 4, 4) and torch.equal(G.latent_tokens(3, 6), tok[:6])
    # chunked decoding == decoding the whole latent sequence at once, away from its end
    with torch.no_grad():
        zq = G.lookup(tok[None])
        whole = G.decode(zq)[0]
        chunks = torch.cat([G.decode_chunk(zq, c) for c in range(2)], dim=1)
    assert torch.allclose(chunks, whole[:, :chunks.shape[1]], atol=1e-5)
    assert G.frames(3, 40, 0).shape == (3, 0, 16, 16)


# ---------------------------------------------------------------------------------------------- training
def test_exact_resume_across_the_stage_boundary(tiny_dataset: Path, tmp_path: Path) -> None:
    # GAN (DiffAugment draws) from step 0 and code restarts at every step: every random stream is in use
    # before the checkpoint that run b resumes from
    gen = cfg_with()["baselines"]["tats"]["generator"] | {"restart_threshold": 0.95}

    def cfg(**kw) -> dict:
        return cfg_with(generator=gen, discriminator={"gan_start": 0.0}, **kw)

    run_a, run_b = tmp_path / "a", tmp_path / "b"
    out_a = run_train_baseline("tats", section(cfg(), "baselines", "tats"), tiny_dataset, run_a, resume=False)
    # run b: a run of the same settings killed after its step-2 checkpoint (stage 1 ends after step 3)
    run_b.mkdir()
    shutil.copytree(run_a / "checkpoints" / "ckpt-00000002", run_b / "checkpoints" / "ckpt-00000002")
    out_b = run_train_baseline("tats", section(cfg(), "baselines", "tats"), tiny_dataset, run_b)
    a, b = run_a / "checkpoints" / "ckpt-00000006", run_b / "checkpoints" / "ckpt-00000006"
    for name in ["G", "D", "optim"]:
        ta, tb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), (name, k)
    ea, eb = load_file(str(out_a)), load_file(str(out_b))
    assert ea.keys() == eb.keys() and all(torch.equal(ea[k], eb[k]) for k in ea)
    sa, sb = json.loads((a / "state.json").read_text()), json.loads((b / "state.json").read_text())
    assert sa["state"]["ranks"] == sb["state"]["ranks"]
    assert sa["state"]["ranks"][0]["algorithm"]["stage1_steps"] == 3
    rows = (run_a / "metrics.csv").read_text().splitlines()
    head = rows[0].split(",")
    stage = [dict(zip(head, r.split(","), strict=True)) for r in rows[1:]]
    assert stage[0]["loss_rec"] and stage[0]["loss_D"] and not stage[0]["loss_gpt"]  # steps 0, 1: tokenizer
    assert float(stage[0]["codes_restarted"]) > 0
    assert stage[2]["loss_gpt"] and not stage[2]["loss_rec"]  # steps 4, 5: GPT
    # both stages changed their weights: tokenizer between ckpt 2 and 3 ... GPT between 4 and 6
    g2 = load_file(str(run_a / "checkpoints" / "ckpt-00000002" / "G.safetensors"))
    g4 = load_file(str(run_a / "checkpoints" / "ckpt-00000004" / "G.safetensors"))
    g6 = load_file(str(a / "G.safetensors"))
    assert not torch.equal(g2["gpt.pos"], g6["gpt.pos"]) and not torch.equal(g4["gpt.pos"], g6["gpt.pos"])
    assert not torch.equal(g2["quantizer.codebook"], g4["quantizer.codebook"])
    assert torch.equal(g4["quantizer.codebook"], g6["quantizer.codebook"])  # frozen in stage 2
    # a run extended with more steps keeps the stage boundary it started with: the extra steps train the GPT
    run_c = tmp_path / "c"
    run_train_baseline("tats", section(cfg(steps=2), "baselines", "tats"), tiny_dataset, run_c)
    run_train_baseline("tats", section(cfg(steps=4), "baselines", "tats"), tiny_dataset, run_c)
    sc = json.loads((run_c / "checkpoints" / "ckpt-00000004" / "state.json").read_text())
    assert sc["state"]["ranks"][0]["algorithm"]["stage1_steps"] == 1
    # export round trip: the same model, the same frames
    meta = json.loads(out_a.with_suffix(".json").read_text())
    assert meta["model"] == "baselines.tats" and meta["generator"]["height"] == 16
    G = load_generator(out_a, "baseline")
    assert G.method == "tats" and isinstance(G, TATSGenerator)
    ref = TATSGenerator(TATSConfig.from_dict(meta["generator"]))
    ref.load_state_dict(load_file(str(out_a)))
    assert torch.equal(generate_frames(G, 7, 13, 20), ref.eval().frames(7, 13, 20))
    assert generate_frames(G, 7, 13, 20).shape == (3, 20, 16, 16)


def test_config_errors(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="baselines.tats"):
        run_train_baseline("tats", section(cfg_with(generator={"no_such": 1}), "baselines", "tats"), tiny_dataset, tmp_path / "a")
    with pytest.raises(InputError, match="baselines.tats"):
        run_train_baseline("tats", section(cfg_with(discriminator={"nope": 2}), "baselines", "tats"), tiny_dataset, tmp_path / "b")
    with pytest.raises(InputError, match="baselines.tats.*s_down"):
        run_train_baseline("tats", section(cfg_with(generator={"s_down": 3}), "baselines", "tats"), tiny_dataset, tmp_path / "c")
    with pytest.raises(ValueError, match="unknown preset"):
        TATSConfig.preset("huge")
    paper = TATSConfig.preset("paper", height=128, width=128)
    assert (paper.train_frames, paper.t_down, paper.s_down, paper.codebook_size) == (16, 4, 8, 16384)
