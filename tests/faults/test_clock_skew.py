"""One validator's wall clock skewed with libfaketime (the OS package `faketime`).

Validator v3 runs 30 s ahead, then 30 s behind (its monotonic clock, which the
replica's timers use, is left alone), then right again, under load. Ahead, its
proposals are dated past the others' drift limit (`max_clock_drift_ms`, 5 s) and
refused as `timestamp_in_future`; behind, it refuses theirs the same way and
follows the chain by block sync. The three others keep committing throughout,
and the checker then holds all four to the history.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.checker import check
from tests.faults.history import LoadClient
from tests.integration.harness import SYMBOL, LocalNet, wait_until

SKEWED = 3
OTHERS = [0, 1, 2]
REFUSED = "code=timestamp_in_future"


# libfaketime preloaded straight into python (not through the `faketime` command,
# which would stay the parent: the test must kill the node by its own PID)
LIBFAKETIME = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))


def skewed(offset: str) -> dict[str, str]:
    return {
        "LD_PRELOAD": str(LIBFAKETIME[0]),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # the replica's timers stay right
    }


def others_commit(net: LocalNet, blocks: int) -> None:
    start = min(net.height(i) for i in OTHERS)
    wait_until(
        lambda: min(net.height(i) for i in OTHERS) >= start + blocks, 30, "the others to commit"
    )


@pytest.mark.skipif(not LIBFAKETIME, reason="needs the faketime OS package")
def test_a_validator_with_a_skewed_clock_neither_stalls_nor_splits_the_chain(
    tmp_path: Path,
) -> None:
    net = LocalNet(tmp_path, count=4, accounts=12)
    load = LoadClient(net, targets=OTHERS)
    try:
        for index in OTHERS:
            net.start(index)
        net.start(SKEWED, env=skewed("+30s"))
        for index in range(4):
            net.wait_up(index)
        load.start()
        seen = len("".join(net.log_text(i) for i in OTHERS))
        wait_until(
            lambda: REFUSED in "".join(net.log_text(i) for i in OTHERS)[seen:],
            30,
            "the others to refuse a proposal dated in the future",
        )
        others_commit(net, 5)

        net.kill(SKEWED)
        seen = len(net.log_text(SKEWED))
        net.start(SKEWED, env=skewed("-30s"))
        net.wait_up(SKEWED)
        wait_until(
            lambda: REFUSED in net.log_text(SKEWED)[seen:],
            30,
            "the late validator to refuse proposals dated in its future",
        )
        others_commit(net, 5)
        wait_until(
            lambda: net.height(SKEWED) >= min(net.height(i) for i in OTHERS) - 1,
            30,
            "the late validator to follow by block sync",
        )

        net.kill(SKEWED)
        net.start(SKEWED)
        net.wait_up(SKEWED)
        others_commit(net, 3)
        time.sleep(1.0)
        load.stop()
        verdict = check(net, load.history, [0, 1, 2, 3], {SYMBOL: len(net.accounts) * 10**9})
        assert verdict.ok, verdict.defects
        assert verdict.committed > 0
    finally:
        load.stop()
        net.close()
