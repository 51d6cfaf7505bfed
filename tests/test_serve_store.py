"""The viewer's shared chunk store (lvg/serve/store.py): LRU by bytes, one computation per key at a time,
nested work without deadlock, errors delivered to every waiter, foreground before bounded prefetch.

Pure Python with real threads; no models, no server (those are in test_serve.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lvg.serve.store import FOREGROUND, LOOKAHEAD, PREFETCH, ChunkStore, nbytes_of


@pytest.fixture
def store():
    s = ChunkStore(budget=1000, workers=1, max_prefetch=2)
    yield s
    s.close()


def blob(n: int, fill: int = 0) -> np.ndarray:
    return np.full(n, fill, dtype=np.uint8)


def test_lru_by_bytes_never_exceeds_the_budget(store) -> None:
    for k in range(4):  # 4 x 300 bytes into 1000: the oldest goes
        assert store.get(k, lambda k=k: blob(300, k))[0] == k
    assert 0 not in store and all(k in store for k in (1, 2, 3))
    assert store.bytes == 900 and store.stats.peak_bytes == 900 and store.stats.evicted == 1
    store.get(1, lambda: pytest.fail("cached: must not recompute"))  # 1 is now the most recent
    store.get(4, lambda: blob(300))
    assert 2 not in store and 1 in store and 3 in store and 4 in store
    store.get(5, lambda: blob(1001))  # bigger than the whole budget: returned, not kept
    assert 5 not in store and store.bytes == 900
    store.budget = 400  # shrinking evicts at once, least recently used first
    assert store.bytes == 300 and list(k for k in (1, 3, 4) if k in store) == [4]


def test_concurrent_requests_compute_a_key_once(store) -> None:
    calls, started = [], threading.Event()

    def slow() -> np.ndarray:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return blob(10, 7)

    futures = [store.submit("k", slow) for _ in range(5)]
    started.wait(5)
    results = [None] * 4

    def sync_get(i: int) -> None:
        results[i] = store.get("k", slow)

    threads = [threading.Thread(target=sync_get, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(calls) == 1
    assert all(int(f.result(5)[0]) == 7 for f in futures) and all(int(r[0]) == 7 for r in results)
    assert store.stats.computed == 1 and store.stats.deduplicated >= 8


def test_nested_work_with_one_worker_does_not_deadlock(store) -> None:
    """An outer job needs a key that is queued as prefetch behind it: get() takes that job over."""
    gate = threading.Event()
    store.submit("blocker", lambda: (gate.wait(5), blob(1))[1])
    inner = store.submit("inner", lambda: blob(5, 1), PREFETCH)  # queued behind the blocker
    outer = store.submit("outer", lambda: blob(5, int(store.get("inner", lambda: blob(5, 2))[0]) + 10))
    gate.set()
    assert int(outer.result(5)[0]) in (11, 12) and int(inner.result(5)[0]) in (1, 2)
    assert store.stats.errors == 0


def test_errors_reach_every_waiter_and_the_key_can_be_retried(store) -> None:
    def broken():
        time.sleep(0.05)
        raise RuntimeError("generation failed")

    f1, f2 = store.submit("bad", broken), store.submit("bad", broken)
    for f in (f1, f2):
        with pytest.raises(RuntimeError, match="generation failed"):
            f.result(5)
    assert "bad" not in store and store.stats.errors == 1
    assert int(store.get("bad", lambda: blob(3, 9))[0]) == 9  # not poisoned


def test_foreground_before_prefetch_and_prefetch_is_bounded(store) -> None:
    order, gate = [], threading.Event()
    store.submit("busy", lambda: (gate.wait(5), blob(1))[1])
    time.sleep(0.05)  # the worker is now blocked on "busy"
    p = [store.submit(f"p{i}", lambda i=i: (order.append(f"p{i}"), blob(1))[1], PREFETCH) for i in range(3)]
    assert p[2] is None and store.stats.prefetch_dropped == 1  # max_prefetch = 2
    ahead = [store.submit(f"a{i}", lambda i=i: (order.append(f"a{i}"), blob(1))[1], LOOKAHEAD) for i in range(3)]
    assert all(f is not None for f in ahead)  # only the server's own prefetch is ever dropped
    fg = store.submit("fg", lambda: (order.append("fg"), blob(1))[1], FOREGROUND)
    # a more urgent request for a queued key raises its priority instead of queueing it twice
    again = store.submit("p1", lambda: pytest.fail("deduplicated"), FOREGROUND)
    assert again is p[1]
    assert store.submit("a2", lambda: pytest.fail("deduplicated"), FOREGROUND) is ahead[2]
    gate.set()
    for f in [fg, *p[:2], *ahead]:
        f.result(5)
    assert order == ["fg", "p1", "a2", "a0", "a1", "p0"]


def test_nbytes_of_sizes_what_the_viewer_caches() -> None:
    import torch

    assert nbytes_of(np.zeros((2, 3), np.float32)) == 24
    assert nbytes_of(b"abcd") == 4
    assert nbytes_of(torch.zeros(3, 5, dtype=torch.float32)) == 60
    assert nbytes_of((np.zeros(4, np.uint8), b"xy")) == 6
    with pytest.raises(TypeError, match="cannot size"):
        nbytes_of(object())
