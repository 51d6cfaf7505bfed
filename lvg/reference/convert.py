"""Reference records -> our generator: infer the configuration, map every tensor by name, load and verify.

Why inference and not presets: a released file is the only description of its network that a user has. So
the configuration comes from what the pickled state holds (sizes, channel widths, filter-bank and mapping
settings, temporal context, z/w sizes, every SR layer's sampling rates, cutoffs and sizes), the network is
built from it in its **reference-arithmetic mode** (LR: ``latent_margin=0, style_norm="clip"``, the
reference's forward pass for a given noise tensor), and every layer-level fact the state records is checked
against what our network derives from that configuration. A file whose state fits no generator we can build
is refused, naming the tensor or attribute and both values.

Why a complete mapping: a tensor that silently keeps its random init, or a reference tensor silently
ignored, would give a network that runs and is wrong. :class:`TensorPlan` puts every reference tensor in
exactly one of three places:

* ``loaded``: copied into our state dict under our name (``spatial_input`` is reshaped, nothing else);
* ``verified``: a fixed filter that our network designs itself (the filter bank, the Kaiser and linear
  resampling filters, the SR layers' up/down filters): it must equal ours, to 1e-6 relative;
* ``dropped``: not needed, with the reason (only the SR mapping's ``w_avg``, used for truncation, which
  LongVideoGAN never applies).

A reference tensor that fits none of them, or a tensor of ours that no reference tensor fills, is an error.
The same name rules serve the structural check of the full-size networks (:func:`plan_for_names`): the
names and shapes of the released files map onto our ``paper`` presets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lvg.lowres.generator import GeneratorConfig, VideoGenerator
from lvg.nn.resample import BINOMIAL4
from lvg.reference.unpickle import Record, iter_modules, named_tensors
from lvg.superres.conditioning import CUTOFF, FILTER_SIZE, SAMPLING_RATE, WIDTH
from lvg.superres.generator import SRGenerator, SRGeneratorConfig, layer_schedule

__all__ = ["Converted", "MappingError", "TensorPlan", "convert_records", "detect_kind", "infer_lowres_config",
           "infer_superres_config", "plan_for_names"]

LOWRES, SUPERRES = "lowres", "superres"
REFERENCE_CLASSES = {LOWRES: "model/generator_lres.py:VideoGenerator", SUPERRES: "model/generator_sres.py:VideoGenerator"}
VERIFY_RTOL = 1e-6  # designed filters: max|ours - ref| / max|ref|
REFERENCE_ARITHMETIC = {"latent_margin": 0, "style_norm": "clip"}


class MappingError(ValueError):
    """The records do not describe a generator lvg can build (the message says what and where)."""


# ============================================================================================ helpers
def _get(rec: Record, name: str, types: type | tuple[type, ...], where: str) -> Any:
    if name not in rec.state:
        raise MappingError(f"{where} ({rec.class_name}) has no attribute {name!r}")
    v = rec.state[name]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise MappingError(f"{where}.{name} = {v!r}: expected {types}")
    if not isinstance(v, types):
        raise MappingError(f"{where}.{name} = {v!r}: expected {types}")
    return v


def _expect(rec: Record, name: str, want: Any, where: str, why: str = "") -> None:
    got = rec.state.get(name)
    if isinstance(got, np.generic):
        got = got.item()
    ok = math.isclose(got, want, rel_tol=1e-12) if isinstance(want, float) and isinstance(got, (int, float)) else got == want
    if not ok:
        raise MappingError(f"{where}.{name} = {got!r}, lvg supports only {want!r}{' (' + why + ')' if why else ''}")


def _sub(rec: Record, name: str, cls: str | None, where: str) -> Record:
    sub = rec.modules.get(name)
    if not isinstance(sub, Record):
        raise MappingError(f"{where or rec.class_name} has no submodule {name!r}")
    if cls is not None and sub.class_name != cls:
        raise MappingError(f"{where + '.' if where else ''}{name} is a {sub.class_name}, expected {cls}")
    return sub


def _children(rec: Record, where: str) -> list[Record]:
    subs = rec.modules
    keys = sorted(subs, key=lambda k: int(k) if k.isdigit() else -1)
    if [str(i) for i in range(len(keys))] != keys or not all(isinstance(subs[k], Record) for k in keys):
        raise MappingError(f"{where}: expected a ModuleList of modules 0..n-1, got {list(subs)}")
    return [subs[k] for k in keys]


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in t.shape)


def _num(x: Any) -> float:
    return float(x.item() if isinstance(x, np.generic) else x)


def detect_kind(root: Record) -> str:
    """``"lowres"`` or ``"superres"`` from the root class and its submodules, else :class:`MappingError`."""
    subs = set(root.modules)
    if root.class_name == "VideoGenerator" and {"temporal_emb", "latent_mapping", "temporal_layers"} <= subs:
        return LOWRES
    if root.class_name == "VideoGenerator" and "SG3" in subs:
        return SUPERRES
    raise MappingError(f"the pickled object is a {root.class_name} with submodules {sorted(subs)}: neither "
                       "LongVideoGAN generator (model/generator_lres.py or generator_sres.py:VideoGenerator)")


# ============================================================================================ tensor plans
@dataclass
class TensorPlan:
    """Where every reference tensor goes (see the module docstring)."""

    loaded: dict[str, str] = field(default_factory=dict)  # reference name -> our state-dict name
    reshape: dict[str, Callable[[Tensor], Tensor]] = field(default_factory=dict)  # ref layout -> ours
    verified: dict[str, Callable[[nn.Module], Tensor]] = field(default_factory=dict)  # our tensor, ref layout
    dropped: dict[str, str] = field(default_factory=dict)  # reference name -> why it is not needed

    def check(self, ref_shapes: dict[str, tuple[int, ...]], G: nn.Module) -> list[str]:
        """Every problem of this plan against ``G`` (shapes only: works on the meta device too)."""
        problems = []
        ours = {k: _shape(v) for k, v in G.state_dict().items()}
        targets: dict[str, str] = {}
        for ref, name in self.loaded.items():
            if name in targets:
                problems.append(f"tensors {targets[name]!r} and {ref!r} both map onto our {name!r}")
            targets[name] = ref
            if name not in ours:
                problems.append(f"tensor {ref!r} maps onto {name!r}, which the inferred generator does not have")
                continue
            shape = ref_shapes[ref]
            if ref in self.reshape:
                try:
                    shape = _shape(self.reshape[ref](torch.empty(shape, device="meta")))
                except (RuntimeError, ValueError, IndexError) as e:
                    problems.append(f"tensor {ref!r} has shape {list(ref_shapes[ref])}: cannot become our "
                                    f"{name!r} {list(ours[name])} ({e})")
                    continue
            if shape != ours[name]:
                problems.append(f"tensor {ref!r} has shape {list(ref_shapes[ref])}, the inferred generator's "
                                f"{name!r} has {list(ours[name])}")
        for name in sorted(set(ours) - set(targets)):
            problems.append(f"missing tensor: nothing in the pickle fills our {name!r}")
        for ref, fn in self.verified.items():
            want = _shape(fn(G))
            if ref_shapes[ref] != want:
                problems.append(f"tensor {ref!r} has shape {list(ref_shapes[ref])}, the filter lvg designs has "
                                f"{list(want)}")
        return problems


def _unused(names: list[str]) -> MappingError:
    shown = ", ".join(repr(n) for n in names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
    return MappingError(f"unused tensor(s) {shown}: no counterpart in lvg's generator")


# ---- low-res --------------------------------------------------------------------------------------------
_LR_BLOCK = {
    "weight_0": "conv0.weight", "affine_0.weight": "conv0.affine.weight", "affine_0.bias": "conv0.affine.bias",
    "bias_0": "bias0", "weight_1": "conv1.weight", "affine_1.weight": "conv1.affine.weight",
    "affine_1.bias": "conv1.affine.bias", "weight_skip": "skip_weight", "bias_1": "bias1",
    "input_magnitude_ema_0.magnitude_ema": "gain0.magnitude_ema",
    "input_magnitude_ema_1.magnitude_ema": "gain1.magnitude_ema",
}
_LR_TO_RGB = {"weight": "conv.weight", "bias": "bias", "affine.weight": "conv.affine.weight",
              "affine.bias": "conv.affine.bias", "input_magnitude_ema.magnitude_ema": "gain.magnitude_ema"}
_LR_BLOCK_RE = re.compile(r"^(temporal|spatial)_layers\.(\d+)\.(.+)$")
_LR_MAPPING_RE = re.compile(r"^latent_mapping\.layer_(\d+)\.(weight|bias)$")


def _binomial4(G: nn.Module) -> Tensor:
    return torch.tensor(BINOMIAL4, dtype=torch.float32, device=G.const.device)


def _const_layout(t: Tensor) -> Tensor:
    """``spatial_input [1, C, 1, h, w]`` (batch and time broadcast axes) -> our ``const [C, h, w]``."""
    if t.ndim != 5 or t.shape[0] != 1 or t.shape[2] != 1:
        raise ValueError("expected [1, C, 1, h, w]")
    return t.reshape(t.shape[1], t.shape[3], t.shape[4])


def plan_lowres(names: list[str]) -> TensorPlan:
    """The tensor plan of a reference LR generator from its state-dict names."""
    plan, unused = TensorPlan(), []
    for ref in names:
        if ref == "spatial_input":
            plan.loaded[ref], plan.reshape[ref] = "const", _const_layout
        elif m := _LR_MAPPING_RE.match(ref):
            plan.loaded[ref] = f"mapping.layers.{m[1]}.{m[2]}"
        elif ref in ("w_to_temp_input.weight", "w_to_temp_input.bias"):
            plan.loaded[ref] = "w_to_input." + ref.rsplit(".", 1)[1]
        elif ref.startswith("to_rgb.") and ref[len("to_rgb."):] in _LR_TO_RGB:
            plan.loaded[ref] = "to_rgb." + _LR_TO_RGB[ref[len("to_rgb."):]]
        elif (m := _LR_BLOCK_RE.match(ref)) and m[3] in _LR_BLOCK:
            plan.loaded[ref] = f"{m[1]}_blocks.{m[2]}.{_LR_BLOCK[m[3]]}"
        elif (m := _LR_BLOCK_RE.match(ref)) and m[3] in ("temporal_upsample.filter", "spatial_upsample.filter"):
            plan.verified[ref] = _binomial4  # our linear x2 upsamplers hard-code [1, 3, 3, 1] / 8
        elif ref == "temporal_emb.blur_filters":
            plan.verified[ref] = lambda G: G.filter_bank.filters[:, None, :]
        elif ref == "temporal_emb.output_scale":
            plan.verified[ref] = lambda G: G.filter_bank.scale[None, :, None]
        elif ref == "temporal_downsample_latent.filter":
            plan.verified[ref] = lambda G: G.latent_taps
        else:
            unused.append(ref)
    if unused:
        raise _unused(unused)
    return plan


# ---- super-res --------------------------------------------------------------------------------------------
_SR_LAYER_RE = re.compile(r"^SG3\.synthesis\.(L(\d+)_\d+_\d+_\d+)\.(.+)$")
_SR_LAYER = {"weight": "weight", "bias": "bias", "magnitude_ema": "magnitude.magnitude_ema",
             "affine.weight": "affine.weight", "affine.bias": "affine.bias"}
_SR_MAPPING_RE = re.compile(r"^SG3\.mapping\.fc(\d+)\.(weight|bias)$")
_SR_RESAMPLE_RE = re.compile(r"^SG3\.resamples\.(\d+)\.filter$")


def plan_superres(names: list[str], layer_names: list[str]) -> TensorPlan:
    """The tensor plan of a reference SR generator; ``layer_names`` are ours (``L<i>_<W>_<H>_<C>``), which
    the reference names must equal layer by layer."""
    plan, unused = TensorPlan(), []
    for ref in names:
        if m := _SR_LAYER_RE.match(ref):
            i = int(m[2])
            if i >= len(layer_names) or layer_names[i] != m[1]:
                want = layer_names[i] if i < len(layer_names) else "none"
                raise MappingError(f"tensor {ref!r}: layer {m[1]} does not match the inferred generator's layer "
                                   f"{i} ({want})")
            if m[3] in _SR_LAYER:
                plan.loaded[ref] = f"layers.{i}.{_SR_LAYER[m[3]]}"
            elif m[3] in ("up_filter", "down_filter"):
                plan.verified[ref] = lambda G, i=i, k=m[3]: getattr(G.layers[i], k)
            else:
                unused.append(ref)
        elif m := _SR_MAPPING_RE.match(ref):
            plan.loaded[ref] = f"mapping.layers.{m[1]}.{m[2]}"
        elif m := _SR_RESAMPLE_RE.match(ref):
            plan.verified[ref] = lambda G, i=int(m[1]): _sr_resample_filter(G, i)
        elif ref == "SG3.mapping.w_avg":
            plan.dropped[ref] = ("running average of w, used only for truncation, which LongVideoGAN's SR "
                                 "network never applies")
        else:
            unused.append(ref)
    if unused:
        raise _unused(unused)
    return plan


def _sr_resample_filter(G: nn.Module, i: int) -> Tensor:
    cond = G.conditioning
    if i >= len(cond.layer_keys):
        raise MappingError(f"SG3.resamples.{i}: the inferred generator has {len(cond.layer_keys)} layers")
    module = cond.resamplers[cond.layer_keys[i]]
    if not hasattr(module, "filter"):
        raise MappingError(f"SG3.resamples.{i}.filter: our layer {i} resamples by {cond.layer_keys[i]}, "
                           "which has no filter")
    return module.filter


def plan_for_names(kind: str, names: list[str], G: nn.Module) -> TensorPlan:
    """The plan for ``kind`` (``"lowres"`` / ``"superres"``) from reference names (and, for SR, ``G``'s layers)."""
    return plan_lowres(names) if kind == LOWRES else plan_superres(names, G.layer_names)


# ============================================================================================ low-res config
def infer_lowres_config(root: Record) -> GeneratorConfig:
    """The :class:`GeneratorConfig` (reference-arithmetic mode) the LR records describe, checked for
    everything lvg's generator fixes (padding, activations, filter designs, demodulation)."""
    w = "VideoGenerator"
    height, width = _get(root, "out_height", int, w), _get(root, "out_width", int, w)
    _expect(root, "spatial_padding", 0, w)
    temporal_padding = _get(root, "temporal_padding", int, w)
    output_scale = _num(_get(root, "output_scale", (int, float), w))

    emb = _sub(root, "temporal_emb", "BlurredNoise", "")
    we = "temporal_emb"
    noise_channels, num_filters = _get(emb, "noise_channels", int, we), _get(emb, "blur_widths", int, we)
    for name, want in (("cutoff", 2.0), ("width", 12.0), ("sampling_rate_base", 2.0), ("normalize_per_filter", 1.0)):
        _expect(emb, name, want, we, "lvg's filter bank design")
    min_rate = _num(_get(emb, "min_sampling_rate", (int, float), we))
    max_rate = _num(_get(emb, "max_sampling_rate", (int, float), we))
    min_fp, max_fp = (int(r / 2) if (r / 2).is_integer() else r / 2 for r in (min_rate, max_rate))
    emb_dim = _get(root, "temporal_emb_dim", int, w)
    if emb_dim != noise_channels * num_filters or _get(emb, "channels", int, we) != emb_dim:
        raise MappingError(f"temporal_emb_dim {emb_dim} != noise_channels {noise_channels} x blur_widths "
                           f"{num_filters}")
    if _get(emb, "kernel_size", int, we) != math.ceil(max_fp):
        raise MappingError(f"temporal_emb.kernel_size {emb.state['kernel_size']} != ceil(max_sampling_rate / 2)")

    mapping = _sub(root, "latent_mapping", "LatentMappingNetwork", "")
    wm = "latent_mapping"
    _expect(mapping, "normalize_input", True, wm)
    _expect(mapping, "activation", "lrelu", wm)
    w_dim = _get(root, "latent_w_dim", int, w)
    if _get(mapping, "latent_w_dim", int, wm) != w_dim or _get(mapping, "temporal_emb_dim", int, wm) != emb_dim:
        raise MappingError("latent_mapping dims disagree with VideoGenerator.latent_w_dim / temporal_emb_dim")
    mapping_layers = _get(mapping, "num_layers", int, wm)
    lr_mul = _num(_get(mapping, "lrate_mul", (int, float), wm))

    down = _sub(root, "temporal_downsample_latent", "TemporalKaiserDownsample", "")
    for name, want in (("scale", 2), ("filter_size", 6), ("cutoff", 1.0), ("width", 6.0), ("sampling_rate", 4.0)):
        _expect(down, name, want, "temporal_downsample_latent", "lvg's w-schedule filter")

    spatial_input = root.parameters.get("spatial_input")
    if spatial_input is None or spatial_input.ndim != 5:
        raise MappingError("VideoGenerator has no 5-d parameter 'spatial_input' [1, C, 1, h, w]")
    input_channels = int(spatial_input.shape[1])

    def blocks(name: str) -> list[Record]:
        recs = _children(_sub(root, name, "torch.nn.modules.container.ModuleList", ""), name)
        for i, b in enumerate(recs):
            where = f"{name}.{i}"
            if b.class_name != "Synthesis3dResBlock":
                raise MappingError(f"{where} is a {b.class_name}, expected Synthesis3dResBlock")
            _expect(b, "activation", "lrelu", where)
            _expect(b, "magnitude_ema", True, where)
            _expect(b, "demodulate", True, where)
            if _get(b, "latent_dim", int, where) != w_dim:
                raise MappingError(f"{where}.latent_dim {b.state['latent_dim']} != latent_w_dim {w_dim}")
        return recs

    temporal, spatial = blocks("temporal_layers"), blocks("spatial_layers")
    if not temporal:
        raise MappingError("temporal_layers is empty")

    def one(recs: list[Record], attr: str, where: str) -> Any:
        values = {(_num(r.state.get(attr)) if isinstance(r.state.get(attr), (int, float, np.generic)) else
                   r.state.get(attr)) for r in recs}
        if len(values) != 1:
            raise MappingError(f"{where}: blocks differ in {attr} ({sorted(map(str, values))}); lvg's generator "
                               "shares it")
        return values.pop()

    temporal_ksize = one(temporal, "temporal_ksize", "temporal_layers")
    spatial_ksize = one([*temporal, *spatial], "spatial_ksize", "temporal/spatial_layers")
    if spatial and one(spatial, "temporal_ksize", "spatial_layers") != 1:
        raise MappingError("spatial_layers must have temporal_ksize 1")
    to_rgb = _sub(root, "to_rgb", "ToRGB", "")
    clamp = one([*temporal, *spatial, to_rgb], "activation_clamp", "blocks and to_rgb")
    _expect(to_rgb, "magnitude_ema", True, "to_rgb")

    chans = [input_channels]
    for where, recs in (("temporal_layers", temporal), ("spatial_layers", spatial)):
        for i, b in enumerate(recs):
            cin, cout = _get(b, "in_channels", int, f"{where}.{i}"), _get(b, "out_channels", int, f"{where}.{i}")
            if cin != chans[-1]:
                raise MappingError(f"{where}.{i}.in_channels {cin} != the previous layer's {chans[-1]} channels")
            chans.append(cout)
    if _get(to_rgb, "in_channels", int, "to_rgb") != chans[-1]:
        raise MappingError(f"to_rgb.in_channels {to_rgb.state['in_channels']} != the last block's {chans[-1]}")

    cfg = GeneratorConfig(
        height=height, width=width, noise_channels=noise_channels, num_filters=num_filters, min_footprint=min_fp,
        max_footprint=max_fp, w_dim=w_dim, mapping_layers=mapping_layers, mapping_lr_mul=lr_mul,
        input_channels=input_channels,
        temporal_channels=tuple(_get(b, "out_channels", int, "") for b in temporal),
        temporal_up=tuple(_get(b, "temporal_up", bool, f"temporal_layers.{i}") for i, b in enumerate(temporal)),
        temporal_spatial_up=tuple(_get(b, "spatial_up", bool, f"temporal_layers.{i}") for i, b in enumerate(temporal)),
        spatial_channels=tuple(_get(b, "out_channels", int, "") for b in spatial),
        spatial_up=tuple(_get(b, "spatial_up", bool, f"spatial_layers.{i}") for i, b in enumerate(spatial)),
        temporal_ksize=int(temporal_ksize), spatial_ksize=int(spatial_ksize), temporal_padding=temporal_padding,
        output_scale=output_scale, clamp=float(clamp), **REFERENCE_ARITHMETIC)

    # the sizes the reference records per block must be the ones our generator derives from (H, W)
    if root.state.get("total_temporal_scale", cfg.temporal_scale) != cfg.temporal_scale:
        raise MappingError(f"total_temporal_scale {root.state['total_temporal_scale']} != 2 ** (temporal "
                           f"upsamplings) = {cfg.temporal_scale}")
    if root.state.get("total_spatial_scale", cfg.spatial_scale) != cfg.spatial_scale:
        raise MappingError(f"total_spatial_scale {root.state['total_spatial_scale']} != {cfg.spatial_scale}")
    with torch.device("meta"):
        ours = VideoGenerator(cfg)
    size = (int(spatial_input.shape[3]), int(spatial_input.shape[4]))
    if tuple(ours.const.shape[1:]) != size:
        raise MappingError(f"spatial_input is {size[0]}x{size[1]}, a {height}x{width} generator starts at "
                           f"{ours.const.shape[1]}x{ours.const.shape[2]}")
    for where, recs, mods in (("temporal_layers", temporal, ours.temporal_blocks),
                              ("spatial_layers", spatial, ours.spatial_blocks)):
        for i, (b, m) in enumerate(zip(recs, mods, strict=True)):
            h = 2 * size[0] if m.spatial_up else size[0]
            wd = 2 * size[1] if m.spatial_up else size[1]
            out = (b.state.get("out_height"), b.state.get("out_width"))
            size = (h, wd) if out == (None, None) else (int(out[0]), int(out[1]))
            if size != m.out_size:
                raise MappingError(f"{where}.{i} outputs {size[0]}x{size[1]}, lvg's {height}x{width} generator "
                                   f"{m.out_size[0]}x{m.out_size[1]} there")
    if size != (height, width):
        raise MappingError(f"the blocks end at {size[0]}x{size[1]}, not out_height x out_width {height}x{width}")
    return cfg


# ============================================================================================ super-res config
_SR_LAYER_ATTRS = ("is_torgb", "is_critically_sampled", "use_fp16", "in_channels", "out_channels", "in_size",
                   "out_size", "in_sampling_rate", "out_sampling_rate", "in_cutoff", "out_cutoff",
                   "in_half_width", "out_half_width", "conv_kernel", "up_factor", "down_factor", "up_taps",
                   "down_taps", "padding")


def _ours(spec: Any, attr: str) -> Any:
    """Our :class:`LayerSpec` value in the reference's layout (sizes as ``[W, H]``, padding ``[x0, x1, y0, y1]``)."""
    if attr in ("in_size", "out_size"):
        h, w = getattr(spec, attr)
        return [w, h]
    if attr == "padding":
        return list(spec.padding)
    if attr == "in_channels":
        return spec.in_channels
    return getattr(spec, {"up_factor": "up", "down_factor": "down"}.get(attr, attr))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        a = a.tolist()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def infer_superres_config(root: Record) -> SRGeneratorConfig:
    """The :class:`SRGeneratorConfig` the SR records describe; every synthesis layer's recorded schedule
    (channels, sizes, sampling rates, cutoffs, half-widths, resampling factors, taps, padding, fp16 flags)
    must equal the one our :func:`~lvg.superres.generator.layer_schedule` derives from it."""
    w = "VideoGenerator"
    if _get(root, "fourfeats", bool, w):
        raise MappingError("VideoGenerator.fourfeats = True: lvg's SR network has no Fourier features")
    sg3 = _sub(root, "SG3", "Generator", "")
    syn = _sub(sg3, "synthesis", "SynthesisNetwork", "SG3")
    mapping = _sub(sg3, "mapping", "MappingNetwork", "SG3")
    if _get(mapping, "c_dim", int, "SG3.mapping") != 0:
        raise MappingError("SG3.mapping.c_dim != 0: conditional mappings are not supported")
    names = _get(syn, "layer_names", list, "SG3.synthesis")
    layers = [_sub(syn, n, "SynthesisLayer", "SG3.synthesis") for n in names]
    num_layers = _get(syn, "num_layers", int, "SG3.synthesis")
    if len(layers) != num_layers + 1:
        raise MappingError(f"SG3.synthesis has {len(layers)} layers, num_layers + 1 = {num_layers + 1}")
    fcs = [m for k, m in sorted(mapping.modules.items()) if k.startswith("fc")]
    if not fcs:
        raise MappingError("SG3.mapping has no fc layers")
    lr_mul = _num(_get(fcs[0], "bias_gain", (int, float), "SG3.mapping.fc0"))

    first, last = layers[0], layers[-1]
    resolution = _get(syn, "img_resolution", int, "SG3.synthesis")
    n_crit = _get(syn, "num_critical", int, "SG3.synthesis")
    first_cutoff = _num(first.state.get("in_cutoff"))
    # stopband of layer i is cutoff + half-width wherever that exceeds half its sampling rate
    last_stop = _num(last.state["out_cutoff"]) + _num(last.state["out_half_width"])
    last_cut = resolution / 2
    first_stop = _first_stopband(layers, num_layers, n_crit, resolution, last_stop)
    chans = [_get(layer, "out_channels", int, f"SG3.synthesis.{n}") for n, layer in zip(names, layers, strict=True)]
    cutoffs = [_num(layer.state["out_cutoff"]) for layer in layers]
    channel_max = max(chans[:-1])
    lo, hi = 0.0, math.inf  # channel_base interval from the unsaturated layers: rint(base / 2 / f_c) = c
    for c, f in zip(chans[:-1], cutoffs[:-1], strict=True):
        if c < channel_max:
            lo, hi = max(lo, 2 * f * (c - 0.5)), min(hi, 2 * f * (c + 0.5))
    if hi == math.inf:
        channel_base = int(2 ** math.ceil(math.log2(2 * cutoffs[0] * channel_max)))
    else:
        pow2 = 2 ** round(math.log2((lo + hi) / 2))
        channel_base = int(pow2 if lo <= pow2 <= hi else round((lo + hi) / 2))
    up = [layer for layer in layers if _num(layer.state.get("up_factor", 1)) > 1 and not layer.state.get("is_torgb")]
    filter_size = int(_num(up[0].state["up_taps"]) // _num(up[0].state["up_factor"])) if up else 6
    mid = layers[0]
    lrelu_up = int(_num(mid.state["tmp_sampling_rate"]) // max(_num(mid.state["in_sampling_rate"]),
                                                               _num(mid.state["out_sampling_rate"])))
    clamp = {(_num(layer.state["conv_clamp"]) if layer.state.get("conv_clamp") is not None else None)
             for layer in layers}
    beta = {_num(layer.state["magnitude_ema_beta"]) for layer in layers}
    if len(clamp) != 1 or len(beta) != 1:
        raise MappingError("SG3.synthesis layers differ in conv_clamp or magnitude_ema_beta")
    for i, layer in enumerate(layers):
        if layer.state.get("down_radial") or layer.state.get("up_radial"):
            raise MappingError(f"SG3.synthesis.{names[i]}: radial filters are not supported (config T has none)")
    kernel = _get(first, "conv_kernel", int, f"SG3.synthesis.{names[0]}")

    cfg = SRGeneratorConfig(
        lr_height=_get(root, "lr_height", int, w), lr_width=_get(root, "lr_width", int, w),
        hr_height=_get(root, "hr_height", int, w), hr_width=_get(root, "hr_width", int, w),
        img_channels=_get(syn, "img_channels", int, "SG3.synthesis"),
        temporal_context=_get(root, "temporal_context", int, w),
        z_dim=_get(root, "latent_z_dim", int, w), w_dim=_get(root, "latent_w_dim", int, w),
        mapping_layers=_get(mapping, "num_layers", int, "SG3.mapping"), mapping_lr_mul=lr_mul,
        channel_base=channel_base, channel_max=channel_max, num_layers=num_layers, num_critical=n_crit,
        first_cutoff=first_cutoff, first_stopband=first_stop, last_stopband_rel=last_stop / last_cut,
        margin_size=_get(syn, "margin_size", int, "SG3.synthesis"),
        output_scale=_num(_get(syn, "output_scale", (int, float), "SG3.synthesis")), conv_kernel=kernel,
        filter_size=filter_size, lrelu_upsampling=lrelu_up, conv_clamp=clamp.pop(), magnitude_ema_beta=beta.pop(),
        num_fp16_res=_get(syn, "num_fp16_res", int, "SG3.synthesis"))
    if cfg.resolution != resolution:
        raise MappingError(f"SG3.synthesis.img_resolution {resolution} != max(hr_height, hr_width) "
                           f"{cfg.resolution}")
    for key, want in (("z_dim", cfg.z_dim), ("w_dim", cfg.w_dim), ("img_height", cfg.hr_height),
                      ("img_width", cfg.hr_width), ("cond_height", cfg.lr_height), ("cond_width", cfg.lr_width),
                      ("cond_context", cfg.temporal_context), ("margin_size", cfg.margin_size)):
        if key in sg3.state and _num(sg3.state[key]) != want:
            raise MappingError(f"SG3.{key} = {sg3.state[key]} disagrees with VideoGenerator ({want})")

    try:
        specs = layer_schedule(cfg)
    except ValueError as e:
        raise MappingError(f"the inferred SR configuration is invalid: {e}") from None
    for spec, name, layer in zip(specs, names, layers, strict=True):
        if spec.name != name:
            raise MappingError(f"SG3.synthesis layer {spec.index} is {name}, the inferred schedule gives {spec.name}")
        for attr in _SR_LAYER_ATTRS:
            if attr not in layer.state:
                raise MappingError(f"SG3.synthesis.{name} has no attribute {attr!r}")
            if not _same(layer.state[attr], _ours(spec, attr)):
                raise MappingError(f"SG3.synthesis.{name}.{attr} = {layer.state[attr]!r}, the inferred schedule "
                                   f"gives {_ours(spec, attr)!r}")
    _check_sr_resamples(sg3, cfg)
    return cfg


SG3_FIRST_STOPBAND = 2 ** 2.1  # StyleGAN3's value (config T)


def _first_stopband(layers: list[Record], num_layers: int, n_crit: int, resolution: int, last_stop: float) -> float:
    """``first_stopband`` of the SR schedule from the recorded layers.

    Layer ``i``'s stopband is ``f_t,i = f_t,0 ** (1 - e_i) * f_t,L ** e_i``. Where it exceeds half the
    layer's sampling rate it is recorded exactly (``cutoff + half_width``) and gives ``f_t,0``. Elsewhere
    only the sampling rate depends on it (``s_i = 2 ** ceil(log2(min(2 f_t,i, R)))``), which bounds
    ``f_t,0`` to an interval where every recorded quantity is the same: then StyleGAN3's ``2 ** 2.1`` is
    taken if it lies inside (the networks are identical either way), else the interval's geometric middle.
    """
    lo, hi = -math.inf, math.inf  # bounds on log f_t,0
    log_last = math.log(last_stop)
    for i, layer in enumerate(layers):
        e = min(i / (num_layers - n_crit), 1.0)
        if e >= 1:
            continue
        rate = _num(layer.state["out_sampling_rate"])
        stop = _num(layer.state["out_cutoff"]) + _num(layer.state["out_half_width"])
        if stop > rate / 2 + 1e-9:  # recorded exactly
            return math.exp((math.log(stop) - e * log_last) / (1 - e))
        top = math.log(rate / 2)  # 2 f_t <= rate ...
        bottom = math.log(rate / 4) if rate < resolution else -math.inf  # ... and > rate / 2 unless capped at R
        lo, hi = max(lo, (bottom - e * log_last) / (1 - e)), min(hi, (top - e * log_last) / (1 - e))
    if lo >= hi:
        raise MappingError("the SR layers' sampling rates fit no first_stopband")
    if lo < math.log(SG3_FIRST_STOPBAND) <= hi:
        return SG3_FIRST_STOPBAND
    if math.isinf(lo) or math.isinf(hi):
        raise MappingError("cannot bound first_stopband from the SR layers' sampling rates")
    return math.exp((lo + hi) / 2)


def _check_sr_resamples(sg3: Record, cfg: SRGeneratorConfig) -> None:
    """``SG3.resamples[i]`` (the conditioning's resampler of layer ``i``) against ours."""
    with torch.device("meta"):
        ours = SRGenerator(cfg).conditioning
    recs = _children(_sub(sg3, "resamples", "torch.nn.modules.container.ModuleList", "SG3"), "SG3.resamples")
    if len(recs) != len(ours.layer_keys):
        raise MappingError(f"SG3.resamples has {len(recs)} entries, the generator has {len(ours.layer_keys)} layers")
    for i, (rec, key) in enumerate(zip(recs, ours.layer_keys, strict=True)):
        where = f"SG3.resamples.{i}"
        if key == "identity":
            if rec.class_name != "torch.nn.modules.linear.Identity":
                raise MappingError(f"{where} is a {rec.class_name}, our layer {i} needs no resampling")
            continue
        cls, scale = ("KaiserDownsample", int(key[4:])) if key.startswith("down") else ("KaiserUpsample", int(key[2:]))
        if rec.class_name != cls or _num(rec.state.get("scale", 0)) != scale:
            raise MappingError(f"{where} is a {rec.class_name} by {rec.state.get('scale')}, our layer {i} "
                               f"resamples by {key}")
        for name, want in (("filter_size", FILTER_SIZE), ("cutoff", CUTOFF), ("width", WIDTH),
                           ("sampling_rate", SAMPLING_RATE), ("pad", True)):
            _expect(rec, name, want, where, "lvg's conditioning resampler")


# ============================================================================================ conversion
@dataclass
class Converted:
    """A converted network with what the conversion established."""

    kind: str
    generator: nn.Module
    plan: TensorPlan
    verified_error: dict[str, float]  # reference name -> max|ours - ref| / max|ref| of each designed filter

    def summary(self) -> dict[str, Any]:
        return {"loaded": len(self.plan.loaded), "verified": dict(sorted(self.verified_error.items())),
                "dropped": dict(sorted(self.plan.dropped.items())), "verify_rtol": VERIFY_RTOL}


def convert_records(root: Record) -> Converted:
    """Records of a reference generator -> our generator in reference-arithmetic mode, every tensor accounted."""
    kind = detect_kind(root)
    cfg = infer_lowres_config(root) if kind == LOWRES else infer_superres_config(root)
    tensors = named_tensors(root)
    for name, t in tensors.items():
        if t.dtype not in (torch.float32, torch.float16, torch.float64, torch.bfloat16):
            raise MappingError(f"tensor {name!r} has dtype {t.dtype}, expected floating point")
    with torch.random.fork_rng(devices=[]):  # the init is overwritten: keep the global RNG untouched
        G = (VideoGenerator if kind == LOWRES else SRGenerator)(cfg)
    plan = plan_for_names(kind, list(tensors), G)
    problems = plan.check({k: _shape(v) for k, v in tensors.items()}, G)
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise MappingError("; ".join(problems[:3]) + more)
    state = {}
    for ref, name in plan.loaded.items():
        t = tensors[ref].float()
        state[name] = plan.reshape[ref](t) if ref in plan.reshape else t
    G.load_state_dict(state, strict=True)
    errors = {}
    for ref, fn in plan.verified.items():
        ours, theirs = fn(G).double(), tensors[ref].double()
        err = ((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-30)).item()
        if not err <= VERIFY_RTOL:
            raise MappingError(f"tensor {ref!r} differs from the filter lvg designs for this configuration "
                               f"(max relative difference {err:.3g} > {VERIFY_RTOL:g})")
        errors[ref] = err
    return Converted(kind, G.eval().requires_grad_(False), plan, errors)


def reference_summary(root: Record) -> dict[str, Any]:
    """What provenance keeps of the records themselves: classes, module-source hashes, init kwargs."""
    srcs: dict[str, str] = {}
    for _, rec in iter_modules(root):
        if rec.persistent and rec.module_src_sha256:
            srcs.setdefault(rec.class_name, rec.module_src_sha256)
    init = root.state.get("_init_kwargs")
    return {"root_class": root.class_name, "classes": root.classes(), "module_src_sha256": dict(sorted(srcs.items())),
            "persistence_version": root.version, "init_kwargs": _jsonable(init) if isinstance(init, dict) else None}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return repr(x)

