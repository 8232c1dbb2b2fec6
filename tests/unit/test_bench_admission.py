"""bench/bench_admission.py: the offline replay of a validator's admissions and commits
admits every gossiped transfer, commits every block, and times each part it reports."""

from __future__ import annotations

import pytest

from bench import bench_admission, loadgen


@pytest.mark.parametrize("from_peer", [True, False], ids=["gossip", "clients"])
async def test_the_replay_admits_and_commits_every_transfer_and_times_each_part(
    from_peer: bool,
) -> None:
    accounts = [loadgen.account_key(index) for index in range(40)]
    totals = await bench_admission.run(
        accounts, batch=7, per_block=20, count=2, from_peer=from_peer
    )
    assert totals["txs"] == 2 * 20  # the warm blocks are not counted
    assert totals["blocks"] == 2  # every block of the timed ones committed
    # every transfer's signature was checked once, on admission (warm blocks included)
    assert totals["signatures"] == (2 + bench_admission.WARM_BLOCKS) * 20
    assert totals["admit"] > 0 and totals["commit listener"] > 0
