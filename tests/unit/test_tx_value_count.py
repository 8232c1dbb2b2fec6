"""A transaction's args hold at most MAX_ARG_VALUES values, and input that would hold more
is refused from its msgpack headers, before anything is decoded (`codec.count_values`).

Decoding costs per value and a value can take one byte: 64 KiB of empty arrays made a
transaction that cost 26 ms to decode, and one batch of them held a validator's event
loop for two seconds.

Within the limit a transaction still costs up to 0.7 ms to decode, so a client's batch
and a peer's frame are decoded in slices, the event loop given back between them.

Also: `SignedTransaction.decode`'s path for the common form (a version 1 envelope,
fields tested in place) takes and refuses exactly what the whole check does."""

from __future__ import annotations

import asyncio
import copy
import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rpc_fake_node import FakeNode
from rpc_helpers import served, snapshot, transfer

from ledger import codec
from ledger.block import Block
from ledger.errors import CodecError
from ledger.kv import MemoryStore
from ledger.tx import (
    MAX_ARG_VALUES,
    MAX_TX_BYTES,
    SignedTransaction,
    Transaction,
    arg_values,
    check_value_count,
)
from node.loop_slices import SLICE_BYTES
from node.node import decode_all
from tests.ledgerkit import CHAIN_ID, Chain, key, make_genesis
from tests.property.test_ledger_codec_properties import values
from tests.unit.test_proposal_cost import count_decodes

ALICE, BOB = key(1), key(2)


def counted(value: Any) -> int:
    """The values `value` holds, itself included, counted on the decoded value."""
    if isinstance(value, list):
        return 1 + sum(counted(item) for item in value)
    return 1


@settings(max_examples=300, deadline=None)
@given(values)
def test_count_values_reads_from_headers_what_the_value_holds(value: Any) -> None:
    data = codec.encode(value)
    total = counted(value)
    assert codec.count_values(data, 10**9) == total
    # the walk stops just past the limit, whatever is left
    for limit in (0, total // 2, total - 1):
        if limit < total:
            assert codec.count_values(data, limit) == limit + 1
    assert codec.count_values(data, total) == total


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=50))
def test_count_values_counts_or_refuses_junk_and_never_fails_otherwise(
    data: bytes, limit: int
) -> None:
    try:
        assert 0 <= codec.count_values(data, limit) <= limit + 1
    except CodecError as exc:  # a header outside the codec, or input cut short
        assert exc.code in ("non_canonical", "malformed")
        with pytest.raises(CodecError):
            codec.decode(data)


JUNK = Transaction(
    CHAIN_ID, key(1).public_key, 0, "coin.transfer", ("IDR", key(2).public_key, 1, [[]] * 65_000)
)


@pytest.mark.parametrize(
    "header",
    [
        b"\x80",  # an empty map
        b"\xca\x00\x00\x00\x00",  # a float
        b"\xcb" + bytes(8),
        b"\xc7\x00\x01",  # an empty extension
        b"\xd4\x01\x00",
        b"\xc1",  # the unused marker
    ],
)
def test_a_header_outside_the_codec_does_not_let_the_rest_be_decoded(
    monkeypatch: Any, header: bytes
) -> None:
    # in place of the amount, early in 64 KiB of arrays: a walk that stopped there
    # would have let the whole input through to be decoded
    data = JUNK.sign(ALICE).encode()
    at = data.index(b"\x01\xdc")  # the amount 1, then the memo's array16 header
    hostile = data[:at] + header + data[at + 1 :]
    unpacked = count_unpacks(monkeypatch)
    with pytest.raises(CodecError) as caught:
        SignedTransaction.decode(hostile)
    assert caught.value.code in ("non_canonical", "malformed")
    assert unpacked == []


def test_input_cut_short_is_refused_from_its_headers(monkeypatch: Any) -> None:
    data = JUNK.sign(ALICE).encode()
    unpacked = count_unpacks(monkeypatch)
    with pytest.raises(CodecError) as caught:
        SignedTransaction.decode(data[:2_000])  # the array header promises 65,000 items
    assert caught.value.code in ("malformed", "too_many_values")
    assert unpacked == []


def test_a_co_signed_transaction_is_unpacked_once(monkeypatch: Any) -> None:
    co_signed = transfer_with("thanks").sign(ALICE, BOB)
    data = co_signed.encode()
    unpacked = count_unpacks(monkeypatch)
    decoded = SignedTransaction.decode(data)
    assert decoded.signatures == co_signed.signatures and decoded.encoded == data
    assert unpacked == [1]


@pytest.mark.parametrize("value", ["x" * 2_000, None, 7])
def test_input_that_is_not_bytes_is_a_codec_error(value: Any) -> None:
    with pytest.raises(CodecError) as caught:
        SignedTransaction.decode(value)
    assert caught.value.code == "bad_type"


def transfer_with(memo: Any, nonce: int = 0) -> Transaction:
    return Transaction(
        CHAIN_ID, ALICE.public_key, nonce, "coin.transfer", ("IDR", BOB.public_key, 1, memo)
    )


def test_args_of_exactly_the_limit_are_a_transaction_one_more_is_not() -> None:
    at_limit = transfer_with([[] for _ in range(MAX_ARG_VALUES - 4)])
    assert arg_values(at_limit.args) == MAX_ARG_VALUES
    signed = at_limit.sign(ALICE)
    assert SignedTransaction.decode(signed.encode()).hash == at_limit.hash
    assert Transaction.decode(at_limit.encode()) == at_limit
    over = transfer_with([[] for _ in range(MAX_ARG_VALUES - 3)])
    assert arg_values(over.args) == MAX_ARG_VALUES + 1
    for decode, data in (
        (Transaction.decode, over.encode()),
        (SignedTransaction.decode, over.sign(ALICE).encode()),
    ):
        with pytest.raises(CodecError) as caught:
            decode(data)
        assert caught.value.code == "too_many_values"


@pytest.mark.parametrize(
    "args",
    [
        [0] * (MAX_ARG_VALUES + 1),  # flat
        [[[1, 2, [3]]] * 300],  # nested: 1 + 300 * 5 values
        [(1,) * 600, [2] * 600],  # tuples count as arrays (as the codec encodes them)
    ],
)
def test_values_at_any_depth_count(args: list[Any]) -> None:
    assert arg_values(args) > MAX_ARG_VALUES
    with pytest.raises(CodecError) as caught:
        Transaction.from_list([1, 1, CHAIN_ID, ALICE.public_key, 0, "coin.transfer", args, 0])
    assert caught.value.code == "too_many_values"


def count_unpacks(monkeypatch: Any) -> list[int]:
    """One entry per msgpack value unpacked from now on (`codec.unpack`'s C call)."""
    unpacked: list[int] = []
    unpackb = codec.msgpack.unpackb

    def counting(*args: Any, **kwargs: Any) -> Any:
        unpacked.append(1)
        return unpackb(*args, **kwargs)

    monkeypatch.setattr(codec.msgpack, "unpackb", counting)
    return unpacked


def test_a_transaction_of_empty_arrays_is_refused_before_it_is_decoded(monkeypatch: Any) -> None:
    junk = transfer_with([[] for _ in range(60_000)]).sign(ALICE).encode()
    assert len(junk) < MAX_TX_BYTES
    decoded = count_decodes(monkeypatch)
    unpacked = count_unpacks(monkeypatch)
    with pytest.raises(CodecError) as caught:
        SignedTransaction.decode(junk)
    assert caught.value.code == "too_many_values"
    assert decoded == [] and unpacked == []
    # a small transaction is never walked: it cannot hold more values than bytes
    small = transfer_with("thanks").sign(ALICE).encode()
    walked: list[int] = []
    count_values = codec.count_values

    def counting_walk(data: bytes, limit: int) -> int:
        walked.append(1)
        return count_values(data, limit)

    monkeypatch.setattr(codec, "count_values", counting_walk)
    SignedTransaction.decode(small)
    assert walked == []


def test_a_block_carrying_such_a_transaction_is_not_a_block() -> None:
    # a proposer that built one anyway: replicas refuse its block as they decode it
    over = transfer_with([[] for _ in range(MAX_ARG_VALUES - 3)]).sign(ALICE)
    good = transfer_with("ok", nonce=1).sign(ALICE)
    block, _ = Chain(MemoryStore(), make_genesis()).next_block([over, good])
    assert Block.decode(Chain(MemoryStore(), make_genesis()).next_block([good])[0].encode())
    with pytest.raises(CodecError) as caught:
        Block.decode(block.encode())
    assert caught.value.code == "too_many_values"


async def test_a_batch_of_them_is_a_400_that_changes_nothing() -> None:
    node = FakeNode()
    a = node.accounts
    junk = (
        Transaction(
            CHAIN_ID,
            a.alice.public_key,
            0,
            "coin.transfer",
            ("IDRA", a.bob.public_key, 1, [[]] * 60_000),
        )
        .sign(a.alice)
        .encode()
    )
    good = transfer(a.alice, a.bob.public_key, 1)
    before = snapshot(node)
    async with served(node) as client:
        response = await client.post(
            "/v1/txs/batch", json={"txs": [good.encode().hex()] + [junk.hex()] * 60}
        )
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "malformed_tx"
        assert error["field"] == "txs.1"
        assert "at most 1024 values" in error["message"]
    assert snapshot(node) == before


def reference_decode(data: bytes) -> SignedTransaction:
    """The whole check, as `SignedTransaction.decode` did before its common-form path."""
    check_value_count(data)
    return SignedTransaction.from_list(codec.decode(data, MAX_TX_BYTES))


def outcome(decode: Any, data: bytes) -> tuple[str, Any]:
    try:
        stx = decode(data)
    except CodecError as exc:
        return "refused", exc.code
    return "taken", (stx.tx, stx.signatures, stx.hash, stx.version, stx.arg_value_count)


SIGNED = transfer_with("thanks").sign(ALICE)
ENVELOPE = codec.decode(SIGNED.encode())


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=len(SIGNED.encode()) - 1), st.integers(1, 255))
def test_the_common_form_path_takes_and_refuses_what_the_whole_check_does(
    at: int, flip: int
) -> None:
    data = bytearray(SIGNED.encode())
    data[at] ^= flip
    assert outcome(SignedTransaction.decode, bytes(data)) == outcome(reference_decode, bytes(data))


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.__setitem__(0, True),  # a boolean where the tag is
        lambda e: e.__setitem__(1, 1.0),  # a float where the version is
        lambda e: e[2].__setitem__(0, True),
        lambda e: e[2].__setitem__(4, 1.5),  # a float nonce
        lambda e: e[2].__setitem__(4, -1),
        lambda e: e[2].__setitem__(7, 1 << 63),  # an expiry out of range
        lambda e: e[2].__setitem__(2, "c" * 65),  # chain id too long
        lambda e: e[2].__setitem__(3, b"k" * 31),
        lambda e: e[2][6].append(0.5),  # a float among the args
        lambda e: e[2][6].append(functools.reduce(lambda inner, _: [inner], range(40), [])),
        lambda e: e.__setitem__(3, b"s" * 63),
        lambda e: e.append(None),
        lambda e: e[2].append(None),
    ],
)
def test_every_field_rule_holds_on_the_common_form_path(change: Any) -> None:
    envelope = copy.deepcopy(ENVELOPE)
    change(envelope)
    data = codec.msgpack.packb(envelope, use_bin_type=True)
    taken, code = outcome(SignedTransaction.decode, data)
    assert taken == "refused"
    assert (taken, code) == outcome(reference_decode, data)


def test_a_wider_integer_form_than_needed_is_refused_on_both_paths() -> None:
    data = SIGNED.encode()
    memo = bytes([0xA6]) + b"thanks"
    at = data.index(b"\x01" + memo)  # the amount 1 before the memo, a positive fixint
    wide = data[:at] + b"\xcc\x01" + data[at + 1 :]  # the same 1 as a uint8
    assert outcome(SignedTransaction.decode, wide) == ("refused", "non_canonical")
    assert outcome(reference_decode, wide) == ("refused", "non_canonical")


def costly_but_valid(count: int) -> list[bytes]:
    """Transactions within every limit that cost the most to decode: 1,020 empty arrays
    each (1.2 KB, 0.7 ms where a transfer takes 5 µs)."""
    return [
        transfer_with([[]] * (MAX_ARG_VALUES - 4), nonce=nonce).sign(ALICE).encode()
        for nonce in range(count)
    ]


async def ticks_during(work: Any) -> tuple[Any, int]:
    """`work`'s result, and how often another task ran while it did."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = ticks
    try:
        result = await work
    finally:
        done.set()
        await other
    return result, ticks - start


async def test_decoding_a_peers_frame_gives_the_loop_back_between_slices() -> None:
    raws = costly_but_valid(40)  # 48 KB: three slices
    decoded, ticks = await ticks_during(decode_all([*raws, b"\xc1"]))
    assert [stx.encoded for stx in decoded[:-1]] == raws  # type: ignore[union-attr]
    assert isinstance(decoded[-1], CodecError) and decoded[-1].code == "malformed"
    assert ticks >= len(b"".join(raws)) // SLICE_BYTES
    # a frame of transfers, under a slice, is decoded in one go
    small = [transfer_with("hi", nonce=n).sign(ALICE).encode() for n in range(37)]
    _, ticks = await ticks_during(decode_all(small))
    assert ticks <= 1


async def test_decoding_within_a_budget_stops_once_the_decoded_hold_that_much() -> None:
    from node.mempool import held_bytes

    raws = costly_but_valid(10)
    weight = held_bytes(SignedTransaction.decode(raws[0]))
    refused = CodecError("malformed", "not msgpack")
    decoded = await decode_all([refused, *raws], 3 * weight)
    assert decoded[0] is refused  # decoded already (or refused): passed through
    assert [stx.encoded for stx in decoded[1:]] == raws[:3]  # type: ignore[union-attr]
    decoded = await decode_all(raws, 3 * weight - 1)
    assert len(decoded) == 3  # the one that reaches the budget is the last
    assert len(await decode_all(raws, 1)) == 1  # at least one, however small the budget
    assert len(await decode_all(raws)) == 10


async def test_a_client_batch_gives_the_loop_back_between_slices(monkeypatch: Any) -> None:
    from node.loop_slices import LoopSlices
    from node.rpc import routes_txs

    used: list[LoopSlices] = []

    class Recorded(LoopSlices):
        def __init__(self) -> None:
            super().__init__()
            used.append(self)

    monkeypatch.setattr(routes_txs, "LoopSlices", Recorded)
    node = FakeNode()
    a = node.accounts
    memo = [[]] * (MAX_ARG_VALUES - 4)
    raws = [
        Transaction(
            CHAIN_ID, a.alice.public_key, n, "coin.transfer", ("IDRA", a.bob.public_key, 1, memo)
        )
        .sign(a.alice)
        .encode()
        for n in range(40)
    ]
    async with served(node) as client:
        response = await client.post("/v1/txs/batch", json={"txs": [raw.hex() for raw in raws]})
        assert response.status == 200
        assert len((await response.json())["results"]) == 40
    (slices,) = used
    assert slices.yields == len(b"".join(raws)) // SLICE_BYTES


async def test_batches_hold_at_most_a_budget_of_decoded_transactions(
    monkeypatch: Any,
) -> None:
    """Decoded, a batch at the value limit holds up to 66 MB until admitted: batches
    together hold at most DECODED_BUDGET, and one that would take more is a 429 while
    the others go on (a client's heavy batches do not hold everyone else's up)."""
    from node.mempool import held_bytes
    from node.rpc import routes_txs
    from node.rpc.limits import GATES_KEY

    node = FakeNode()
    a = node.accounts
    memo = [[]] * (MAX_ARG_VALUES - 4)
    batches = [
        [
            Transaction(
                CHAIN_ID, key.public_key, n, "coin.transfer", ("IDRA", a.alice.public_key, 1, memo)
            ).sign(key)
            for n in range(20)
        ]
        for key in (a.alice, a.bob)
    ]
    weight = sum(held_bytes(stx) for stx in batches[0])
    monkeypatch.setattr(routes_txs, "DECODED_BUDGET", weight * 3 // 2)  # one, not both
    submit = node.submit

    async def slow_submit(raws: Any) -> Any:
        await asyncio.sleep(0.05)  # admission awaits its signature checks meanwhile
        return await submit(raws)

    node.submit = slow_submit  # type: ignore[method-assign]
    async with served(node) as client:
        gates = client.server.app[GATES_KEY]
        answers = await asyncio.gather(
            *(
                client.post("/v1/txs/batch", json={"txs": [stx.encode().hex() for stx in b]})
                for b in batches
            )
        )
        assert sorted(answer.status for answer in answers) == [200, 429]
        (busy,) = [answer for answer in answers if answer.status == 429]
        assert (await busy.json())["error"]["code"] == "decoding_full"
        assert busy.headers["Retry-After"]
        assert gates.decoded == 0  # every batch gave back what it held
        # alone, either batch fits
        again = await client.post(
            "/v1/txs/batch", json={"txs": [stx.encode().hex() for stx in batches[1]]}
        )
        assert again.status == 200 and gates.decoded == 0
