"""What every GAN algorithm's step is made of, written once: losses, R1, Adam with the lazy-R1 correction,
the per-rank batch split, the seeded RNG streams that make resume exact, and bf16 autocast.

Each algorithm (:mod:`lvg.train.lowres`, :mod:`lvg.train.superres`, the baselines) subclasses
:class:`GANAlgorithm` and keeps its own explicit ``train_step``: the order of G, D and R1 updates and what
each network sees is the part that differs between methods and should be read in one place per method.

* Non-saturating logistic loss (StyleGAN): G minimises ``softplus(-D(fake))``, D minimises
  ``softplus(D(fake)) + softplus(-D(real))`` (:func:`g_loss`, :func:`d_loss`).
* R1: ``|dD(x)/dx|^2`` summed per sample, averaged over the batch (:func:`r1_penalty`); applied lazily every
  ``interval`` steps with weight ``gamma / 2 * interval`` (:func:`r1_loss`), so its average weight is
  ``gamma / 2``. Adam of the regularised network then uses ``lr * c`` and ``beta ** c`` with
  ``c = interval / (interval + 1)`` (StyleGAN2's lazy-regularisation correction, :func:`adam`).
* RNG streams: one CPU ``torch.Generator`` per purpose (latents, augmentation, ...), seeded from
  ``(seed, rank, offset + 16 * step)`` by :func:`rank_seed`, saved in every checkpoint (:meth:`rank_state`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvg.errors import InputError, LvgError
from lvg.train import distributed as dist
from lvg.train.checkpoint import generator_state, set_generator_state
from lvg.train.distributed import DistInfo
from lvg.train.ema import ema_beta, update_ema

ADAM_BETAS = (0.0, 0.99)  # spec model.md §4: beta1 = 0 for both networks
# rank_seed purposes: one independent stream each (stream offsets are spaced 16 apart per step)
DATA, LATENT, AUGMENT = 0, 1, 2


def rank_seed(seed: int, rank: int, purpose: int) -> int:
    """A 63-bit seed for stream ``purpose`` of ``rank``: ranks and purposes never share a stream."""
    state = np.random.SeedSequence([int(seed), int(rank), int(purpose)]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))


def seeded(seed: int, *build: Callable[[], nn.Module]) -> tuple[nn.Module, ...]:
    """Networks built under ``torch.manual_seed(seed)`` with the global RNG forked and restored: the same
    initial weights on every rank and whatever ran before, and nothing after them shifted."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return tuple(b() for b in build)


# ---------------------------------------------------------------------------------------------- losses
def g_loss(logits_fake: Tensor) -> Tensor:
    """Non-saturating generator loss ``mean(softplus(-D(fake)))``."""
    return F.softplus(-logits_fake).mean()


def d_loss(logits_fake: Tensor, logits_real: Tensor) -> Tensor:
    """Logistic discriminator loss ``mean(softplus(D(fake))) + mean(softplus(-D(real)))``."""
    return F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()


def r1_penalty(logits: Tensor, x: Tensor) -> Tensor:
    """``mean_n sum |d logits_n / d x_n|^2`` (float32), differentiable (``x`` must require grad)."""
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.float().square().sum(dim=tuple(range(1, grad.ndim))).mean()


def r1_loss(penalty: Tensor, gamma: float, interval: int) -> Tensor:
    """The lazy R1 term: ``penalty * gamma / 2 * interval``."""
    return penalty * (gamma / 2) * interval


def adam(params: Iterable[nn.Parameter], lr: float, lazy_c: float = 1.0,
         betas: tuple[float, float] = ADAM_BETAS) -> torch.optim.Adam:
    """Adam with the lazy-regularisation correction ``lr * c``, ``betas ** c`` (``c = 1``: plain Adam)."""
    return torch.optim.Adam(params, lr=lr * lazy_c, betas=(betas[0] ** lazy_c, betas[1] ** lazy_c), eps=1e-8)


def micro_batch(batch: int, world_size: int, where: str, grad_accum: int | None = None) -> int:
    """Clips per forward pass on one rank: ``batch / world_size / grad_accum``, which must be a whole number."""
    per_rank, rem = divmod(batch, world_size)
    accum = grad_accum or 1
    if rem or per_rank == 0 or per_rank % accum:
        also = f" and grad_accum = {grad_accum} micro-batches" if grad_accum is not None else ""
        raise LvgError(f"{where}.batch = {batch} must split evenly over {world_size} process(es){also}")
    return per_rank // accum


# ---------------------------------------------------------------------------------------------- fine-tuning
RELEASED = "released"  # init_from value: the dataset's converted released model (config released:)


def init_source(init_from: str, dataset_dir: str | Path, stage: str) -> Path:
    """Where ``init_from`` points: a path as given, or for ``"released"`` the converted released model of the
    dataset (``results/models/released/<dataset>/<stage>``, the dataset being ``dataset_dir``'s name)."""
    if init_from == RELEASED:
        from lvg import layout as L

        return L.path(L.MODEL_RELEASED, dataset=Path(dataset_dir).name, stage=stage)
    return Path(init_from)


def init_generator(source: Path, kind: str, where: str, configure: Callable[[Any], Any]) -> tuple[nn.Module, dict]:
    """The generator a fine-tuning run starts from, and what to record about it.

    ``source`` is a generator folder or weights file (:func:`lvg.models.load_generator`), or a reference
    ``.pkl`` (converted first, :func:`lvg.reference.resolve_generator`). Its config, passed through
    ``configure`` (the run's own settings: sequence length, overrides), builds a fresh network that takes its
    weights; parameters that no longer fit are an error naming the file. The init draws no random numbers.
    """
    from lvg.io import read_json
    from lvg.models import find_generator_files, load_generator, model_id
    from lvg.reference import PROVENANCE_KEY, resolve_generator

    resolved = resolve_generator(source, kind)
    with torch.random.fork_rng(devices=[]):  # building a network draws its (overwritten) random init
        src = load_generator(resolved, kind)
    meta = read_json(find_generator_files(resolved, kind)[1])
    try:
        cfg = configure(src.cfg)
    except (TypeError, ValueError) as e:
        raise InputError(source, f"{where}.init_from: {e}") from None
    try:
        with torch.random.fork_rng(devices=[]):
            G = type(src)(cfg)
        G.load_state_dict(src.state_dict(), strict=True)
    except (TypeError, ValueError, RuntimeError) as e:
        raise InputError(source, f"{where}.init_from: the configured generator does not take these weights "
                         f"({str(e).splitlines()[0]})") from None
    info = {"path": str(source), "weights": str(src.model_source), "model_id": model_id(src)}
    for key in (PROVENANCE_KEY, "init"):  # an imported model's provenance, or what a fine-tuned one started from
        if key in meta:
            info[key] = meta[key]
    return G.train().requires_grad_(True), info


def replace_config(cfg: Any, **overrides: Any) -> Any:
    """``dataclasses.replace`` with list values as tuples (config overrides come from YAML)."""
    return dataclasses.replace(cfg, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


# ---------------------------------------------------------------------------------------------- base class
class GANAlgorithm:
    """The state every GAN algorithm shares: its config section ``tc``, this rank, the batch split, the RNG
    streams and bf16 autocast. Subclasses build their networks and optimizers and define ``train_step``.

    ``STREAMS`` maps a stream name to ``(offset, per_rank)``: ``self.rng[name]`` is reseeded from
    ``(seed, rank or 0, offset + 16 * step)`` and saved in the rank state under ``name`` (streams with
    ``per_rank = False`` are the same on every rank, e.g. TATS's code restarts).
    """

    STREAMS: ClassVar[dict[str, tuple[int, bool]]] = {"latent": (LATENT, True), "augment": (AUGMENT, True)}

    def __init__(self, tc: Any, info: DistInfo | None, where: str, grad_accum: int | None = None) -> None:
        self.tc, self.info = tc, info or DistInfo()
        self.device = self.info.device
        self.micro_batch = micro_batch(tc.batch, self.info.world_size, where, grad_accum)
        self.clips_per_step = tc.batch
        self.rng = {name: torch.Generator() for name in self.STREAMS}
        self.reseed(0)

    def reseed(self, step: int) -> None:
        """Seed every stream for ``step`` (0 at the start; a resume on a new world size reseeds)."""
        for name, (offset, per_rank) in self.STREAMS.items():
            rank = self.info.rank if per_rank else 0
            self.rng[name].manual_seed(rank_seed(self.tc.seed, rank, offset + 16 * step))

    def rank_state(self) -> dict[str, Any]:
        return {name: generator_state(g) for name, g in self.rng.items()}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        for name, g in self.rng.items():
            set_generator_state(g, state[name])

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast of the network forwards when ``tc.bf16`` (losses and R1 norms stay float32)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.tc.bf16)

    # ---- the update idiom of every step ---------------------------------------------------------------
    @staticmethod
    def begin_update(opt: torch.optim.Optimizer, train: nn.Module, frozen: nn.Module | None = None) -> None:
        """Start an update of ``train``: its gradients on, ``frozen``'s off (G's loss must not touch D's
        gradients), ``opt``'s gradients cleared."""
        train.requires_grad_(True)
        if frozen is not None:
            frozen.requires_grad_(False)
        opt.zero_grad(set_to_none=True)

    @staticmethod
    def end_update(opt: torch.optim.Optimizer, net: nn.Module) -> None:
        """Finish it: ``net``'s gradients averaged over the ranks, then ``opt``'s step."""
        dist.all_reduce_grads(net.parameters())
        opt.step()

    def gan_round(self, step: int, step_G: Callable[[], float], step_D: Callable[[], dict[str, float]],
                  step_R1: Callable[[], float]) -> dict[str, float]:
        """One step of a single-stage GAN, in the order they all use: G, then D on fresh fakes, then every
        ``r1_interval`` steps the lazy R1 update of D. Returns the logged values."""
        out = {"loss_G": step_G()} | step_D()
        if self.tc.r1_enabled and step % self.tc.r1_interval == 0:
            out["r1_penalty"] = step_R1()
        return out

    def ema_step(self, step: int, G_ema: nn.Module, G: nn.Module) -> None:
        """``G_ema <- G`` with the section's decay at ``step`` (half-life ramped up over ``ema_rampup_steps``)."""
        update_ema(G_ema, G, ema_beta(step, self.tc.ema_beta, self.tc.ema_rampup_steps))
