"""Multi-process training: ``torchrun`` environment, rank helpers, gradient all-reduce, sync checks.

Why an explicit gradient all-reduce and not ``DistributedDataParallel``: GAN steps do not fit DDP's model
of "one forward, one backward per module". The G step backpropagates *through* a frozen D, the D step runs
G under ``no_grad``, and the lazy R1 step needs a double backward (``autograd.grad(create_graph=True)``),
which DDP's reducer hooks do not support. So every algorithm calls :func:`all_reduce_grads` on the
parameters it is about to update, just before ``optimizer.step()``: one flattened all-reduce per update
(the reference does the same). Identical initial weights (same seed on every rank) + identical averaged
gradients + identical optimizer arithmetic keep replicas bit-identical; :func:`assert_in_sync` checks it at
every checkpoint. With one process every helper here is a no-op.

Backend: NCCL when CUDA is available, gloo otherwise (CPU tests run two gloo ranks).
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from lvg.errors import LvgError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: global rank, number of processes, rank on this node, and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` = this rank's GPU if CUDA is available, else the CPU; ``cpu``/``cuda`` force one."""
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise LvgError("device 'cuda' requested but CUDA is not available")
    return torch.device("cuda", local_rank)


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group described by torchrun's environment (``RANK``, ``WORLD_SIZE``, ...).

    Without those variables (a plain ``python`` run) this is a single process. Safe to call twice: an
    existing process group (e.g. created by a test through ``init_method="file://..."``) is reused.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not is_distributed() and world > 1:
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    if is_distributed():
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, dev)
    return DistInfo(0, 1, 0, dev)


def setup_process(device: str = "auto", threads: int = 0) -> DistInfo:
    """What every training entry point does first: limit torch's CPU threads (``threads > 0``), then join
    the ``torchrun`` group if there is one (:func:`init_distributed`)."""
    if threads > 0:
        torch.set_num_threads(threads)
    return init_distributed(device)


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_grads(params: Iterable[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over ranks in one flattened all-reduce (no-op on one rank).

    Parameters without a gradient get zeros, so every rank contributes the same layout.
    """
    if get_world_size() == 1:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= get_world_size()
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def all_reduce_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Mean of scalar values over ranks (for logging and the NaN guard: a NaN anywhere reaches all)."""
    if get_world_size() == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= get_world_size()
    return dict(zip(keys, t.tolist(), strict=True))


def all_gather_object(obj: object) -> list[object]:
    """Every rank's ``obj`` in rank order (``[obj]`` on one rank)."""
    if get_world_size() == 1:
        return [obj]
    out: list[object] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def module_digest(modules: Iterable[nn.Module]) -> str:
    """SHA-256 of every parameter and buffer, bit for bit (used to prove replicas agree)."""
    h = hashlib.sha256()
    for m in modules:
        for name, t in [*m.named_parameters(), *m.named_buffers()]:
            h.update(name.encode())
            h.update(_tensor_bytes(t))
    return h.hexdigest()


def _tensor_bytes(t: Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def assert_in_sync(modules: dict[str, nn.Module]) -> None:
    """Raise LvgError naming the module if any rank's weights differ from rank 0's (no-op on one rank)."""
    if get_world_size() == 1:
        return
    for name, m in modules.items():
        digests = all_gather_object(module_digest([m]))
        if len(set(digests)) != 1:
            bad = [r for r, d in enumerate(digests) if d != digests[0]]
            raise LvgError(f"distributed ranks out of sync: {name} differs from rank 0 on rank(s) {bad}")
