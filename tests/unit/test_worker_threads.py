"""The node's worker pools run their threads as SCHED_BATCH (node/worker_threads.py)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from node import worker_threads

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SCHED_BATCH is Linux's"
)


def policy_and_name() -> tuple[int, str]:
    return os.sched_getscheduler(0), threading.current_thread().name


@linux_only
def test_pool_threads_run_as_batch_and_the_caller_is_left_alone() -> None:
    before = os.sched_getscheduler(0)
    pool = worker_threads.batch_pool(2, "verify")
    try:
        results = [pool.submit(policy_and_name).result(timeout=10) for _ in range(4)]
    finally:
        pool.shutdown(wait=True)
    assert {policy for policy, _ in results} == {os.SCHED_BATCH}
    assert all(name.startswith("verify_") for _, name in results)
    assert os.sched_getscheduler(0) == before  # only the pool's own threads changed


def test_a_refused_policy_leaves_the_pool_working(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise PermissionError("not allowed here")

    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    pool = worker_threads.batch_pool(1, "blocks")
    try:
        assert pool.submit(sum, [1, 2, 3]).result(timeout=10) == 6
    finally:
        pool.shutdown(wait=True)


def test_without_the_policy_the_threads_run_as_usual(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "SCHED_BATCH", raising=False)
    pool = worker_threads.batch_pool(1, "blocks")
    try:
        assert pool.submit(lambda: "ran").result(timeout=10) == "ran"
    finally:
        pool.shutdown(wait=True)
