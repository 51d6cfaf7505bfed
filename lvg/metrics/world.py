"""The `world` detector: a small video network trained on the synthetic world's ground truth, whose features
give FVD a meaning offline, and whose predictions read the world's state out of any video.

No pretrained video network can be downloaded here, and a random-weight I3D does not measure realism (it
ranked saturated colour blobs above landscapes). But the synthetic world is ours: every frame's state is known
(:mod:`lvg.data.world`). So the DAG trains, once per synthetic dataset, a 3D-conv network on the real training
clips at the LR size to predict that state (classification heads: biome, camera direction, which object
classes are in view; regression heads: hours from midday, fog, cloud cover, camera speed, horizon, exposure,
warmth, and sky fraction), and on extra labelled renders of the world (:mod:`lvg.data.world_corpus`). Its penultimate features (one ``embed_dim`` vector per 4 frames, averaged over the
clip) are the FVD feature space; its per-position predictions are a readout of the world state, used for the
semantic change metrics (:mod:`lvg.metrics.semantic`).

Network (:class:`WorldNet`), for ``[N, 3, T, 64, 64]`` in [-1, 1] (other sizes are resized to the training
size first, antialiased). The input gains the frame-to-frame differences ``x[t] - x[t-1]`` (times
``motion_gain``, zero at ``t = 0``) as three more channels: without them the network identified the 36
training clips by their look and never learnt motion (held-out direction accuracy 0.37 against a chance of
0.75); with them, and time-reversed training windows (whose direction label flips), it reads the direction
from motion (0.95 held out), and frozen or shuffled videos look unlike real ones to it from the first layer::

    cat(x, motion_gain * dx/dt)             6 channels          T     x 64 x 64
    conv3d 3x3x3 stride (1,2,2)  6 -> c0   GroupNorm, lrelu      T     x 32 x 32
    conv3d 3x3x3 stride (2,2,2) c0 -> c1   GroupNorm, lrelu      T/2   x 16 x 16
    conv3d 3x3x3 stride (2,2,2) c1 -> c2   GroupNorm, lrelu      T/4   x  8 x  8
    conv3d 3x3x3 stride (1,2,2) c2 -> c3   GroupNorm, lrelu      T/4   x  4 x  4
    flatten the 4x4 map (adaptive pooling), + the input's colour and motion statistics (see below),
    linear -> embed_dim, lrelu: e [N, E, T/4]
    heads: one linear map per target group, of e (biome, direction) or of e and the statistics (regression,
           objects in view: colour_heads, view_heads)

and, with ``object_net``, the objects in view from a separate per-frame 2D-conv network instead
(:class:`ObjectNet`, on the middle frame of each 4), trained on frames of their own.

with (c0, c1, c2, c3) = (8, 32, 64, 96). The first layer runs at full resolution: with c0 = 16 it was two
thirds of the detector's time on a CPU; c0 = 8 makes a forward pass 1.8x faster (training 1.5x) and passed
the same sanity ranking (benchmarks/world_detector_cost.py).

GroupNorm normalises each sample's activations, so after the first layer the network no longer sees how
bright, how warm or how contrasted the picture is: exactly the exposure, warmth, time of day (the light's
tint) and fog (contrast) that it had to read, and whose held-out R² stayed at or below chance. With
``colour_cells`` > 0 the embedding also receives the input's per-channel mean and standard deviation over 4
frames on a coarse grid (:func:`colour_stats`; 4 x 4 cells by default: sky and ground apart). With
``motion_bands`` > 0 it also receives the ground's horizontal speed per row band, by block matching
(:func:`motion_stats`): the camera's speed, which the trained features did not generalise (held-out R² below
0). Both sets of statistics are standardised by buffers fitted on training windows before training.

The detector file is an artifact like the models (``results/models/world/<dataset>/detector.safetensors`` +
``.json`` with its config, training settings, the dataset it was trained on and its held-out accuracy per
head); records name it by sha256.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.data.synthetic import BIOME_NAMES, OBJECT_CLASSES
from lvg.data.world import REGRESSION
from lvg.errors import InputError
from lvg.io import atomic_path, read_json, save_tensors, sha256_file, write_json
from lvg.plan import WORLD

NAME = WORLD
STRIDE = 4  # frames per output position
MIN_FRAMES = 16


@dataclass(frozen=True)
class WorldNetConfig:
    height: int = 64
    width: int = 64
    channels: tuple[int, ...] = (8, 32, 64, 96)  # 8 first: 16 made the first layer 2/3 of its cost
    embed_dim: int = 32
    motion_gain: float = 4.0
    colour_cells: int = 0  # the input's colour statistics on a cells x cells grid join e (0 = none; see above)
    colour_heads: bool = False  # ... and the regression head's input
    motion_bands: int = 0  # the input's horizontal motion in this many row bands joins them too (0 = none)
    view_heads: bool = False  # the objects-in-view head reads the statistics too (with colour_heads)
    negatives: bool = False  # a "real" head on e, trained against made-up windows (lvg.train.world.make_negatives)
    object_net: bool = False  # objects in view from a per-frame 2D-conv network (ObjectNet), not a linear head
    num_biomes: int = len(BIOME_NAMES)
    num_objects: int = len(OBJECT_CLASSES)
    num_regression: int = len(REGRESSION)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorldNetConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


class ObjectNet(nn.Module):
    """Which object classes are in a frame: ``[M, 3, H, W]`` -> logits ``[M, K]``, the maximum over places of
    a logit map at 1/4 resolution (receptive field 15 px at 64²)::

        conv 3x3 stride 2   3 -> 16   BatchNorm, lrelu      H/2 x W/2
        conv 3x3 stride 2  16 -> 32   BatchNorm, lrelu      H/4 x W/4
        conv 3x3           32 -> 64   BatchNorm, lrelu      H/4 x W/4
        conv 1x1           64 -> K                          a logit per class and place; max over places

    Why its own network: houses, animals and birds cover a few dozen pixels of a 64² frame (median 62, 20 and
    12 among the frames that show them), and the video trunk's 4x4-pooled features carried none of it (ridge
    probes on them: houses at most 0.66 balanced accuracy held out). A fully convolutional detector whose
    answer is its most confident place sees a bird wherever it is. BatchNorm: without it the same network
    sat at chance for 1,500 steps before learning, or never did; with it, houses and birds passed 0.8 held
    out within 400 (benchmarks/world_detector_heads.py measures the DAG's)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out, stride in ((3, 16, 2), (16, 32, 2), (32, 64, 1)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers, nn.Conv2d(64, num_classes, 1))

    def forward(self, frames: Tensor) -> Tensor:
        return self.body(frames).amax(dim=(2, 3))


def _block(c_in: int, c_out: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1),
                         nn.GroupNorm(min(8, c_out), c_out), nn.LeakyReLU(0.2))


class WorldNet(nn.Module):
    """See the module docstring. ``forward(video)`` -> dict of head outputs ``[N, k, T/4]``."""

    def __init__(self, cfg: WorldNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or WorldNetConfig()
        c = (6, *cfg.channels)
        strides = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (1, 2, 2))
        self.trunk = nn.Sequential(*(_block(c[i], c[i + 1], strides[i]) for i in range(4)))
        n_stats = stats_dim(cfg)
        self.embed = nn.Linear(cfg.channels[-1] * 16 + n_stats, cfg.embed_dim)
        # the statistics' standardisation (colour and motion; the names are kept so older files load), fixed
        # before training from the training windows (the colours' variations are a few hundredths of the
        # [-1, 1] range: raw, the linear map barely learnt from them)
        self.register_buffer("colour_mean", torch.zeros(n_stats))
        self.register_buffer("colour_std", torch.ones(n_stats))
        self.heads = nn.ModuleDict({
            "biome": nn.Linear(cfg.embed_dim, cfg.num_biomes),
            "direction": nn.Linear(cfg.embed_dim, 1),
            "in_view": nn.Linear(cfg.embed_dim + n_stats * (cfg.colour_heads and cfg.view_heads), cfg.num_objects),
            "regression": nn.Linear(cfg.embed_dim + n_stats * cfg.colour_heads, cfg.num_regression),
        })
        if cfg.negatives:  # real (1) or made up (0), per position
            self.heads["real"] = nn.Linear(cfg.embed_dim, 1)
        if cfg.object_net:  # it gives "in_view" (trained apart: lvg.train.world.train_object_net); the linear
            # in-view head stays, for the joint training's in-view loss: it shapes the trunk, whose features are
            # FVD's (without that loss, StyleGAN-V-lite's FVD16 went from 317 to 234, the control's from 458 to 524)
            self.objects = ObjectNet(cfg.num_objects)

    def embedding(self, video: Tensor) -> Tensor:
        """``[N, 3, T, H, W]`` in [-1, 1] (T a multiple of 4, >= 16) -> ``[N, E, T/4]``."""
        return self._features(video)[0]

    def _features(self, video: Tensor) -> tuple[Tensor, Tensor | None]:
        """(the embedding ``[N, E, T/4]``, the standardised input statistics ``[N, T/4, S]`` or None)."""
        n, _, t = video.shape[:3]
        assert video.ndim == 5 and video.shape[1] == 3 and t % STRIDE == 0 and t >= MIN_FRAMES, tuple(video.shape)
        motion = torch.cat([torch.zeros_like(video[:, :, :1]), video[:, :, 1:] - video[:, :, :-1]], dim=2)
        x = self.trunk(torch.cat([video, self.cfg.motion_gain * motion], dim=1))  # [N, C, T/4, h, w]
        x = F.adaptive_avg_pool3d(x, (x.shape[2], 4, 4))
        x = x.permute(0, 2, 1, 3, 4).flatten(2)  # [N, T/4, C * 16]
        stats = None
        if stats_dim(self.cfg):
            stats = (input_stats(video, self.cfg) - self.colour_mean) / self.colour_std
            x = torch.cat([x, stats], dim=2)
        return F.leaky_relu(self.embed(x), 0.2).transpose(1, 2), stats

    def _head_input(self, e: Tensor, stats: Tensor | None) -> Tensor:
        """The regression head's input ``[N, T/4, E (+ S)]`` (and the in-view head's, with ``view_heads``):
        ``e`` and, with ``colour_heads``, the standardised input statistics."""
        return torch.cat([e, stats], dim=2) if self.cfg.colour_heads and stats is not None else e

    def head_input(self, video: Tensor) -> Tensor:
        """What the regression head (and, with ``view_heads``, the in-view head) reads from ``video``, for their
        refit (lvg.train.world.fit_heads)."""
        e, stats = self._features(video)
        return self._head_input(e.transpose(1, 2), stats)

    def forward(self, video: Tensor, objects: bool = True) -> dict[str, Tensor]:
        """The heads' outputs ``[N, k, T/4]``; with ``object_net``, ``in_view`` is the object network's unless
        ``objects=False`` (the joint training step, which trains the linear in-view head, not it)."""
        e, stats = self._features(video)
        e = e.transpose(1, 2)  # [N, T/4, E]
        x = self._head_input(e, stats)
        out = {k: head(x if k == "regression" or (k == "in_view" and self.cfg.view_heads) else e).transpose(1, 2)
               for k, head in self.heads.items()}
        if self.cfg.object_net and objects:
            out["in_view"] = self.in_view_objects(video)
        return out

    def in_view_objects(self, video: Tensor) -> Tensor:
        """The object network's logits ``[N, K, T/4]`` on the middle frame of each 4 (the frame whose
        objects are the position's label: lvg.train.world.group_labels)."""
        mid = video[:, :, STRIDE // 2::STRIDE]  # [N, 3, T/4, H, W]
        n, _, t, h, w = mid.shape
        logits = self.objects(mid.transpose(1, 2).reshape(n * t, 3, h, w))
        return logits.reshape(n, t, -1).transpose(1, 2)


@torch.no_grad()
def fit_colour_standardisation(net: WorldNet, videos: list[Tensor]) -> None:
    """Set ``net``'s input-statistics standardisation (colour and motion) from training windows
    ``[3, T, H, W]``."""
    if not stats_dim(net.cfg):
        return
    stats = torch.cat([input_stats(v[None].float(), net.cfg)[0] for v in videos])
    net.colour_mean.copy_(stats.mean(0))
    net.colour_std.copy_(stats.std(0).clamp_min(1e-3))


def stats_dim(cfg: WorldNetConfig) -> int:
    """Length of :func:`input_stats`' vector per position."""
    return 6 * cfg.colour_cells ** 2 + 2 * cfg.motion_bands


def input_stats(video: Tensor, cfg: WorldNetConfig) -> Tensor:
    """The hand-made statistics that join the features, ``[N, T/4, stats_dim(cfg)]``: colour, then motion."""
    parts = [colour_stats(video, cfg.colour_cells)] if cfg.colour_cells else []
    if cfg.motion_bands:
        parts.append(motion_stats(video, cfg.motion_bands))
    return torch.cat(parts, dim=2)


def colour_stats(video: Tensor, cells: int) -> Tensor:
    """Mean and standard deviation of each colour channel per 4 frames on a ``cells`` x ``cells`` grid:
    ``[N, 3, T, H, W]`` -> ``[N, T/4, 6 * cells²]``. What GroupNorm removes: the overall level and contrast."""
    size = (video.shape[2] // STRIDE, cells, cells)
    mean = F.adaptive_avg_pool3d(video, size)
    std = (F.adaptive_avg_pool3d(video * video, size) - mean * mean).clamp_min(0).add(1e-6).sqrt()
    return torch.cat([mean, std], dim=1).permute(0, 2, 1, 3, 4).flatten(2)


MAX_SHIFT = 6 / 64  # largest horizontal shift searched, as a fraction of the width (the world's ground moves
#                     at most ~4.5 px per frame at 64 px: 0.03 of the width at the reference row, x1.33 below it)


def motion_stats(video: Tensor, bands: int) -> Tensor:
    """Horizontal motion per row band, per 4 frames: ``[N, 3, T, H, W]`` -> ``[N, T/4, 2 * bands]``, each band's
    speed ``|v|`` (pixels per frame as a fraction of the width) and how sharply the match picks it (1 - best
    SSD / mean SSD over the shifts).

    Why: the camera's speed is how fast the ground scrolls (each row at its own rate, by perspective), and the
    trained features missed it (held-out R² -0.24 on the clips, -0.60 on the renders). Block matching reads it
    directly: for every shift ``s`` of the searched range, the mean squared difference between frame ``t + 1``
    shifted by ``s`` and frame ``t``, per row band; its minimum, refined to a fraction of a pixel by a parabola
    through its neighbours, is the band's displacement. Ridge regression on these alone, per 4 frames, reached
    R² 0.36 on held-out renders (0.52 with the colour statistics; -0.17 with the colour statistics alone)."""
    n, _, t, h, w = video.shape
    m = max(1, round(MAX_SHIFT * w))
    grey = video.mean(dim=1)  # [N, T, H, W]
    a, b = grey[:, :-1, :, m:w - m], grey[:, 1:]
    ssd = torch.stack([(b[..., m + s:w - m + s] - a).square().mean(dim=-1) for s in range(-m, m + 1)],
                      dim=-1)  # [N, T-1, H, S]
    ssd = torch.cat([ssd, ssd[:, -1:]], dim=1)  # the last frame repeats its pair: T positions
    ssd = F.adaptive_avg_pool2d(ssd.permute(0, 3, 1, 2), (t // STRIDE, bands)).permute(0, 2, 3, 1)  # [N,T/4,B,S]
    i = ssd.argmin(dim=-1, keepdim=True).clamp(1, 2 * m - 1)
    y0, y1, y2 = (ssd.gather(-1, i + k)[..., 0] for k in (-1, 0, 1))
    offset = (0.5 * (y0 - y2) / (y0 - 2 * y1 + y2).clamp_min(1e-9)).clamp(-1, 1)
    speed = (i[..., 0] - m + offset).abs() / w
    sharpness = 1 - y1 / ssd.mean(dim=-1).clamp_min(1e-9)
    return torch.cat([speed, sharpness], dim=2)


def prepare(videos: Tensor | np.ndarray, size: tuple[int, int]) -> Tensor:
    """uint8 or [-1, 1] float ``[N, 3, T, H, W]`` -> float32 in [-1, 1] at ``size`` (antialiased bilinear when
    the size differs), ``T`` cut to a multiple of 4."""
    x = torch.from_numpy(np.ascontiguousarray(videos)) if isinstance(videos, np.ndarray) else videos
    if x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"videos must be [N, 3, T, H, W], got {tuple(x.shape)}")
    x = x.to(torch.float32) / 127.5 - 1 if x.dtype == torch.uint8 else x.to(torch.float32)
    n, _, t, h, w = x.shape
    t = t - t % STRIDE
    x = x[:, :, :t]
    if (h, w) != tuple(size):
        frames = x.transpose(1, 2).reshape(n * t, 3, h, w)
        frames = F.interpolate(frames, size=size, mode="bilinear", antialias=True, align_corners=False)
        x = frames.reshape(n, t, 3, *size).transpose(1, 2)
    return x


class WorldDetector:
    """The `world` FVD feature detector and state readout, loaded from its file (:func:`load_world_detector`)."""

    name = NAME

    def __init__(self, net: WorldNet, meta: dict[str, Any], path: Path | None = None, sha256: str | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.net = net.eval().requires_grad_(False).to(device)
        self.meta, self.path, self._sha256 = meta, path, sha256
        self.device = torch.device(device)
        self.size = (net.cfg.height, net.cfg.width)

    @property
    def sha256(self) -> str | None:
        return self._sha256

    @property
    def fingerprint(self) -> str:
        """Identity of the weights (for caches), also for an in-memory detector without a file."""
        if self._sha256:
            return self._sha256
        h = hashlib.sha256()
        for k, v in sorted(self.net.state_dict().items()):
            h.update(k.encode() + v.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        out = {"name": NAME, "sha256": self._sha256, "comparable_to_published": False,
               "features": f"{self.net.cfg.embed_dim}-d penultimate features of the world-state network, "
                           "averaged over time",
               "input": f"frames resized to {self.size[0]}x{self.size[1]} (antialiased bilinear), [-1, 1]",
               "trained_on": self.meta.get("dataset"), "heldout": self.meta.get("heldout"),
               "heldout_renders": self.meta.get("heldout_renders")}
        if self.path is not None:
            out["file"] = self.path.name
        return out

    def default_batch_size(self, frames: int) -> int:
        return max(1, 512 // frames)

    def features(self, videos: Tensor | np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """``[N, E]`` float64 features of ``videos`` ``[N, 3, T, H, W]`` (uint8, or float in [-1, 1])."""
        x = prepare(videos, self.size)
        if x.shape[2] < MIN_FRAMES:
            raise ValueError(f"the world detector needs at least {MIN_FRAMES} frames per clip, got {x.shape[2]}")
        bs = batch_size or self.default_batch_size(x.shape[2])
        out = []
        with torch.inference_mode():
            for i in range(0, x.shape[0], bs):
                e = self.net.embedding(x[i:i + bs].to(self.device))
                out.append(e.mean(dim=2).to("cpu", torch.float64).numpy())
        return np.concatenate(out)

    def realness(self, videos: Tensor | np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """``[N]``: the "real" head's probability that each clip ``[N, 3, T, H, W]`` is a real window of the world,
        averaged over its positions (a detector trained with ``negatives``; see lvg.train.world.make_negatives)."""
        if "real" not in self.net.heads:
            raise ValueError("this world detector has no 'real' head (trained without negatives)")
        x = prepare(videos, self.size)
        bs = batch_size or self.default_batch_size(x.shape[2])
        with torch.inference_mode():
            out = [self.net(x[i:i + bs].to(self.device), objects=False)["real"].sigmoid().mean(dim=(1, 2))
                   for i in range(0, x.shape[0], bs)]
        return torch.cat(out).to("cpu", torch.float64).numpy()

    def readout(self, video: Tensor | np.ndarray) -> dict[str, np.ndarray]:
        """Per-frame predictions for one video ``[3, T, H, W]``: ``biome`` probabilities ``[T', 7]``,
        ``direction`` probability ``[T']``, ``in_view`` probabilities ``[T', 7]``, ``regression`` (standardised)
        ``[T', R]``, with ``T'`` = T cut to a multiple of 4 (each position's output repeated for its 4 frames)."""
        x = prepare(torch.as_tensor(video)[None] if not isinstance(video, Tensor) else video[None], self.size)
        with torch.inference_mode():
            out = self.net(x.to(self.device))
        def rep(t: Tensor) -> np.ndarray:
            return t[0].transpose(0, 1).repeat_interleave(STRIDE, dim=0).to("cpu", torch.float64).numpy()
        return {"biome": rep(out["biome"].softmax(dim=1)), "direction": rep(out["direction"].sigmoid())[:, 0],
                "in_view": rep(out["in_view"].sigmoid()), "regression": rep(out["regression"])}


# ---------------------------------------------------------------------------------------------- files
def save_world_detector(net: WorldNet, path: str | Path, meta: dict[str, Any]) -> Path:
    """Weights (safetensors) + ``<name>.json`` (``{"model": "world", "detector": cfg, ...meta}``), atomically."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_tensors(tensors, tmp, metadata={"format": "lvg", "model": NAME})
    write_json(path.with_suffix(".json"), {"model": NAME, "detector": net.cfg.to_dict(), **meta})
    return path


def load_world_detector(path: str | Path, device: str | torch.device = "cpu") -> WorldDetector:
    """The detector saved by :func:`save_world_detector`, its sha256 recorded (no pickles)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "world detector weights not found (trained by the train_world_detector rule)")
    meta_path = path.with_suffix(".json")
    try:
        meta = read_json(meta_path)
    except (OSError, ValueError) as e:
        raise InputError(meta_path, f"unreadable detector config ({e})") from None
    if meta.get("model") != NAME:
        raise InputError(meta_path, f"holds a {meta.get('model')!r}, expected the {NAME!r} detector")
    net = WorldNet(WorldNetConfig.from_dict(meta["detector"]))
    try:
        net.load_state_dict(load_file(str(path)), strict=True)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise InputError(path, f"weights do not load into the detector of {meta_path.name}: {e}") from None
    return WorldDetector(net, meta, path=path, sha256=sha256_file(path), device=device)


def head_losses(out: dict[str, Tensor], labels: dict[str, Tensor], in_view_weight: Tensor | None = None
                ) -> dict[str, Tensor]:
    """Per-group losses of a batch: cross-entropy (biome), BCE (direction, in view), MSE (regression).

    ``labels`` hold per-position targets ``[N, T/4]`` (``biome``, ``direction``), ``[N, K, T/4]``
    (``in_view``, ``regression``). ``in_view_weight`` ``[K]``: the weight of a class's in-view positions
    relative to its out-of-view ones (out-of-view / in-view frequency balances them: a rare class is then
    not learnt as "never")."""
    pos_weight = None if in_view_weight is None else in_view_weight.to(out["in_view"])[None, :, None]
    return {
        "biome": F.cross_entropy(out["biome"], labels["biome"]),
        "direction": F.binary_cross_entropy_with_logits(out["direction"][:, 0], labels["direction"].float()),
        "in_view": F.binary_cross_entropy_with_logits(out["in_view"], labels["in_view"].float(),
                                                      pos_weight=pos_weight),
        "regression": F.mse_loss(out["regression"], labels["regression"]),
    }


def json_safe(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=float))
