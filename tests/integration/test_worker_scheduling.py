"""A running validator's worker threads (signature checks, block execution) are
scheduled as SCHED_BATCH and its event loop is not (node/worker_threads.py)."""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import LocalNet


def batch_allowed() -> bool:
    """Whether this machine lets a thread take SCHED_BATCH (a container's seccomp
    profile may refuse it; the node then runs its workers as usual, by design)."""
    if not sys.platform.startswith("linux"):
        return False
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return outcome == [True]


pytestmark = pytest.mark.skipif(not batch_allowed(), reason="SCHED_BATCH not available here")


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    with LocalNet(tmp_path / "net", count=1) as net:
        yield net


def policies(pid: int) -> Counter[int]:
    """How many of the process's threads run under each scheduling policy
    (/proc/PID/task/TID/stat, field 41)."""
    found: Counter[int] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        found[int(fields[41 - 3])] += 1  # fields 1 and 2 (pid, comm) are before ")"
    return found


def test_the_worker_threads_are_batch_work_and_the_event_loop_is_not(net: LocalNet) -> None:
    start = net.height(0)
    # one client submission (checked on the verify pool) and its block (on the block worker)
    answers = net.submit(0, [net.transfer(0, 1)])
    assert answers[0]["accepted"], answers
    net.wait_height([0], start + 1)
    pid = net.processes[0].pid
    counts = policies(pid)
    assert counts[os.SCHED_BATCH] >= 2, counts  # a verify thread and the block worker
    main = (Path(f"/proc/{pid}/task/{pid}/stat").read_text()).rsplit(")", 1)[1].split()
    assert int(main[41 - 3]) == os.SCHED_OTHER
