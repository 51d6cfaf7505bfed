"""The FVD detector: Kinetics-400 Inception-I3D, its two published weight files, and a labelled stand-in.

Architecture (the tf.hub module ``deepmind/i3d-kinetics-400/1`` that the original FVD uses, spec/evaluation.md
§2.1), written here from the published layer table:

    Conv3d_1a_7x7 (64, stride 2) - MaxPool3d_2a (1x3x3, stride 1x2x2) - Conv3d_2b_1x1 (64) - Conv3d_2c_3x3 (192)
    - MaxPool3d_3a (1x3x3, stride 1x2x2) - Mixed_3b, Mixed_3c - MaxPool3d_4a (3x3x3, stride 2)
    - Mixed_4b .. Mixed_4f - MaxPool3d_5a (2x2x2, stride 2) - Mixed_5b, Mixed_5c
    - AvgPool (2x7x7, stride 1, VALID) - Dropout - logits Conv 1x1x1 (bias, no BN, no ReLU) to 400
    - squeeze space, mean over the remaining time steps -> [N, 400] pre-softmax logits.

Every conv is conv (no bias) + BatchNorm (eps 1e-3, no scale: gamma = 1) + ReLU, with TensorFlow "SAME"
padding (``total = max((ceil(n / s) - 1) * s + k - n, 0)``, the smaller half in front). Max pools pad with
-inf (TF's SAME max pool ignores the padding). Note: the VideoGPT/TATS PyTorch port that ``i3d_pretrained_400.pt``
belongs to uses BatchNorm eps 1e-5; we keep TF's 1e-3, so our numbers from that file are the tf.hub network's
(up to float error), and may differ very slightly from VideoGPT/TATS's own FVD code.

Preprocessing (the FVD protocol): videos ``[N, C, T, H, W]`` as uint8 0..255, or float in [-1, 1] which is
first quantised as the reference quantises generated frames (``x * 127.5 + 128``, clamped, truncated to
uint8). Every frame is resized straight to 224x224 (bilinear, ``align_corners=False``, no antialias, no
aspect-preserving crop: 144x256 frames are squashed), then scaled to [-1, 1] as ``2 * x / 255 - 1``.

Weights (spec/evaluation.md §3), always a LOCAL file; nothing is downloaded:

- ``i3d_torchscript.pt`` (StyleGAN-V / LongVideoGAN's TorchScript port), called with
  ``rescale=True, resize=True, return_features=True`` on uint8 input; name ``i3d-torchscript``;
- ``i3d_pretrained_400.pt`` (VideoGPT/TATS state dict), mapped onto our module; name ``i3d-pretrained-400``
  ("VideoGPT-port FVD": close to the TorchScript numbers, not guaranteed identical).

Either is verified against its published git-blob SHA-1 before it is deserialised; its sha256 and size are
recorded. Without a file, :func:`load_detector` returns the same network with a fixed seeded random
initialisation, ``i3d-random``: a pipeline stand-in whose numbers are NOT comparable to published FVD.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.errors import LvgError
from lvg.plan import RANDOM_NAME

log = logging.getLogger(__name__)

NUM_CLASSES = 400
DETECTOR_SIZE = 224  # frames are resized to DETECTOR_SIZE x DETECTOR_SIZE
BN_EPS = 1e-3  # Sonnet/TF BatchNorm default, used by the tf.hub module
RANDOM_SEED = 400_2017  # the fixed seed of the i3d-random stand-in
MIN_FRAMES = 9  # fewer frames leave < 2 time steps for the 2x7x7 VALID average pool

# Published git-blob SHA-1s (spec/evaluation.md §3). Keys are the published file names.
PUBLISHED_SHA1: dict[str, str] = {
    "i3d_torchscript.pt": "93daef59c7ae0e9e8f76225521407e60cbafa6aa",
    "i3d_pretrained_400.pt": "a867b87ac3a9097d200598b1d48a1b890d8ec744",
}
DETECTOR_NAMES = {"i3d_torchscript.pt": "i3d-torchscript", "i3d_pretrained_400.pt": "i3d-pretrained-400"}
RANDOM_WARNING = ("FVD computed with i3d-random: a randomly initialised I3D stand-in (no detector weights "
                  "configured). The numbers check the pipeline only and are NOT comparable to published FVD.")
PORT_NOTE = ("i3d_pretrained_400.pt (VideoGPT/TATS port) loaded into lvg's I3D: 'VideoGPT-port FVD', close to "
             "the TorchScript detector's numbers but not guaranteed identical.")


# ================================================================================================ weights files
def git_blob_sha1(path: str | Path, chunk: int = 1 << 20) -> str:
    """Git's object id of a file: SHA-1 over ``b"blob <size>\\0"`` followed by the content (no git needed)."""
    path = Path(path)
    h = hashlib.sha1()
    h.update(f"blob {path.stat().st_size}\0".encode("ascii"))
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class WeightsFile:
    """A detector weight file that matched a published git-blob SHA-1."""

    path: Path
    published_name: str  # "i3d_torchscript.pt" or "i3d_pretrained_400.pt"
    sha1: str  # git blob SHA-1 (equals PUBLISHED_SHA1[published_name])
    sha256: str
    size: int


def verify_weights(path: str | Path) -> WeightsFile:
    """Hash ``path`` (git-blob SHA-1 and sha256 in one pass) and match it against the published files.

    Raises LvgError naming the file, the expected SHA-1 and the actual one when it is missing, unreadable or
    matches no published file. Nothing is deserialised here.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise LvgError(f"{path}: I3D detector weights not found (expected a local copy of one of "
                       f"{', '.join(PUBLISHED_SHA1)}; nothing is downloaded)")
    size = path.stat().st_size
    sha1 = hashlib.sha1(f"blob {size}\0".encode("ascii"))
    sha256 = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                sha1.update(block)
                sha256.update(block)
    except OSError as e:
        raise LvgError(f"{path}: cannot read I3D detector weights: {e}") from None
    actual = sha1.hexdigest()
    for name, expected in PUBLISHED_SHA1.items():
        if actual == expected:
            return WeightsFile(path, name, actual, sha256.hexdigest(), size)
    if path.name in PUBLISHED_SHA1:
        expected_txt = f"expected git-blob SHA-1 {PUBLISHED_SHA1[path.name]} (published {path.name})"
    else:
        expected_txt = "expected one of " + ", ".join(f"{v} ({k})" for k, v in PUBLISHED_SHA1.items())
    raise LvgError(f"{path}: not a published I3D detector file: {expected_txt}, actual git-blob SHA-1 "
                   f"{actual} ({size} bytes). The file is wrong or corrupt; refusing to load it.")


# ================================================================================================ the network
def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (front, back) of one dimension: output ceil(size / stride), smaller half in front."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _same_pads(x: Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(front, back) SAME padding of T, H, W for input ``x`` [N, C, T, H, W]."""
    return [same_padding(x.shape[2 + d], kernel[d], stride[d]) for d in range(3)]


def _pad3d(x: Tensor, pads: list[tuple[int, int]], value: float) -> Tensor:
    flat = [p for d in (2, 1, 0) for p in pads[d]]  # F.pad lists the last dimension first: (W, H, T)
    return F.pad(x, flat, value=value) if any(flat) else x


class Unit3D(nn.Module):
    """Conv3d with TF SAME padding, then BatchNorm (eps 1e-3) and ReLU (both optional)."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), batch_norm: bool = True, relu: bool = True,
                 bias: bool = False) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv = nn.Conv3d(cin, cout, self.kernel, self.stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(cout, eps=BN_EPS) if batch_norm else None

    def forward(self, x: Tensor) -> Tensor:
        pads = _same_pads(x, self.kernel, self.stride)
        if all(a == b for a, b in pads):  # symmetric: let the conv zero-pad (same result, no copy)
            x = F.conv3d(x, self.conv.weight, self.conv.bias, self.stride, tuple(a for a, _ in pads))
        else:
            x = self.conv(_pad3d(x, pads, 0.0))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x


def max_pool3d_separable(x: Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> Tensor:
    """``F.max_pool3d(x, kernel, stride)`` (no padding) as three 1D window maxima (``unfold`` + ``amax``).

    Max is separable, so the result is bit-identical; on CPU it is 3-10x faster than PyTorch's max-pool
    kernels, which took ~30% of the I3D forward time (benchmarks/bench_i3d.py).
    """
    for dim, k, s in zip((2, 3, 4), kernel, stride, strict=True):
        if k > 1 or s > 1:
            x = x.unfold(dim, k, s).amax(-1)
    return x.contiguous()


class MaxPoolSame(nn.Module):
    """3D max pool with TF SAME padding (padded cells never win: -inf)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: Tensor) -> Tensor:
        pads = _same_pads(x, self.kernel, self.stride)
        return max_pool3d_separable(_pad3d(x, pads, -math.inf), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception module: 1x1 | 1x1-3x3 | 1x1-3x3 | maxpool 3x3x3-1x1, concatenated on channels.

    ``widths`` = (branch 0, branch 1 reduce, branch 1, branch 2 reduce, branch 2, branch 3).
    """

    def __init__(self, cin: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.branch_0 = Unit3D(cin, w0)
        self.branch_1a = Unit3D(cin, w1a)
        self.branch_1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.branch_2a = Unit3D(cin, w2a)
        self.branch_2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.branch_3a = MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.branch_3b = Unit3D(cin, w3)
        self.out_channels = w0 + w1b + w2b + w3

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch_0(x), self.branch_1b(self.branch_1a(x)),
                          self.branch_2b(self.branch_2a(x)), self.branch_3b(self.branch_3a(x))], dim=1)


MIXED_WIDTHS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


class InceptionI3D(nn.Module):
    """Kinetics-400 Inception-I3D. ``forward``: float [N, 3, T, 224, 224] in [-1, 1] -> logits [N, 400]
    averaged over time (T >= 9)."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        cin = 192
        for name, widths in MIXED_WIDTHS.items():
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPoolSame((3, 3, 3), (2, 2, 2))
            if name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPoolSame((2, 2, 2), (2, 2, 2))
            block = Mixed(cin, widths)
            setattr(self, name, block)
            cin = block.out_channels
        self.dropout = nn.Dropout(0.5)  # identity in eval mode; kept for the architecture's sake
        self.logits = Unit3D(cin, num_classes, batch_norm=False, relu=False, bias=True)
        self.feature_channels = cin  # 1024

    def trunk(self, x: Tensor) -> Tensor:
        """Everything up to and including Mixed_5c: [N, 1024, T', 7, 7]."""
        for name in ("Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
                     "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
                     "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c"):
            x = getattr(self, name)(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"I3D expects [N, 3, T, H, W], got {tuple(x.shape)}")
        if x.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip, got {x.shape[2]}")
        x = self.trunk(x)
        x = F.avg_pool3d(x, (2, 7, 7), (1, 1, 1))  # VALID
        x = self.logits(self.dropout(x))  # [N, 400, T'', 1, 1]
        return x.flatten(3).mean(dim=(2, 3))


def random_init_(model: InceptionI3D, seed: int = RANDOM_SEED) -> InceptionI3D:
    """Deterministic initialisation from one CPU ``torch.Generator``, in module-registration order.

    Convs: He-uniform, U(-a, a) with a = sqrt(6 / fan_in) (variance 2 / fan_in); logits: a = sqrt(3 / fan_in),
    bias 0; BatchNorm: gamma 1, beta 0, running mean 0, running var 1. Uniform draws in float64 (the
    generator's MT19937 bits scaled by 2^-53) and plain IEEE arithmetic, with no transcendental functions and
    no CPU-specific vectorised sampler, so the weights are bit-identical on every run and machine;
    :func:`weights_fingerprint` records them.
    """
    g = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, Unit3D):
                w = module.conv.weight
                fan_in = w[0].numel()
                bound = math.sqrt((3.0 if name == "logits" else 6.0) / fan_in)
                u = torch.rand(w.shape, generator=g, dtype=torch.float64)
                w.copy_(((u * 2 - 1) * bound).to(torch.float32))
                if module.conv.bias is not None:
                    module.conv.bias.zero_()
                if module.bn is not None:
                    module.bn.reset_parameters()
    return model


def weights_fingerprint(model: nn.Module) -> str:
    """sha256 over (name, shape, float32 little-endian bytes) of every state-dict entry, in order."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}\0".encode())
        arr = t.detach().cpu().numpy()
        h.update(np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------- VideoGPT/TATS state-dict names
# i3d_pretrained_400.pt names (VideoGPT/TATS port, converted from tf.hub): top-level blocks keep the TF names
# ("Conv3d_1a_7x7", "Mixed_4c", "logits"); a unit's conv is "conv3d" and its BatchNorm "bn" (no
# num_batches_tracked); inception branches are b0, b1a, b1b, b2a, b2b, b3b. Ours differ only in those segments.
_SEGMENTS_TO_OURS = {"conv3d": "conv", "b0": "branch_0", "b1a": "branch_1a", "b1b": "branch_1b",
                     "b2a": "branch_2a", "b2b": "branch_2b", "b3b": "branch_3b"}
_SEGMENTS_TO_VIDEOGPT = {v: k for k, v in _SEGMENTS_TO_OURS.items()}


def _rename(key: str, table: Mapping[str, str]) -> str:
    return ".".join(table.get(seg, seg) for seg in key.split("."))


def to_videogpt_state_dict(model: InceptionI3D) -> dict[str, Tensor]:
    """Our weights under the VideoGPT/TATS names (the layout of ``i3d_pretrained_400.pt``)."""
    return {_rename(k, _SEGMENTS_TO_VIDEOGPT): v.detach().clone() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def load_videogpt_state_dict(model: InceptionI3D, state: Any, source: str | Path = "<state dict>") -> None:
    """Load a VideoGPT/TATS-named state dict into ``model``; every name and shape must match (LvgError if not)."""
    if not isinstance(state, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor)
                                                 for k, v in state.items()):
        raise LvgError(f"{source}: not a state dict of named tensors (got {type(state).__name__})")
    ours = model.state_dict()
    mapped = {_rename(k, _SEGMENTS_TO_OURS): v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    expected = {k for k in ours if not k.endswith("num_batches_tracked")}
    missing, unexpected = sorted(expected - set(mapped)), sorted(set(mapped) - expected)
    if missing or unexpected:
        inv = {k: _rename(k, _SEGMENTS_TO_VIDEOGPT) for k in missing}
        raise LvgError(f"{source}: state dict does not fit the Kinetics-400 I3D: missing "
                       f"{[inv[k] for k in missing[:5]]}{' ...' if len(missing) > 5 else ''} "
                       f"({len(missing)}), unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''} "
                       f"({len(unexpected)})")
    for k, v in mapped.items():
        if tuple(v.shape) != tuple(ours[k].shape) or not v.is_floating_point():
            raise LvgError(f"{source}: {_rename(k, _SEGMENTS_TO_VIDEOGPT)} has shape {tuple(v.shape)} "
                           f"{v.dtype}, expected {tuple(ours[k].shape)} floating point")
    with torch.no_grad():
        for k, v in mapped.items():
            ours[k].copy_(v.to(ours[k].dtype))


# ================================================================================================ preprocessing
def to_uint8_videos(videos: Tensor | np.ndarray) -> Tensor:
    """``[N, C, T, H, W]`` uint8, or float in [-1, 1] quantised as ``(x * 127.5 + 128).clamp(0, 255)`` (the
    reference's conversion of generated frames), to uint8 [N, 3, T, H, W]; one channel is repeated to three."""
    x = torch.from_numpy(np.ascontiguousarray(videos)) if isinstance(videos, np.ndarray) else videos
    if x.ndim != 5:
        raise ValueError(f"videos must be [N, C, T, H, W], got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1, -1)
    if x.shape[1] != 3:
        raise ValueError(f"videos must have 1 or 3 channels on dim 1, got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"videos must be uint8 or float in [-1, 1], got {x.dtype}")
    return (x.to(torch.float32) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def preprocess(videos_uint8: Tensor, size: int = DETECTOR_SIZE) -> Tensor:
    """uint8 [N, 3, T, H, W] -> float32 [N, 3, T, size, size] in [-1, 1]: per-frame bilinear resize
    (align_corners=False, no antialias, no crop), then ``2 * x / 255 - 1``."""
    n, c, t, h, w = videos_uint8.shape
    x = videos_uint8.to(torch.float32)
    if (h, w) != (size, size):
        frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
        frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)
        x = frames.reshape(n, t, c, size, size).permute(0, 2, 1, 3, 4)
    return (2 * x / 255 - 1).contiguous()


# ================================================================================================ the detector
class Detector:
    """An FVD feature extractor: ``features(videos) -> [N, 400] float64``.

    ``name`` is ``i3d-torchscript``, ``i3d-pretrained-400`` or ``i3d-random``; ``sha256`` is the weight file's
    (None for the random stand-in); ``warning`` is set when numbers are not comparable to published FVD.
    """

    def __init__(self, name: str, net: Any, *, device: str | torch.device = "cpu",
                 weights: WeightsFile | None = None, torchscript: bool = False, warning: str | None = None,
                 note: str | None = None, seed: int | None = None, fingerprint: str | None = None) -> None:
        self.name = name
        self.net = net
        self.device = torch.device(device)
        self.weights = weights
        self.torchscript = torchscript
        self.warning = warning
        self.note = note
        self.seed = seed
        self.fingerprint = fingerprint

    @property
    def sha256(self) -> str | None:
        return self.weights.sha256 if self.weights else None

    @property
    def comparable(self) -> bool:
        """Whether the numbers can be compared with published FVD (only with real weights)."""
        return self.weights is not None

    def default_batch_size(self, num_frames: int) -> int:
        """Clips per detector call: max(1, 64 // T), the reference's rule."""
        return max(1, 64 // max(1, num_frames))

    def describe(self) -> dict[str, Any]:
        """Everything a result file needs to say which detector produced it."""
        out: dict[str, Any] = {
            "name": self.name, "sha256": self.sha256, "features": f"{NUM_CLASSES}-d Kinetics-400 logits, "
            "averaged over time", "input": f"uint8 frames resized to {DETECTOR_SIZE}x{DETECTOR_SIZE} (bilinear,"
            " no crop), scaled to [-1, 1]", "comparable_to_published": self.comparable,
        }
        out["resize"] = ("inside the TorchScript (rescale=True, resize=True; kernel unverified)" if self.torchscript
                         else "torch bilinear, align_corners=False, no antialias")
        if self.weights is not None:
            out.update(file=self.weights.path.name, git_blob_sha1=self.weights.sha1, size=self.weights.size)
        if self.seed is not None:
            out.update(seed=self.seed, weights_fingerprint=self.fingerprint, torch_version=torch.__version__)
        if self.warning:
            out["warning"] = self.warning
        if self.note:
            out["note"] = self.note
        return out

    def _forward(self, batch: Tensor) -> Tensor:
        if self.torchscript:
            out = self.net(batch, rescale=True, resize=True, return_features=True)
        else:
            out = self.net(preprocess(batch))
        if not isinstance(out, Tensor) or tuple(out.shape) != (batch.shape[0], NUM_CLASSES):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise LvgError(f"detector {self.name} returned {shape}, expected ({batch.shape[0]}, {NUM_CLASSES})")
        return out

    def features(self, videos: Tensor | np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """[N, 400] float64 features of ``videos`` [N, C, T, H, W] (uint8, or float in [-1, 1])."""
        x = to_uint8_videos(videos)
        if x.shape[2] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip, got {x.shape[2]}")
        bs = batch_size or self.default_batch_size(x.shape[2])
        out = np.empty((x.shape[0], NUM_CLASSES), dtype=np.float64)
        with torch.inference_mode():
            for i in range(0, x.shape[0], bs):
                batch = x[i:i + bs].to(self.device)
                out[i:i + batch.shape[0]] = self._forward(batch).to("cpu", torch.float64).numpy()
        return out


def random_detector(device: str | torch.device = "cpu", seed: int = RANDOM_SEED) -> Detector:
    """The labelled stand-in: our I3D with the fixed seeded random initialisation (``i3d-random``)."""
    net = random_init_(InceptionI3D(), seed).eval()
    fp = weights_fingerprint(net)
    return Detector(RANDOM_NAME, net.to(device), device=device, warning=RANDOM_WARNING, seed=seed,
                    fingerprint=fp)


def load_detector(path: str | Path | None, device: str | torch.device = "cpu") -> Detector:
    """The FVD detector from a local weight file, or the ``i3d-random`` stand-in when ``path`` is None/empty.

    The file is verified against the published git-blob SHA-1s first (LvgError naming the file, expected and
    actual SHA-1 on mismatch) and only then deserialised: TorchScript with ``torch.jit.load`` (map_location
    cpu), the state dict with ``torch.load(weights_only=True)``. A configured path that does not exist is an
    error, never a silent fallback to the random network.
    """
    if path is None or str(path).strip() == "":
        warnings.warn(RANDOM_WARNING, stacklevel=2)
        log.warning(RANDOM_WARNING)
        return random_detector(device)
    wf = verify_weights(path)
    name = DETECTOR_NAMES[wf.published_name]
    if wf.published_name == "i3d_torchscript.pt":
        try:
            net = torch.jit.load(str(wf.path), map_location="cpu")
        except Exception as e:  # noqa: BLE001 - any failure here is a bad file
            raise LvgError(f"{wf.path}: cannot load the TorchScript I3D: {e}") from None
        net = net.eval().to(device)
        return Detector(name, net, device=device, weights=wf, torchscript=True)
    try:
        state = torch.load(str(wf.path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise LvgError(f"{wf.path}: cannot load the I3D state dict: {e}") from None
    net = InceptionI3D()
    load_videogpt_state_dict(net, state, wf.path)
    return Detector(name, net.eval().to(device), device=device, weights=wf, note=PORT_NOTE)


def detector_path_from_env(var: str = "LVG_I3D_WEIGHTS") -> str | None:
    """The weight path from the environment (empty/unset -> None)."""
    value = os.environ.get(var, "").strip()
    return value or None
