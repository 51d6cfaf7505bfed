"""Released LongVideoGAN models: the data-only importer (lvg.reference) against the reference-written
checkpoints in shared/fixtures/reference/checkpoints.

* whole-network equivalence: the converted LR generator reproduces both recorded videos from the recorded
  noise, the converted SR generator its video from the recorded LR clip and z, each within
  ``max|a - b| / max|ref| <= 1e-5``;
* structure: every name of the full-size released networks maps onto our paper presets with the same
  shape, and the parameter counts agree;
* bad input: malicious pickles (``os.system`` / ``builtins.eval`` reducers, a module_src that would write a
  file, unknown globals, persistent ids), foreign and truncated files and tensors that fit no generator are
  refused with an error naming the file and the problem; the side effect never happens and no existing
  output is overwritten;
* use: ``lvg generate`` takes the pickle directly (converted once into the cache).
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import types
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lvg.errors import InputError
from lvg.generate import generate, generate_lowres
from lvg.lowres.generator import GeneratorConfig, VideoGenerator
from lvg.models import load_generator
from lvg.reference import cached_import, convert_file, import_reference
from lvg.reference.convert import plan_for_names
from lvg.reference.unpickle import ALLOWED, Record, load_records, named_tensors
from lvg.superres.generator import SRGenerator, SRGeneratorConfig

FIXTURES = Path(os.environ.get("LVG_FIXTURES", Path(__file__).resolve().parents[2] / "shared/fixtures/reference"))
CKPT = FIXTURES / "checkpoints"
RTOL = 1e-5  # max|ours - ref| / max|ref| (README: an exact float32 re-implementation reaches ~1e-6)
LRES, SRES = CKPT / "lres_small.pkl", CKPT / "sres_small.pkl"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} not found (set LVG_FIXTURES to shared/fixtures/reference)")
    return path


@cache
def _tensors(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(_need(CKPT / f"{name}.safetensors")))


@cache
def _fixture_json() -> dict:
    return json.loads(_need(CKPT / "fixtures.json").read_text())


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape, (tuple(ours.shape), tuple(ref.shape))
    return ((ours.double() - ref.double()).abs().max() / ref.double().abs().max()).item()


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both fixture pickles converted once into our format (as ``lvg import-reference`` writes them)."""
    root = tmp_path_factory.mktemp("converted")
    return {name: import_reference(_need(CKPT / f"{name}.pkl"), root / name).weights.parent
            for name in ("lres_small", "sres_small")}


# ============================================================================================ equivalence
def test_converted_lowres_reproduces_both_recorded_videos(converted: dict[str, Path]) -> None:
    G = load_generator(converted["lres_small"], "lowres")
    meta = _fixture_json()["lres_small"]
    kwargs = meta["constructor_kwargs"]
    assert (G.cfg.height, G.cfg.width) == (kwargs["out_height"], kwargs["out_width"]) == (36, 64)
    assert G.cfg.num_filters == kwargs["embedding_kwargs"]["blur_widths"] == 8 and G.cfg.noise_channels == 8
    assert G.cfg.temporal_emb_dim == kwargs["temporal_emb_dim"] and G.cfg.w_dim == kwargs["latent_w_dim"]
    assert G.cfg.temporal_channels == (32, 32, 32, 32, 16, 16) and G.cfg.spatial_channels == (16, 16, 8, 8)
    assert (G.cfg.min_footprint, G.cfg.max_footprint, G.cfg.temporal_padding) == (125, 5000, 8)
    assert (G.cfg.latent_margin, G.cfg.style_norm) == (0, "clip")  # the reference's arithmetic
    assert sum(p.numel() for p in G.parameters()) == meta["num_params"] == 316_491
    t = _tensors("lres_small")
    errors = {}
    with torch.no_grad():
        for call in meta["calls"]:  # the reference drew one randn for the whole window: feed its noise
            noise, ref = t[call["noise"]], t[call["video"]]
            assert noise.shape[-1] == G.noise_length(call["seq_length"])
            errors[call["seq_length"]] = rel_err(G.synthesize(noise, call["seq_length"]), ref)
    assert max(errors.values()) <= RTOL, errors


@pytest.mark.slow
def test_converted_superres_reproduces_the_recorded_video(converted: dict[str, Path]) -> None:
    G = load_generator(converted["sres_small"], "superres")
    meta = _fixture_json()["sres_small"]
    kwargs = meta["constructor_kwargs"]
    cfg = G.cfg
    assert (cfg.lr_height, cfg.lr_width, cfg.hr_height, cfg.hr_width) == (18, 32, 72, 128)
    assert (cfg.temporal_context, cfg.z_dim, cfg.w_dim, cfg.margin_size) == (
        kwargs["temporal_context"], kwargs["latent_z_dim"], kwargs["latent_w_dim"], kwargs["margin_size"])
    assert (cfg.channel_base, cfg.channel_max) == (1024, 32)  # "channel_base 32768->1024, channel_max 512->32"
    assert sum(p.numel() for p in G.parameters()) == meta["num_params"] == 191_177
    t = _tensors("sres_small")
    with torch.no_grad():
        out = G(t["sres.input.lr_video"], t["sres.input.z"])
    assert rel_err(out, t["sres.output.video"]) <= RTOL


def test_provenance_names_the_source_and_every_tensor(converted: dict[str, Path]) -> None:
    for name, kind, n_dropped in (("lres_small", "lowres", 0), ("sres_small", "superres", 1)):
        doc = json.loads((converted[name] / "G_ema.json").read_text())
        prov = doc["imported_from"]
        data = (CKPT / f"{name}.pkl").read_bytes()
        assert prov["source"] == {"file": f"{name}.pkl", "path": str((CKPT / f"{name}.pkl").resolve()),
                                  "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        assert prov["kind"] == kind and doc["model"] == prov["model"]
        assert prov["reference"]["root_class"] == "VideoGenerator"
        assert prov["reference"]["repository"] == "NVlabs/long-video-gan"
        assert set(prov["reference"]["module_src_sha256"]) <= set(prov["reference"]["classes"])
        assert doc["generator"] == load_generator(converted[name], kind).cfg.to_dict()
        mapping = prov["mapping"]
        names = set(_fixture_json()[name]["state_dict"])
        assert mapping["loaded"] + len(mapping["verified"]) + len(mapping["dropped"]) == len(names)
        assert set(mapping["verified"]) | set(mapping["dropped"]) <= names and len(mapping["dropped"]) == n_dropped
        assert all(err <= 1e-6 for err in mapping["verified"].values())


# ============================================================================================ structure
@pytest.mark.parametrize("kind,keys,make", [
    ("lowres", "lres_paper_keys.json",
     lambda: VideoGenerator(GeneratorConfig.paper(height=36, width=64, latent_margin=0, style_norm="clip"))),
    ("superres", "sres_paper_keys.json", lambda: SRGenerator(SRGeneratorConfig.paper())),
])
def test_full_size_names_map_onto_the_paper_presets(kind: str, keys: str, make) -> None:
    doc = json.loads(_need(CKPT / keys).read_text())
    shapes = {k: tuple(v["shape"]) for k, v in doc["state_dict"].items()}
    with torch.device("meta"):
        G = make()
    plan = plan_for_names(kind, list(shapes), G)
    assert plan.check(shapes, G) == []  # same shape for every name, every tensor of ours filled exactly once
    accounted = set(plan.loaded) | set(plan.verified) | set(plan.dropped)
    assert accounted == set(shapes) and len(plan.loaded) + len(plan.verified) + len(plan.dropped) == len(shapes)
    assert sorted(plan.loaded.values()) == sorted(G.state_dict())
    assert set(plan.dropped) == ({"SG3.mapping.w_avg"} if kind == "superres" else set())
    n_params = sum(p.numel() for p in G.parameters())
    assert n_params == doc["num_params"] == {"lowres": 83_215_939, "superres": 27_169_940}[kind]


# ============================================================================================ bad input
MARKER_CODE = "open({!r}, 'w').write('pwned')"


def _persistent_stub(meta):  # never called: stands in for the reference function when writing test pickles
    raise AssertionError("test pickles are only written here, never loaded with pickle.load")


@pytest.fixture
def reference_writer(monkeypatch: pytest.MonkeyPatch):
    """A writer of reference-format pickles (``torch_utils.persistence`` records) from :class:`Record` trees,
    so tests can alter a reference checkpoint (its tensors, its module_src) and write it back."""
    pkg, mod = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")
    _persistent_stub.__module__, _persistent_stub.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    mod._reconstruct_persistent_obj = _persistent_stub
    pkg.persistence = mod
    monkeypatch.setitem(sys.modules, "torch_utils", pkg)
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", mod)
    containers = {"torch.nn.modules.container.ModuleList": torch.nn.ModuleList,
                  "torch.nn.modules.linear.Identity": torch.nn.Identity}

    def plain(x):  # torch containers become real (empty) torch objects carrying the recorded __dict__
        if isinstance(x, Record) and not x.persistent:
            module = containers[x.class_name].__new__(containers[x.class_name])
            module.__dict__.update(plain(x.state))
            return module
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return x

    class Writer(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, Record) and obj.persistent:
                meta = {"type": "class", "version": obj.version, "module_src": getattr(obj, "module_src", "# stub\n"),
                        "class_name": obj.class_name, "state": plain(obj.state)}
                return _persistent_stub, (meta,)
            return NotImplemented

    def write(root: Record, path: Path) -> Path:
        buf = io.BytesIO()
        Writer(buf, protocol=4).dump(root)
        path.write_bytes(buf.getvalue())
        return path

    return write


def _records() -> Record:
    return copy.deepcopy(load_records(LRES)[0])


def _module(root: Record, dotted: str) -> Record:
    rec = root
    for part in dotted.split("."):
        rec = rec.state["_modules"][part]
    return rec


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def _cases(tmp: Path, marker: Path, write) -> Iterator[tuple[str, Path, list[str]]]:
    """(case, file, substrings the error must contain) for every kind of bad input."""
    p = tmp / "system.pkl"
    p.write_bytes(pickle.dumps({"G_ema": Evil(os.system, f"touch {marker}")}))
    yield "os.system reducer", p, [f"refused global {os.system.__module__}.system"]
    p = tmp / "eval.pkl"
    p.write_bytes(pickle.dumps(Evil(builtins.eval, MARKER_CODE.format(str(marker)))))
    yield "builtins.eval reducer", p, ["refused global builtins.eval"]
    p = tmp / "counter.pkl"
    p.write_bytes(pickle.dumps(__import__("collections").Counter(a=1)))
    yield "unknown global", p, ["refused global collections.Counter"]
    evil = Record("Exploit", {"_parameters": {}, "_buffers": {}, "_modules": {}}, persistent=True, version=6)
    evil.module_src = MARKER_CODE.format(str(marker))
    yield "persistent object with a file-writing module_src", write(evil, tmp / "exploit.pkl"), [
        "Exploit", "neither LongVideoGAN generator"]
    p = tmp / "dict.pkl"
    p.write_bytes(pickle.dumps({"G_ema": [1, 2, 3]}))
    yield "not a reference checkpoint", p, ["holds a dict", "not a reference G_ema pickle"]
    p = tmp / "saved.pt"
    torch.save({"w": torch.zeros(2)}, p)
    yield "torch.save archive", p, ["zip archive"]
    data = LRES.read_bytes()
    p = tmp / "truncated.pkl"
    p.write_bytes(data[: len(data) // 2])
    yield "truncated file", p, ["truncated pickle"]
    p = tmp / "empty.pkl"
    p.write_bytes(b"")
    yield "empty file", p, ["empty file"]

    class Pid(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage:0" if isinstance(obj, str) and obj == "x" else None

    buf = io.BytesIO()
    Pid(buf, protocol=4).dump({"a": "x"})
    p = tmp / "persid.pkl"
    p.write_bytes(buf.getvalue())
    yield "persistent id", p, ["refused persistent id 'storage:0'"]

    root = _records()
    _module(root, "temporal_layers.2").state["_parameters"]["weight_1"] = torch.zeros(32, 7, 3, 3)
    yield "tensor shape fits no generator", write(root, tmp / "shape.pkl"), [
        "'temporal_layers.2.weight_1' has shape [32, 7, 3, 3]", "[32, 32, 3, 3, 3]"]
    root = _records()
    del _module(root, "spatial_layers.1").state["_parameters"]["bias_0"]
    yield "missing tensor", write(root, tmp / "missing.pkl"), ["missing tensor", "spatial_blocks.1.bias0"]
    root = _records()
    root.state["_buffers"]["extra_noise"] = torch.zeros(3)
    yield "unused tensor", write(root, tmp / "unused.pkl"), ["unused tensor", "'extra_noise'"]
    root = _records()
    _module(root, "temporal_layers.4").state["out_channels"] = 24  # disagrees with the next block's input
    yield "inconsistent channel widths", write(root, tmp / "widths.pkl"), [
        "temporal_layers.5.in_channels 16 != the previous layer's 24 channels"]
    root = _records()
    _module(root, "temporal_emb").state["_buffers"]["blur_filters"] = torch.rand(8, 1, 5000)
    yield "a filter bank lvg does not design", write(root, tmp / "filters.pkl"), [
        "'temporal_emb.blur_filters' differs from the filter lvg designs"]


def test_bad_input_is_refused_naming_the_file_and_nothing_runs(tmp_path: Path, reference_writer) -> None:
    marker = tmp_path / "side_effect"
    out = tmp_path / "out"
    good = import_reference(LRES, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    seen = []
    for case, path, needles in _cases(tmp_path, marker, reference_writer):
        with pytest.raises(InputError) as err:
            import_reference(path, out)
        msg = str(err.value)
        assert err.value.path == str(path) and msg.startswith(f"{path}: "), (case, msg)
        for needle in needles:
            assert needle in msg, (case, msg)
        assert not marker.exists(), case  # nothing from the file was executed
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before, case  # output untouched
        seen.append(case)
    assert len(seen) == 14 and good.kind == "lowres"


def test_module_src_is_data_a_valid_network_imports_and_nothing_runs(tmp_path: Path, reference_writer) -> None:
    marker = tmp_path / "side_effect"
    root = _records()
    root.module_src = MARKER_CODE.format(str(marker))  # what the reference stores: the module's source
    path = reference_writer(root, tmp_path / "lres_evil_src.pkl")
    result = import_reference(path, tmp_path / "out")
    assert not marker.exists()
    srcs = result.provenance["reference"]["module_src_sha256"]
    assert srcs["VideoGenerator"] == hashlib.sha256(root.module_src.encode()).hexdigest()  # recorded, not run
    ours = load_generator(result.weights, "lowres").state_dict()
    direct = load_generator(import_reference(LRES, tmp_path / "plain").weights, "lowres").state_dict()
    assert all(torch.equal(ours[k], direct[k]) for k in direct)  # the rewritten file holds the same network


def test_the_loader_allows_only_the_documented_globals() -> None:
    """The fixture README's list, plus NumPy 1.x spellings and EasyDict, and nothing else."""
    documented = {"torch_utils.persistence._reconstruct_persistent_obj", "torch._utils._rebuild_tensor_v2",
                  "torch._utils._rebuild_parameter", "torch.storage._load_from_bytes", "collections.OrderedDict",
                  "torch.nn.modules.container.ModuleList", "torch.nn.modules.linear.Identity", "numpy.dtype",
                  "numpy.ndarray", "dnnlib.util.EasyDict"}
    documented |= {f"numpy.{core}.multiarray.{n}" for core in ("_core", "core") for n in ("scalar", "_reconstruct")}
    assert {f"{m}.{n}" for m, n in ALLOWED} == documented
    root, _ = load_records(SRES)  # numpy arrays and scalars come back as data
    layer = root.modules["SG3"].modules["synthesis"].modules["L0_36_29_32"]
    assert isinstance(layer.state["in_size"], np.ndarray) and layer.state["in_size"].tolist() == [36, 29]
    assert len(named_tensors(root)) == len(_fixture_json()["sres_small"]["state_dict"])


def test_wrong_stage_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="super-resolution generator, a low-resolution one is needed"):
        convert_file(SRES, kind="lowres")


@pytest.mark.slow
def test_cli_import_reference_and_its_errors(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "lvg.cli", "import-reference"]
    ok = subprocess.run([*run, str(SRES), "--out", str(tmp_path / "sr")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "superres generator, 191,177 parameters" in ok.stdout and (tmp_path / "sr/G_ema.json").is_file()
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(Evil(os.system, "true")))
    proc = subprocess.run([*run, str(bad), "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "x").exists()
    assert proc.stderr.strip().splitlines() == [
        f"lvg import-reference: error: {bad}: refused global {os.system.__module__}.system: not one of the "
        f"{len(ALLOWED)} globals a reference G_ema pickle uses (nothing from the file was executed)"]


# ============================================================================================ use
def test_generate_takes_the_pickle_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            converted: dict[str, Path]) -> None:
    monkeypatch.setenv("LVG_CACHE_DIR", str(tmp_path / "cache"))
    paths = generate(LRES, None, seed=3, t0=40, num_frames=8, out_dir=tmp_path / "out", lr_grid=32)
    cached = cached_import(LRES)
    assert cached.parent == tmp_path / "cache/reference" and cached.name == hashlib.sha256(
        LRES.read_bytes()).hexdigest()
    stamp = (cached / "G_ema.safetensors").stat().st_mtime_ns
    assert cached_import(LRES) == cached and (cached / "G_ema.safetensors").stat().st_mtime_ns == stamp  # reused
    info = json.loads(paths["info"].read_text())
    G = load_generator(converted["lres_small"], "lowres")
    assert info["models"]["lowres"] == json.loads((cached / "G_ema.json").read_text())["imported_from"]["model_id"]
    frames = generate_lowres(G, 3, 40, 8, lr_grid=32)  # the converted folder makes the same frames
    again = generate_lowres(load_generator(cached, "lowres"), 3, 40, 8, lr_grid=32)
    assert frames.shape == (3, 8, 36, 64) and torch.equal(frames, again)
    with pytest.raises(InputError, match="a low-resolution one is needed"):
        generate(SRES, None, seed=0, t0=0, num_frames=4, out_dir=tmp_path / "bad")
