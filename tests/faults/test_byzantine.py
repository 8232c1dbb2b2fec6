"""One Byzantine validator of four (f = 1) on real processes, under load.

Validator v3 runs through tests/faults/byzantine.py, one behaviour after another
on the same network: equivocating as primary (and double voting), proposing
invalid blocks, withholding its votes, gossiping transactions with forged
signatures, flooding its peers with votes (really signed, then forged), and lying
about its height while serving forged blocks to block sync. In each round the
three honest validators must keep committing and react as designed (keep
evidence, refuse the block, stop hearing the forger's gossip, drop a flood over
the consensus rate, mute a peer whose votes are forged, refuse a frame of a
million empty arrays undecoded, bench the liar), and the
wrapper's own log must show the misdeed happened. At the end the history checker
holds the honest three to every answer they gave.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.checker import check
from tests.faults.history import LoadClient
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until

BYZANTINE = 3
HONEST = [0, 1, 2]
ROUND_SECONDS = 6.0
# mode -> (what the Byzantine node's log shows it did, how honest logs show they coped)
ROUNDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "equivocate": ("event=byzantine_equivocated", ("event=evidence",)),
    "invalid_blocks": ("event=byzantine_invalid_block", ("code=bad_state_root",)),
    "withhold_votes": ("event=byzantine_withheld", ()),
    "forge_gossip": ("event=byzantine_forged_gossip", ("event=peer_muted",)),
    # before forge_votes, whose mute would still be silencing the validator
    "flood_votes": ("event=byzantine_forged_votes", ("reason=over_rate",)),
    "forge_votes": ("event=byzantine_forged_votes", ("event=peer_consensus_muted",)),
    "junk_frames": ("event=byzantine_junk_frames", ("error=unknown_kind",)),
    "lie_height,forge_sync": (
        "event=byzantine_forged_sync",
        ("event=sync_peer_benched", "event=sync_block_refused"),
    ),
}


def honest_logs(net: LocalNet) -> str:
    return "".join(net.log_text(i) for i in HONEST)


@pytest.fixture(scope="module")
def byzantine_net(tmp_path_factory: pytest.TempPathFactory) -> object:
    root = tmp_path_factory.mktemp("byzantine")
    net = LocalNet(root, count=4, accounts=12)
    load = LoadClient(net, targets=HONEST)
    try:
        for index in HONEST:
            net.start(index)
        for index in HONEST:
            net.wait_up(index)
        load.start()
        yield net, load
    finally:
        load.stop()
        net.close()


@pytest.mark.parametrize("mode", list(ROUNDS))
def test_honest_validators_keep_committing_past_a_byzantine_one(
    byzantine_net: tuple[LocalNet, LoadClient], mode: str
) -> None:
    net, _ = byzantine_net
    did, coped = ROUNDS[mode]
    seen_before = len(honest_logs(net))
    net.start(BYZANTINE, entry=("-m", "tests.faults.byzantine", mode))
    try:
        net.wait_up(BYZANTINE)
        start = min(net.height(i) for i in HONEST)
        time.sleep(ROUND_SECONDS)
        wait_until(
            lambda: min(net.height(i) for i in HONEST) >= start + 5,
            20,
            f"honest validators to commit past a validator that does {mode}",
        )
        wait_until(lambda: did in net.log_text(BYZANTINE), 20, f"the {mode} validator to act")
        for reaction in coped:
            wait_until(
                lambda r=reaction: r in honest_logs(net)[seen_before:],  # type: ignore[misc]
                20,
                f"honest validators to log {reaction}",
            )
        assert "Traceback" not in honest_logs(net)
        # and no honest node is left reporting that it is catching up (not ready)
        wait_until(
            lambda: not any(net.status(i)["catching_up"] for i in HONEST),
            20,
            "honest validators to report they are not catching up",
        )
    finally:
        net.kill(BYZANTINE)


def test_history_of_the_byzantine_rounds_checks_out(
    byzantine_net: tuple[LocalNet, LoadClient],
) -> None:
    net, load = byzantine_net
    load.stop()
    verdict = check(net, load.history, HONEST, {SYMBOL: len(net.accounts) * 10**9})
    assert verdict.ok, verdict.defects
    assert verdict.committed > 0


def test_work_only_one_honest_validator_was_given_reaches_the_others(tmp_path: Path) -> None:
    # v3 votes for nothing and gossips 4,000 valid transfers to one peer only (not the
    # next height's primary), on an idle chain: that peer alone holds work and only its
    # view timer runs, while the two others need its vote for a quorum. Whether by the
    # pool resent on a reconnect or by the relay of a stalled node (node/node.py,
    # RELAY_STALLED_TXS), all three must come to hold the work, blocks must take it,
    # and every pool must drain, each validator admitting and committing its clients'
    # work afterwards.
    net = LocalNet(tmp_path / "net", count=4, accounts=4)
    try:
        for index in HONEST:
            net.start(index)
        for index in HONEST:
            net.wait_up(index)
        net.start(
            BYZANTINE, entry=("-m", "tests.faults.byzantine", "withhold_votes,gossip_one_peer")
        )
        net.wait_up(BYZANTINE)
        wait_until(
            lambda: "event=byzantine_gossip_one_peer" in net.log_text(BYZANTINE),
            20,
            "the Byzantine validator to gossip to one peer",
        )
        wait_until(
            lambda: any(net.status(i)["mempool_size"] > 0 for i in HONEST),
            20,
            "an honest validator to hold the transfers",
        )
        wait_until(
            lambda: all(net.status(i)["mempool_size"] == 0 for i in HONEST),
            90,
            "every honest pool to drain",
        )
        for index in HONEST:
            sent = net.transfer(index, (index + 1) % 4)
            assert net.submit(index, [sent])[0]["code"] == "accepted"
            path = f"/v1/txs/{sent.hash.hex()}?wait=30"
            code, outcome = http("GET", net.url(index, path), timeout=40)
            assert (code, outcome["status"]) == (200, "committed"), outcome
        assert "Traceback" not in honest_logs(net)
    finally:
        net.close()
