"""node/consensus_inbox.py: peers' consensus messages taken in turn, bounded per peer,
and a peer that sends false signatures muted for a while."""

from __future__ import annotations

from node.consensus_inbox import FULL, MUTED, OVER_RATE, QUEUED, ConsensusInbox

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def inbox(
    clock: Clock | None = None, peer_bytes: int = 1_000, rate: float = 1e9, burst: int = 10**9
) -> ConsensusInbox:
    return ConsensusInbox(
        peer_bytes, mute_after=3, mute_seconds=60.0, rate=rate, burst=burst, clock=clock or Clock()
    )


def drain(box: ConsensusInbox) -> list[tuple[bytes, bytes]]:
    taken = []
    while (item := box.take()) is not None:
        taken.append(item)
    return taken


def test_peers_take_turns_and_each_keeps_its_own_order() -> None:
    box = inbox()
    for i in range(5):
        assert box.put(A, b"a%d" % i) == QUEUED
    assert box.put(B, b"b0") == QUEUED
    assert box.put(C, b"c0") == QUEUED
    assert box.put(B, b"b1") == QUEUED
    assert len(box) == 8
    assert drain(box) == [
        (A, b"a0"),
        (B, b"b0"),
        (C, b"c0"),
        (A, b"a1"),
        (B, b"b1"),
        (A, b"a2"),
        (A, b"a3"),
        (A, b"a4"),
    ]
    assert len(box) == 0 and box.waiting_bytes(A) == 0


def test_a_peer_holds_at_most_its_bytes_and_taking_frees_them() -> None:
    box = inbox(peer_bytes=10)
    assert box.put(A, b"x" * 6) == QUEUED
    assert box.put(A, b"y" * 5) == FULL
    assert box.put(B, b"z" * 10) == QUEUED  # another peer has its own share
    assert box.waiting_bytes(A) == 6
    assert box.take() == (A, b"x" * 6)
    assert box.put(A, b"y" * 5) == QUEUED


def test_strikes_mute_a_peer_drop_what_it_has_waiting_and_lapse_after_the_mute() -> None:
    clock = Clock()
    box = inbox(clock)
    for i in range(4):
        box.put(A, b"a%d" % i)
    box.put(B, b"b0")
    assert not box.strike(A) and not box.strike(A)
    assert box.strike(A)  # the third strike mutes
    assert box.is_muted(A) and not box.is_muted(B)
    assert len(box) == 1 and box.waiting_bytes(A) == 0
    assert box.put(A, b"later") == MUTED
    assert drain(box) == [(B, b"b0")]
    clock.now += 59.0
    assert box.put(A, b"still") == MUTED
    clock.now += 2.0
    assert box.put(A, b"heard again") == QUEUED
    assert drain(box) == [(A, b"heard again")]
    # a fresh count: two strikes do not mute
    assert not box.strike(A) and not box.strike(A) and not box.is_muted(A)


def test_strikes_far_apart_never_mute() -> None:
    clock = Clock()
    box = inbox(clock)
    for _ in range(10):
        assert not box.strike(A)
        clock.now += 61.0  # each strike alone in its window
    assert not box.is_muted(A)


def test_a_peer_muted_while_in_the_turn_order_is_skipped_and_heard_once_again() -> None:
    clock = Clock()
    box = inbox(clock)
    box.put(A, b"a0")
    box.put(B, b"b0")
    for _ in range(3):
        box.strike(A)
    clock.now += 61.0
    box.put(A, b"a1")
    box.put(B, b"b1")
    # A appears once in the turns, not twice (its muted entry went with its queue)
    assert drain(box) == [(B, b"b0"), (A, b"a1"), (B, b"b1")]


def test_a_peer_sends_at_most_its_rate_after_a_burst_and_others_are_not_charged() -> None:
    clock = Clock()
    box = inbox(clock, rate=10.0, burst=5)
    assert [box.put(A, b"m") for _ in range(6)] == [QUEUED] * 5 + [OVER_RATE]
    assert box.put(B, b"m") == QUEUED  # B's bucket is its own
    clock.now += 0.25  # 2.5 tokens back
    assert [box.put(A, b"m") for _ in range(3)] == [QUEUED, QUEUED, OVER_RATE]
    clock.now += 100.0  # a long quiet: the bucket fills to the burst, no further
    assert [box.put(A, b"m") for _ in range(6)] == [QUEUED] * 5 + [OVER_RATE]
    assert len(box) == 13


def test_a_peer_sends_at_most_its_bytes_a_second_after_a_burst() -> None:
    clock = Clock()
    box = ConsensusInbox(
        10_000,
        mute_after=3,
        mute_seconds=60.0,
        rate=1e9,
        burst=10**9,
        byte_rate=100.0,
        byte_burst=250,
        clock=clock,
    )
    assert box.put(A, b"x" * 200) == QUEUED
    assert box.put(A, b"x" * 100) == OVER_RATE  # 50 bytes left of the burst
    assert box.put(A, b"x" * 50) == QUEUED
    assert box.put(B, b"x" * 250) == QUEUED  # B's bytes are its own
    clock.now += 1.0  # 100 bytes back
    assert box.put(A, b"x" * 101) == OVER_RATE
    assert box.put(A, b"x" * 100) == QUEUED
