"""The viewer's shared chunk store: an LRU cache bounded by bytes, in front of a few generation threads.

Why this shape:

* Generation is CPU-bound torch, so it runs in worker threads (torch releases the GIL), never on the event
  loop. A few workers (default 1) with torch's intra-op threads limited keep a small machine responsive.
* Every viewer of the same model and seed wants the same aligned chunks, so chunks are cached and shared; the
  cache is bounded **by bytes** (``budget``), least recently used evicted first, so the server's memory does
  not grow with the number of viewers or the length of the video.
* A chunk is computed **once at a time**: a request for a chunk that is queued or being computed waits for
  that job instead of starting another (in-flight de-duplication).
* Requests have priorities: what a viewer is waiting for (``FOREGROUND``) goes before what a viewer asked
  for ahead of its playhead (``LOOKAHEAD``), which goes before the server's own guesses (``PREFETCH``). A
  request for a queued key at a more urgent priority raises that job's priority. Server prefetch is bounded
  (``max_prefetch`` queued jobs; more are dropped, not queued), so it never crowds out requests or floods
  the cache.
* Work is nested (an HR chunk needs LR chunks; an encoded segment needs frame chunks): :meth:`get` called
  from inside a job computes what it needs inline, or *takes over* a queued job for that key, and only waits
  for jobs that another thread is already running. Dependencies are acyclic, so this cannot deadlock even
  with one worker.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FOREGROUND, LOOKAHEAD, PREFETCH = 0, 1, 2  # a viewer waits for it / a viewer will need it / the server guesses


def nbytes_of(value: Any) -> int:
    """Bytes a cached value holds: numpy arrays, torch tensors, bytes; tuples/lists summed."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if hasattr(value, "element_size") and hasattr(value, "numel"):  # torch.Tensor without importing torch
        return int(value.element_size() * value.numel())
    if isinstance(value, (tuple, list)):
        return sum(nbytes_of(v) for v in value)
    raise TypeError(f"cannot size a cached {type(value).__name__}")


@dataclass
class _Job:
    key: Hashable
    compute: Callable[[], Any]
    priority: int
    future: Future = field(default_factory=Future)
    state: str = "queued"  # queued | running | done


@dataclass
class StoreStats:
    """Counters for /api/stats, tests and benchmarks."""

    hits: int = 0
    misses: int = 0
    computed: int = 0
    deduplicated: int = 0
    evicted: int = 0
    prefetch_dropped: int = 0
    errors: int = 0
    peak_bytes: int = 0


class ChunkStore:
    """Get-or-compute by key, cached LRU by bytes, computed by ``workers`` threads (see the module doc).

    Args:
        budget: most bytes the cache holds (every entry sized by :func:`nbytes_of`); an entry bigger than
            ``budget`` is returned but not kept.
        workers: generation threads.
        max_prefetch: most queued prefetch jobs; further prefetch submissions are dropped.
    """

    def __init__(self, budget: int, workers: int = 1, max_prefetch: int = 8) -> None:
        if budget < 1 or workers < 1 or max_prefetch < 0:
            raise ValueError(f"need budget >= 1, workers >= 1, max_prefetch >= 0; got {budget}, {workers}, "
                             f"{max_prefetch}")
        self._budget, self.max_prefetch = budget, max_prefetch
        self.stats = StoreStats()
        self._cv = threading.Condition()
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._jobs: dict[Hashable, _Job] = {}
        self._heap: list[tuple[int, int, _Job]] = []
        self._seq = itertools.count()
        self._closed = False
        self._threads = [threading.Thread(target=self._worker, name=f"lvg-serve-gen-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------------------------------ queries
    @property
    def bytes(self) -> int:
        """Bytes cached now."""
        with self._cv:
            return self._bytes

    def __contains__(self, key: Hashable) -> bool:
        with self._cv:
            return key in self._entries

    def __len__(self) -> int:
        with self._cv:
            return len(self._entries)

    def queued(self, priority: int | None = None) -> int:
        """Jobs waiting for a worker (of one priority, or all)."""
        with self._cv:
            return sum(1 for j in self._jobs.values()
                       if j.state == "queued" and (priority is None or j.priority == priority))

    # ------------------------------------------------------------------------------------------ asynchronous use
    def submit(self, key: Hashable, compute: Callable[[], Any], priority: int = FOREGROUND) -> Future | None:
        """A future for ``key``: done at once when cached, else the (possibly existing) job's future.

        A foreground request for a key queued as prefetch raises that job's priority. Prefetch submissions
        beyond ``max_prefetch`` queued ones return None (dropped).
        """
        with self._cv:
            if self._closed:
                raise RuntimeError("the store is closed")
            hit = self._lookup(key)
            if hit is not None:
                f: Future = Future()
                f.set_result(hit[0])
                return f
            job = self._jobs.get(key)
            if job is not None:
                self.stats.deduplicated += 1
                if job.state == "queued" and priority < job.priority:
                    job.priority = priority
                    heapq.heappush(self._heap, (priority, next(self._seq), job))
                    self._cv.notify()
                return job.future
            if priority == PREFETCH and self.queued(PREFETCH) >= self.max_prefetch:
                self.stats.prefetch_dropped += 1
                return None
            self.stats.misses += 1
            job = _Job(key, compute, priority)
            self._jobs[key] = job
            heapq.heappush(self._heap, (priority, next(self._seq), job))
            self._cv.notify()
            return job.future

    # ------------------------------------------------------------------------------------------ synchronous use
    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed in this thread if nobody is computing it (for use inside jobs and
        in other threads, never on the event loop)."""
        with self._cv:
            hit = self._lookup(key)
            if hit is not None:
                return hit[0]
            job = self._jobs.get(key)
            if job is not None and job.state == "running":
                self.stats.deduplicated += 1
                wait = job.future
            else:
                if job is None:
                    self.stats.misses += 1
                    job = _Job(key, compute, FOREGROUND)
                    self._jobs[key] = job
                job.state = "running"  # take over a queued job (its heap entry is skipped)
                wait = None
        if wait is not None:
            return wait.result()
        self._run(job)
        return job.future.result()

    # ------------------------------------------------------------------------------------------ internals
    def _lookup(self, key: Hashable) -> tuple[Any, int] | None:
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            self.stats.hits += 1
        return hit

    def _insert(self, key: Hashable, value: Any) -> None:
        size = nbytes_of(value)
        if size > self._budget:
            log.warning("not caching %s: %d bytes exceed the whole budget of %d", key, size, self._budget)
            return
        while self._entries and self._bytes + size > self._budget:
            _, (_, old) = self._entries.popitem(last=False)
            self._bytes -= old
            self.stats.evicted += 1
        self._entries[key] = (value, size)
        self._bytes += size
        self.stats.peak_bytes = max(self.stats.peak_bytes, self._bytes)

    def _run(self, job: _Job) -> None:
        try:
            value = job.compute()
        except BaseException as e:  # noqa: BLE001 - delivered to every waiter, the worker lives on
            with self._cv:
                self.stats.errors += 1
                job.state = "done"
                self._jobs.pop(job.key, None)
            job.future.set_exception(e)
            return
        with self._cv:
            self._insert(job.key, value)
            self.stats.computed += 1
            job.state = "done"
            self._jobs.pop(job.key, None)
        job.future.set_result(value)

    def _worker(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                priority, _, job = heapq.heappop(self._heap)
                if job.state != "queued" or priority != job.priority:
                    continue  # taken over by get(), or a stale entry of a job whose priority was raised
                job.state = "running"
            log.debug("job %s (priority %d) starts", job.key, job.priority)
            self._run(job)

    def clear(self) -> None:
        """Drop every cached entry (in-flight jobs are unaffected)."""
        with self._cv:
            self._entries.clear()
            self._bytes = 0

    @property
    def budget(self) -> int:
        return self._budget

    @budget.setter
    def budget(self, value: int) -> None:
        """A new budget; entries beyond it are evicted at once (least recently used first)."""
        if value < 1:
            raise ValueError(f"budget must be >= 1, got {value}")
        with self._cv:
            self._budget = value
            while self._entries and self._bytes > value:
                _, (_, old) = self._entries.popitem(last=False)
                self._bytes -= old
                self.stats.evicted += 1

    def close(self) -> None:
        """Stop the workers (queued jobs are cancelled; running ones finish)."""
        with self._cv:
            self._closed = True
            pending = [j for j in self._jobs.values() if j.state == "queued"]
            for j in pending:
                self._jobs.pop(j.key, None)
            self._cv.notify_all()
        for j in pending:
            j.future.cancel()
        for t in self._threads:
            t.join(timeout=30)
