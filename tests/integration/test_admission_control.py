"""Admission control through a real validator over HTTP (docs/node.md, "Admission").

A flooding sender gets 429 `sender_backlog_full` with a Retry-After once it holds
its share of the pool, while another sender is still admitted and commits;
transactions behind a nonce gap (fresh keys skipping nonce 0) get only their own
small share and leave the pool's room to the rest; a full pool answers 429
`mempool_full` before reading the body at all. Among four validators, each holds
its own clients to its share of the network's limit.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.keys import address_to_text
from ledger.tx import SignedTransaction, Transaction
from node.home import MempoolLimits
from node.node import ADMIT_CHUNK
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until

# an admit limit of 40 while little commits; one sender holds at most 10
LIMITS = MempoolLimits(floor_txs=40, backlog_ms=4_000, sender_share_percent=25)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalNet]:
    with LocalNet(tmp_path / "net", count=1, mempool=LIMITS) as net:
        yield net


def gapped(net: LocalNet, sender: int, nonce: int) -> SignedTransaction:
    """A transfer that waits for the sender's earlier nonces: it stays pending."""
    key = net.accounts[sender]
    to = net.accounts[7].public_key
    return Transaction(net.chain_id, key.public_key, nonce, "coin.transfer", (SYMBOL, to, 1)).sign(
        key
    )


Retry = tuple[str | None, str | None]  # a 429's Retry-After and Retry-After-Ms


def post_raw(net: LocalNet, body: bytes) -> tuple[int, dict[str, object], Retry]:
    request = urllib.request.Request(
        net.url(0, "/v1/txs"), data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            headers = response.headers
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        headers = exc.headers
        status, answer = exc.code, json.loads(exc.read())
    return status, answer, (headers["Retry-After"], headers["Retry-After-Ms"])


def post(net: LocalNet, stx: SignedTransaction) -> tuple[int, dict[str, object], Retry]:
    return post_raw(net, json.dumps({"tx": stx.encode().hex()}).encode())


def assert_retry_times(retry: Retry) -> None:
    """Both headers, the milliseconds within the node's bounds and the seconds their
    whole-second rounding up."""
    seconds, ms = retry
    assert seconds is not None and ms is not None, retry
    assert 100 <= int(ms) <= 30_000
    assert int(seconds) == max(1, -(-int(ms) // 1000))


def error_code(body: dict[str, object]) -> object:
    error = body["error"]
    assert isinstance(error, dict)
    return error["code"]


def test_a_flood_is_refused_with_retry_after_while_others_are_admitted_and_commit(
    net: LocalNet,
) -> None:
    results = net.submit(0, [gapped(net, 0, nonce) for nonce in range(1, 13)])
    assert [r["code"] for r in results] == ["accepted"] * 10 + ["sender_backlog_full"] * 2

    code, body, retry = post(net, gapped(net, 0, 13))
    assert (code, error_code(body)) == (429, "sender_backlog_full"), body
    assert_retry_times(retry)

    other = net.transfer(1, 2)
    code, body, _ = post(net, other)
    assert (code, body["code"]) == (202, "accepted"), body
    code, outcome = http("GET", net.url(0, f"/v1/txs/{other.hash.hex()}?wait=20"), timeout=30)
    assert (code, outcome["status"]) == (200, "committed"), outcome

    # Three more senders try to fill the pool with nonces no block can take (their
    # nonce 0 never comes): they get the gap share and no more, and honest senders
    # keep all of the pool's room. Sender 0's 10 already wait behind its gap.
    gap_share = 16  # MIN_GAP_TXS: 10% of a limit of 40 is less
    codes = []
    for sender in (2, 3, 4):
        codes += [r["code"] for r in net.submit(0, [gapped(net, sender, n) for n in range(1, 11)])]
    assert codes == ["accepted"] * (gap_share - 10) + ["nonce_gap_full"] * (30 - gap_share + 10)
    status = net.status(0)
    assert status["mempool_size"] == gap_share
    code, body, retry = post(net, gapped(net, 2, 11))
    assert (code, error_code(body)) == (429, "nonce_gap_full"), body
    assert_retry_times(retry)
    late = net.transfer(5, 6)
    code, body, _ = post(net, late)
    assert (code, body["code"]) == (202, "accepted"), body
    code, outcome = http("GET", net.url(0, f"/v1/txs/{late.hash.hex()}?wait=20"), timeout=30)
    assert (code, outcome["status"]) == (200, "committed"), outcome


def test_a_full_pool_refuses_before_reading_the_body(tmp_path: Path) -> None:
    # two validators, one of them never started: nothing commits, so what is admitted
    # stays pending and the pool fills to its limit of 40 with transfers a block could take
    with LocalNet(tmp_path / "net", count=2, mempool=LIMITS) as net:
        net.kill(1)
        for sender in (1, 2, 3, 4):
            answers = net.submit(0, [net.transfer(sender, 7) for _ in range(10)])
            assert all(r["code"] == "accepted" for r in answers), answers
        code, body, retry = post(net, net.transfer(5, 6))
        assert (code, error_code(body)) == (429, "mempool_full"), body
        assert_retry_times(retry)
        # refused before the body is read: not even a malformed body is looked at
        code, body, _ = post_raw(net, b"not json")
        assert (code, error_code(body)) == (429, "mempool_full"), body
        assert net.status(0)["mempool_size"] == 40


def test_each_validator_admits_its_clients_only_up_to_its_share_of_the_limit(
    tmp_path: Path,
) -> None:
    # A limit of 100 whatever commits (the measured rate times 0.1 s stays below it).
    limits = MempoolLimits(floor_txs=100, backlog_ms=100)
    net = LocalNet(tmp_path / "net", count=4, accounts=200, mempool=limits)
    try:
        net.start_all()
        # 180 transfers through v1: v0 admits them from gossip, none from its clients
        for _ in range(2):
            batch = [net.transfer(sender, 0) for sender in range(1, 91)]
            assert all(r["code"] == "accepted" for r in net.submit(1, batch))
            wait_until(
                lambda: all(net.status(i)["mempool_size"] == 0 for i in range(4)),
                60,
                "the transfers to commit everywhere",
            )
        # two validators stop: nothing commits any more, what is admitted stays pending
        net.kill(2)
        net.kill(3)
        # v0's share is a quarter of the limit, and a quarter more: 31 of its clients'
        # transactions pending, far from 100 in its pool
        waiting = [net.transfer(sender, 0) for sender in range(150, 200)]
        answers = net.submit(0, waiting)
        codes = [r["code"] for r in answers]
        assert codes == ["accepted"] * 31 + ["mempool_full"] * 19, codes
        code, body, retry = post(net, net.transfer(149, 0))
        assert (code, error_code(body)) == (429, "mempool_full"), body
        assert_retry_times(retry)
        assert net.status(0)["mempool_size"] < 100
        # v1, through which most came, still has room for its clients
        more = [net.transfer(sender, 0) for sender in range(100, 110)]
        assert all(r["code"] == "accepted" for r in net.submit(1, more))
    finally:
        net.close()


def test_a_batch_admitted_in_several_chunks_commits_each_transaction_once(
    tmp_path: Path,
) -> None:
    # more than ADMIT_CHUNK transactions at once, at the node the client sent them to
    # and again at each peer's gossip intake: admission gives the event loop back
    # between chunks, and blocks commit meanwhile (each sender's later nonces then
    # meet a committed nonce that moved under the batch)
    net = LocalNet(tmp_path / "net", count=4, accounts=8)
    try:
        net.start_all()
        senders = range(4)
        per_sender = (ADMIT_CHUNK * 3) // (2 * len(senders)) + 1
        batch = [net.transfer(sender, 7) for _ in range(per_sender) for sender in senders]
        assert len(batch) > ADMIT_CHUNK
        answers = net.submit(1, batch)
        assert [r["code"] for r in answers] == ["accepted"] * len(batch), answers
        wait_until(
            lambda: all(net.status(i)["mempool_size"] == 0 for i in range(4)),
            60,
            "the batch to commit everywhere",
        )
        for index in range(4):
            for sender in senders:
                address = address_to_text(net.accounts[sender].public_key)
                code, account = http("GET", net.url(index, f"/v1/accounts/{address}"))
                assert code == 200 and account["nonce"] == per_sender, account
        for stx in (batch[0], batch[-1]):
            code, outcome = http("GET", net.url(0, f"/v1/txs/{stx.hash.hex()}"))
            assert (code, outcome["status"]) == (200, "committed"), outcome
    finally:
        net.close()
