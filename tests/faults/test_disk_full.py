"""A validator whose data directory fills up under load, then gets its space back.

Validator v3 keeps its LevelDB directory on a small tmpfs (root only: skipped
elsewhere). Under the history load client the filesystem is filled to a few
hundred KB; v3 must stop on its own with a clear logged error and a non-zero
exit, keep every block it reported (its height on reopen is at least the last
height it served), and, once the filler is deleted, start again, catch up from
its peers and pass the history checker together with the others.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from tests.faults.checker import check
from tests.faults.disk import MountUnavailable, fill, small_filesystem
from tests.faults.history import LoadClient
from tests.integration.harness import SYMBOL, LocalNet, wait_until

TARGET = 3  # the load client's issuer submits to (and asks) the last validator
LEAVE_FREE = 256 * 1024


def test_full_disk_stops_cleanly_loses_nothing_and_resumes(tmp_path: Path) -> None:
    net = LocalNet(tmp_path, count=4, accounts=12)
    data = net.nodes[TARGET].home / "data"
    load = LoadClient(net)
    with contextlib.ExitStack() as cleanup:  # unwinds: load, nodes, then the unmount
        try:
            cleanup.enter_context(small_filesystem(data, 48))
        except MountUnavailable as exc:  # not root: CI and the test machine are
            pytest.skip(f"cannot mount a small filesystem: {exc}")
        cleanup.callback(net.close)
        cleanup.callback(load.stop)
        net.start_all()
        load.start()
        wait_until(lambda: net.height(TARGET) >= 3, 30, "blocks on the target")
        filler = fill(data, LEAVE_FREE)
        process = net.processes[TARGET]
        served = 0  # the highest height the target reported: all of it was acknowledged
        deadline = time.monotonic() + 90
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                served = max(served, net.height(TARGET))
            time.sleep(0.05)
        assert process.poll() is not None, "the validator kept running on a full disk"
        assert process.returncode != 0
        log = net.log_text(TARGET)
        assert "event=storage_failed" in log and "kind=no_space" in log, log[-2000:]
        assert "Traceback" not in log, log[-4000:]
        assert "free space on the filesystem holding" in log
        net.processes.pop(TARGET)
        # the others go on without it (3 of 4 are a quorum)
        others = [0, 1, 2]
        top = max(net.height(i) for i in others)
        net.wait_height(others, top + 3, timeout=30)

        filler.unlink()  # space returns
        net.start(TARGET)
        net.wait_up(TARGET, timeout=30)
        reopened = net.logged_heights(TARGET)[-1]
        assert reopened >= served, f"reopened at {reopened}, had served {served}"
        wait_until(
            lambda: net.height(TARGET) >= max(net.height(i) for i in others),
            30,
            "the validator to catch up",
        )
        load.stop()
        verdict = check(net, load.history, [0, 1, 2, 3], {SYMBOL: len(net.accounts) * 10**9})
        assert verdict.ok, verdict.defects
        assert verdict.committed > 0
