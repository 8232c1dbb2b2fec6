"""Whatever bytes arrive, the replica drops them and counts them; it never raises."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.messages import (
    PrepareVote,
    PrePrepare,
    Status,
    decode_message,
    encode_for_peers,
    encode_message,
)
from consensus.replica import Replica
from ledger.errors import CodecError
from ledger.tx import Transaction
from tests.sim.simnet import CHAIN_ID, SIM_CONFIG, START_TIME, SimApp, make_key

KEYS = [make_key(f"fuzz-validator-{i}") for i in range(4)]


def _replica() -> tuple[Replica, list[bytes]]:
    from ledger.genesis import Genesis

    genesis = Genesis(
        CHAIN_ID,
        int(START_TIME * 1000) - 1000,
        tuple((k.public_key, "v") for k in KEYS),
        [],
    )
    app = SimApp(genesis, set())
    app._proposer = KEYS[1].public_key
    user = make_key("fuzz-user")
    tx = Transaction(CHAIN_ID, user.public_key, 0, "coin.create", ("FZ", "FZ", 2, 10))
    assert app.admit(tx.sign(user))  # so the compact sample lists a transaction
    block = app.propose(1, 0, int(START_TIME * 1000))
    assert block.transactions
    samples = [
        encode_message(PrePrepare.create(KEYS[1], CHAIN_ID, 1, 0, block)),
        encode_message(PrepareVote.create(KEYS[2], CHAIN_ID, 1, 0, block.hash)),
        encode_message(Status.create(KEYS[3], CHAIN_ID, 1, 0)),
        encode_for_peers(PrePrepare.create(KEYS[1], CHAIN_ID, 1, 0, block)),  # compact
    ]
    replica = Replica(SIM_CONFIG, KEYS[0], app)
    replica.on_timer(START_TIME)
    return replica, samples


REPLICA, SAMPLES = _replica()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    before = REPLICA.metrics["messages_received"]
    REPLICA.on_message(data, START_TIME)
    assert REPLICA.metrics["messages_received"] == before + 1


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(SAMPLES))), st.data())
def test_mutated_valid_messages_never_raise(which: int, data: st.DataObject) -> None:
    wire = bytearray(SAMPLES[which])
    position = data.draw(st.integers(0, len(wire) - 1))
    wire[position] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(CodecError):
        decode_message(bytes(wire))
    REPLICA.on_message(bytes(wire), START_TIME)
