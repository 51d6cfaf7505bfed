"""The one training loop shared by every model (LR GAN, SR GAN, baselines).

A model family is an :class:`Algorithm`: its networks, its optimizers and a ``train_step``. The loop owns
everything else, written once:

* steps, or a compute budget (``budget_s``: CPU-seconds of training steps, so that methods compared in one
  table get the same compute; :func:`train_clock`), and exact resume from the newest usable checkpoint (``checkpoints/ckpt-<step>/``, see
  :mod:`lvg.train.checkpoint`): weights, optimizer states, every rank's RNG states, the data position and the
  metrics so far, so N steps in one go equal k steps + resume + N - k steps, bit for bit on the CPU;
* the real-data stream (:class:`BatchSource`), a pure function of ``(seed, rank, position)``;
* ``metrics.csv`` (one row per log interval: step, kimg, mean losses, seconds/step, peak memory), a tqdm
  bar (quiet when stderr is not a terminal, so Snakemake logs hold no carriage returns);
* sample videos from fixed seeds (``samples/step-<step>.mp4``) so that steps are comparable;
* the NaN guard: a non-finite loss stops the run with an :class:`NonFiniteLossError` naming the step and the
  loss, before anything is saved, so the last good checkpoint stays the newest;
* multi-process runs: losses are averaged over ranks, rank 0 alone writes files, replicas are checked to
  be bit-identical at every checkpoint.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from lvg.config import write_resolved_config
from lvg.data.reader import ClipSampler
from lvg.data.video import write_video
from lvg.errors import LvgError, worker_message
from lvg.io import atomic_open, write_json
from lvg.train import checkpoint as ckpt
from lvg.train import distributed as dist
from lvg.train.distributed import DistInfo

log = logging.getLogger(__name__)


class NonFiniteLossError(LvgError):
    """A loss became NaN or infinite: the run stopped without saving anything from that step."""


# ---------------------------------------------------------------------------------------------- data
class BatchSource:
    """An endless stream of real batches, reproducible from its position (batches handed out so far).

    Keys come from :class:`~lvg.data.reader.ClipSampler` (uniform over clips, one permutation per round) and
    each item is a pure function of ``(dataset.seed, key)``, so a fresh source with ``position=n`` continues
    exactly where one that handed out ``n`` batches stopped, even with ``num_workers`` processes reading
    ahead. Items are collated dicts (``{"video": [N, 3, T, H, W], ...}``); tensors land on ``device``.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, *, num_workers: int = 0,
                 device: torch.device | None = None, position: int = 0) -> None:
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.num_workers, self.device = num_workers, device or torch.device("cpu")
        self.position = position
        self._iter: Any = None

    def _start(self) -> None:
        sampler = ClipSampler(len(self.dataset), seed=self.seed, start=self.position * self.batch_size)
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=sampler,
                            num_workers=self.num_workers, pin_memory=self.device.type == "cuda",
                            persistent_workers=False)
        self._iter = iter(loader)

    def next(self) -> dict[str, Any]:
        if self._iter is None:
            self._start()
        try:
            batch = next(self._iter)
        except LvgError as e:  # from a worker (a frame that does not decode): one line, as in-process
            raise LvgError(worker_message(e)) from None
        self.position += 1
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, Tensor) else v
                for k, v in batch.items()}

    def state(self) -> dict[str, int]:
        return {"position": self.position}

    def load_state(self, state: dict[str, int]) -> None:
        self.close()
        self.position = int(state["position"])

    def close(self) -> None:
        self._iter = None  # drops the DataLoader iterator, which stops its worker processes


# ---------------------------------------------------------------------------------------------- protocol
class Algorithm(Protocol):
    """What the loop needs from a model family.

    ``networks`` are saved as ``<name>.safetensors``; ``optimizers`` into ``optim.safetensors``.
    ``rank_state``/``load_rank_state`` carry this rank's JSON-ready extra state (RNG states as base64,
    adaptive augmentation probabilities, ...). ``train_step`` runs one step (0-based ``step``) and returns
    scalar losses named in ``loss_names``. ``sample_video`` renders a grid of a few clips from fixed seeds
    (``[T, H, W, 3]`` uint8) or returns None; ``export`` writes the final model into the run directory.
    """

    networks: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    loss_names: tuple[str, ...]
    clips_per_step: int

    def train_step(self, step: int, batches: BatchSource) -> dict[str, float]: ...

    def rank_state(self) -> dict[str, Any]: ...

    def load_rank_state(self, state: dict[str, Any]) -> None: ...

    def reseed(self, step: int) -> None: ...

    def sample_video(self) -> np.ndarray | None: ...

    def export(self, run_dir: Path, step: int) -> Path: ...

    # optional: ``on_clock(step, train_s, budget_s)`` is called before every step with the training seconds
    # spent so far and the budget (None without one), for algorithms whose stages split a budget (two-stage
    # baselines); what it decides must be kept in the algorithm's (checkpointed) rank state.


@dataclass(frozen=True)
class LoopConfig:
    """Schedule of a run (steps count completed training steps; intervals of 0 mean "only at the end")."""

    steps: int  # an upper bound when budget_s is set
    budget_s: float | None = None  # stop once the steps took this many seconds of train_clock()
    log_every: int = 10  # >= 1
    sample_every: int = 0
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    sample_fps: int = 30
    progress_interval_s: float = 30.0


# ---------------------------------------------------------------------------------------------- metrics
@dataclass
class MetricsLog:
    """Running means of the losses over the current log interval, and the rows logged so far.

    Losses are summed in float64 Python floats: their JSON round trip is exact, so a resumed run continues
    the interval with the same sums.
    """

    loss_names: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    timed_steps: int = 0

    @property
    def columns(self) -> list[str]:
        return ["step", "kimg", *self.loss_names, "sec_per_step", "peak_mem_mb"]

    def add(self, losses: dict[str, float], seconds: float) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1
        self.seconds += seconds
        self.timed_steps += 1

    def current(self, step: int, kimg: float, peak_mem_mb: float) -> dict[str, Any]:
        """The row of the interval so far (nothing is reset)."""
        row: dict[str, Any] = {"step": step, "kimg": kimg}
        for k in self.loss_names:
            row[k] = self.sums[k] / self.counts[k] if self.counts.get(k) else None
        row["sec_per_step"] = self.seconds / self.timed_steps if self.timed_steps else None
        row["peak_mem_mb"] = peak_mem_mb
        return row

    def flush(self, step: int, kimg: float, peak_mem_mb: float) -> dict[str, Any]:
        """Close the interval: its row joins the log and the sums restart."""
        row = self.current(step, kimg, peak_mem_mb)
        self.rows.append(row)
        self.sums, self.counts, self.seconds, self.timed_steps = {}, {}, 0.0, 0
        return row

    def state(self) -> dict[str, Any]:
        return {"rows": self.rows, "sums": self.sums, "counts": self.counts, "seconds": self.seconds,
                "timed_steps": self.timed_steps}

    def load_state(self, s: dict[str, Any]) -> None:
        self.rows, self.sums, self.counts = list(s["rows"]), dict(s["sums"]), dict(s["counts"])
        self.seconds, self.timed_steps = float(s["seconds"]), int(s["timed_steps"])

    def write_csv(self, path: Path, partial: dict[str, Any] | None = None) -> None:
        """Write the logged rows (plus a ``partial`` row for an unfinished interval, not kept in state)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows + ([partial] if partial else []):
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write(buf.getvalue())


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: CUDA allocator peak on a GPU, the process's max RSS on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# ---------------------------------------------------------------------------------------------- samples
def video_grid(videos: Tensor, columns: int | None = None, min_height: int = 128) -> np.ndarray:
    """``[N, 3, T, H, W]`` in [-1, 1] -> uint8 ``[T, H', W', 3]`` grid, nearest-upscaled for viewing."""
    n, _, t, h, w = videos.shape
    cols = columns or n
    rows = math.ceil(n / cols)
    x = (videos.detach().float().cpu() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    if n < rows * cols:
        x = torch.cat([x, torch.zeros(rows * cols - n, *x.shape[1:], dtype=torch.uint8)])
    x = x.reshape(rows, cols, 3, t, h, w).permute(3, 0, 4, 1, 5, 2).reshape(t, rows * h, cols * w, 3)
    scale = max(1, min_height // h)
    if scale > 1:
        x = x.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    return x.numpy()


# ---------------------------------------------------------------------------------------------- the loop
@dataclass
class _Progress:
    """Where the run stands, identical on every rank (``saved_step``: newest checkpoint, -1 if none)."""

    step: int = 0
    metrics: MetricsLog | None = None
    saved_step: int = -1
    resume_key: dict | None = None
    train_s: float = 0.0  # train_clock() seconds of the completed steps (checkpointed)
    wall_s: float = 0.0

    def finished(self, cfg: LoopConfig) -> bool:
        return self.step >= cfg.steps or (cfg.budget_s is not None and self.train_s >= cfg.budget_s)


def train_clock(device: torch.device) -> float:
    """The budget's clock: this process's CPU time (all its threads) on the CPU, so that jobs sharing cores
    are charged what they used; wall time on a GPU (each step ends in a host sync: its losses)."""
    return time.perf_counter() if device.type == "cuda" else time.process_time()


def _resume(algo: Algorithm, batches: BatchSource, run: _Progress, ckpt_dir: Path, config: dict,
            info: DistInfo, resume_key: dict | None = None) -> None:
    """Restore everything from the newest usable checkpoint, if any.

    A checkpoint whose ``resume_key`` (what defines the run: its training settings and data) differs from
    this run's belongs to another experiment: it is moved aside to ``checkpoints.superseded/`` and training
    starts over, so a pipeline rerun after a config or data change never continues a stale run.
    """
    if info.is_main:  # what a killed run's checkpoint write left: gone at the start, not at the next save
        ckpt.remove_leftovers(ckpt_dir)
    path = ckpt.latest_checkpoint(ckpt_dir)
    if path is None:
        return
    if resume_key is not None:
        old_key = ckpt.read_state(path).get("state", {}).get("resume_key")
        if old_key != resume_key:
            if info.is_main:
                stale = ckpt_dir.with_name("checkpoints.superseded")
                shutil.rmtree(stale, ignore_errors=True)
                ckpt_dir.rename(stale)
                log.warning("%s was trained with other settings or data; moved to %s, starting over",
                            ckpt_dir, stale)
            dist.barrier()
            return
    state = ckpt.load_checkpoint(path, algo.networks, algo.optimizers)
    run.step = run.saved_step = int(state["step"])
    run.train_s, run.wall_s = float(state.get("train_s", 0.0)), float(state.get("wall_s", 0.0))
    run.metrics.load_state(state["metrics"])
    _warn_config_change(state.get("config", {}), config, path)
    ranks = state["ranks"]
    if len(ranks) == info.world_size:
        algo.load_rank_state(ranks[info.rank]["algorithm"])
        batches.load_state(ranks[info.rank]["data"])
    else:
        log.warning("checkpoint %s was written by %d process(es), this run has %d: random streams are "
                    "re-seeded from (seed, rank, step), so the continuation is not bit-exact",
                    path, len(ranks), info.world_size)
        algo.reseed(run.step)
        batches.load_state({"position": ranks[0]["data"]["position"]})
    if info.is_main:
        log.info("resumed from %s (step %d)", path, run.step)


def resume_key(section: dict, data_files: list[Path], extra: dict | None = None) -> dict:
    """What identifies a training run for resuming: its settings minus the schedule (more steps, other
    logging or thread counts continue the same run) plus the sha256 of the data's index files (and
    ``extra``, e.g. the model id of the generator a fine-tuning run started from)."""
    from lvg.io import sha256_file

    key = {"settings": {k: v for k, v in section.items() if k not in _SCHEDULE_KEYS},
           "data": {p.name if p.parent.name == "" else f"{p.parent.name}/{p.name}": sha256_file(p)
                    for p in sorted(data_files) if p.is_file()}}
    return key | (extra or {})


_SCHEDULE_KEYS = {"steps", "budget_s", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "num_workers",
                  "threads", "sample_clips", "sample_frames", "device"}


def _warn_config_change(old: dict, new: dict, path: Path, prefix: str = "") -> None:
    for k in sorted(set(old) | set(new)):
        if k in _SCHEDULE_KEYS:
            continue
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            _warn_config_change(a, b, path, f"{prefix}{k}.")
        elif a != b:
            log.warning("config %s%s changed since %s: %r -> %r", prefix, k, path.name, a, b)


def _save(algo: Algorithm, batches: BatchSource, run: _Progress, ckpt_dir: Path, config: dict,
          cfg: LoopConfig, info: DistInfo) -> None:
    """Collective: gather every rank's state, check replicas agree, rank 0 writes the checkpoint."""
    dist.assert_in_sync(algo.networks)
    ranks = dist.all_gather_object({"algorithm": algo.rank_state(), "data": batches.state()})
    if info.is_main:
        state = {"step": run.step, "kimg": run.step * algo.clips_per_step / 1000, "config": config,
                 "world_size": info.world_size, "ranks": ranks, "metrics": run.metrics.state(),
                 "resume_key": run.resume_key, "train_s": run.train_s, "wall_s": run.wall_s}
        ckpt.save_checkpoint(ckpt_dir, run.step, algo.networks, algo.optimizers, state, keep=cfg.keep_checkpoints)
    run.saved_step = run.step
    dist.barrier()


def _sample(algo: Algorithm, run_dir: Path, step: int, cfg: LoopConfig, info: DistInfo) -> None:
    if not info.is_main:
        return
    frames = algo.sample_video()
    if frames is not None:
        even = frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0  # yuv420p needs even sides
        write_video([frames], run_dir / "samples" / f"step-{step:08d}.mp4", fps=cfg.sample_fps, crf=18,
                    upscale=1 if even else 2)


def train(algo: Algorithm, batches: BatchSource, cfg: LoopConfig, run_dir: str | Path, config: dict, *,
          info: DistInfo | None = None, resume: bool = True, resolved_extra: dict | None = None,
          resume_key: dict | None = None) -> Path:
    """Train ``algo`` until ``cfg.steps`` steps are done or ``cfg.budget_s`` is spent; return the path
    :meth:`Algorithm.export` wrote. ``run_dir/train_stats.json`` records the steps and seconds it took.

    ``config`` is the run's resolved configuration (saved as ``config.yaml``/``config.json`` and in every
    checkpoint); ``resolved_extra`` adds derived facts (network configs, world size) to ``config.json``.
    With ``resume`` the newest usable checkpoint in ``run_dir/checkpoints`` is continued (if its
    ``resume_key`` matches); without it any existing checkpoints there are an error (nothing is overwritten
    silently).
    """
    info = info or DistInfo()
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    run = _Progress(metrics=MetricsLog(algo.loss_names))
    if resume:
        _resume(algo, batches, run, ckpt_dir, config, info, resume_key)
        if info.is_main and run.step > 0:  # drop rows a killed run logged past its checkpoint
            pending = run.metrics.current(run.step, run.step * algo.clips_per_step / 1000, float("nan"))
            run.metrics.write_csv(run_dir / "metrics.csv", partial=pending if run.metrics.timed_steps else None)
    elif ckpt.list_checkpoints(ckpt_dir):
        raise LvgError(f"{ckpt_dir} already holds checkpoints; resume, or delete them to start over")
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_resolved_config(config, run_dir / "config.yaml")
        write_json(run_dir / "config.json", {"config": config, **(resolved_extra or {})})
    if run.step == 0 and cfg.sample_every > 0:
        _sample(algo, run_dir, 0, cfg, info)
    run.resume_key = resume_key
    _loop(algo, batches, run, cfg, run_dir, config, info)
    if run.saved_step != run.step:  # decided identically on every rank: _save is collective
        _save(algo, batches, run, ckpt_dir, config, cfg, info)
    out = algo.export(run_dir, run.step) if info.is_main else run_dir
    if info.is_main:
        write_json(run_dir / "train_stats.json", train_stats(run, cfg, algo, info))
    dist.barrier()
    batches.close()
    return out


def train_stats(run: _Progress, cfg: LoopConfig, algo: Algorithm, info: DistInfo) -> dict[str, Any]:
    """What the run cost: steps, train_clock() seconds (summed over ranks: the whole job's compute), wall
    seconds of the steps, the budget and which limit ended it."""
    by_budget = cfg.budget_s is not None and run.train_s >= cfg.budget_s and run.step < cfg.steps
    return {"steps": run.step, "max_steps": cfg.steps, "budget_s": cfg.budget_s,
            "train_s": round(run.train_s * info.world_size, 3), "wall_s": round(run.wall_s, 3),
            "clock": "wall" if info.device.type == "cuda" else "process CPU time",
            "processes": info.world_size, "threads": torch.get_num_threads(),
            "kimg": run.step * algo.clips_per_step / 1000, "stopped_by": "budget" if by_budget else "steps"}


def _loop(algo: Algorithm, batches: BatchSource, run: _Progress, cfg: LoopConfig, run_dir: Path,
          config: dict, info: DistInfo) -> None:
    bar = tqdm(total=cfg.steps, initial=run.step, unit="step", disable=None if info.is_main else True,
               mininterval=cfg.progress_interval_s, dynamic_ncols=True, desc="train")
    on_clock = getattr(algo, "on_clock", None)
    try:
        while not run.finished(cfg):
            if on_clock is not None:
                on_clock(run.step, run.train_s, cfg.budget_s)
            t0, c0 = time.perf_counter(), train_clock(info.device)
            losses = algo.train_step(run.step, batches)
            losses["_clock"] = train_clock(info.device) - c0  # averaged over ranks: they stop together
            losses = dist.all_reduce_mean(losses, info.device)
            _check_finite(losses, run.step, run_dir / "checkpoints", run.saved_step)
            run.train_s += losses.pop("_clock")
            run.wall_s += time.perf_counter() - t0
            run.metrics.add(losses, time.perf_counter() - t0)
            run.step += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
            _after_step(algo, batches, run, cfg, run_dir, config, info)
    finally:
        bar.close()


def _after_step(algo: Algorithm, batches: BatchSource, run: _Progress, cfg: LoopConfig, run_dir: Path,
                config: dict, info: DistInfo) -> None:
    """Logging, samples and checkpoints that fall due after a completed step (in that order)."""
    done, last = run.step, run.finished(cfg)
    kimg, mem = done * algo.clips_per_step / 1000, peak_memory_mb(info.device)
    if done % cfg.log_every == 0:
        row = run.metrics.flush(done, kimg, mem)
        if info.is_main:
            run.metrics.write_csv(run_dir / "metrics.csv")
            log.info("step %d: %s", done, ", ".join(f"{k}={v:.4g}" for k, v in row.items()
                                                   if isinstance(v, float) and k != "kimg"))
    elif last and info.is_main:
        # the run ends mid-interval: show it in the CSV, but keep the interval open in the checkpoint so a
        # later resume with more steps logs exactly what one longer run would have logged
        run.metrics.write_csv(run_dir / "metrics.csv", partial=run.metrics.current(done, kimg, mem))
    if cfg.sample_every > 0 and (last or done % cfg.sample_every == 0):
        _sample(algo, run_dir, done, cfg, info)
    if last or (cfg.checkpoint_every > 0 and done % cfg.checkpoint_every == 0):
        _save(algo, batches, run, run_dir / "checkpoints", config, cfg, info)


def _check_finite(losses: dict[str, float], step: int, ckpt_dir: Path, saved_step: int) -> None:
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if bad:
        name, value = next(iter(bad.items()))
        where = (f"the last good checkpoint is {ckpt_dir / ckpt.checkpoint_name(saved_step)}" if saved_step >= 0
                 else "no checkpoint was written yet")
        raise NonFiniteLossError(
            f"non-finite loss at step {step}: {name} = {value} (0-based step index, {step} steps had "
            f"completed; all non-finite: {sorted(bad)}). The run stopped before saving anything from this "
            f"step; {where}. Lower the learning rates, check the "
            f"data, or disable bf16, then rerun to resume.")
