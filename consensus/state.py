"""What a validator must remember across a crash so it never contradicts its own votes.

    PersistedState = [28, 1, height, view, in_view_change, [view, block_hash] | nil,
                      [view, block_hash] | nil, PreparedCertificate | nil, [Block, ...]]

Only the current (undecided) height matters: once a block is committed the store
holds it and this record is obsolete. Views only grow, so the latest PREPARE and
COMMIT votes are enough: the replica never votes in a view below `view`, and in
`view` itself only for the block it already voted for. The blocks are the ones
those votes and the prepared certificate name, so a restarted primary can re-send
its proposal and a restarted replica can hand its prepared block to a new primary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus.messages import (
    MAX_MESSAGE_BYTES,
    MESSAGE_VERSION,
    TAG_PERSISTED_STATE,
    PreparedCertificate,
)
from ledger import codec
from ledger.block import MAX_HEIGHT, Block
from ledger.errors import CodecError
from ledger.hashing import HASH_SIZE

MAX_PERSISTED_BLOCKS = 2


def _vote_to_list(vote: tuple[int, bytes] | None) -> list[Any] | None:
    return None if vote is None else [vote[0], vote[1]]


def _vote_from_list(value: Any) -> tuple[int, bytes] | None:
    if value is None:
        return None
    view, block_hash = codec.expect_list(value, 2, "vote")
    return (
        codec.expect_int(view, "view", 0, MAX_HEIGHT),
        codec.expect_bytes(block_hash, "block_hash", HASH_SIZE),
    )


@dataclass(frozen=True)
class PersistedState:
    height: int
    view: int
    in_view_change: bool
    prepare_vote: tuple[int, bytes] | None  # (view, block_hash) of the latest PREPARE sent
    commit_vote: tuple[int, bytes] | None  # (view, block_hash) of the latest COMMIT sent
    prepared: PreparedCertificate | None  # the highest prepared certificate held
    blocks: tuple[Block, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_PERSISTED_STATE,
            MESSAGE_VERSION,
            self.height,
            self.view,
            self.in_view_change,
            _vote_to_list(self.prepare_vote),
            _vote_to_list(self.commit_vote),
            None if self.prepared is None else self.prepared.to_list(),
            [block.to_list() for block in self.blocks],
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @staticmethod
    def decode(data: bytes) -> PersistedState:
        fields = codec.expect_list(
            codec.decode(data, 2 * MAX_MESSAGE_BYTES), 9, "persisted consensus state"
        )
        if fields[0] != TAG_PERSISTED_STATE or fields[1] != MESSAGE_VERSION:
            raise CodecError("bad_tag", "not a persisted consensus state")
        if not isinstance(fields[8], list) or len(fields[8]) > MAX_PERSISTED_BLOCKS:
            raise CodecError("bad_type", "persisted blocks must be a short array")
        return PersistedState(
            height=codec.expect_int(fields[2], "height", 0, MAX_HEIGHT),
            view=codec.expect_int(fields[3], "view", 0, MAX_HEIGHT),
            in_view_change=codec.expect_bool(fields[4], "in_view_change"),
            prepare_vote=_vote_from_list(fields[5]),
            commit_vote=_vote_from_list(fields[6]),
            prepared=None if fields[7] is None else PreparedCertificate.from_list(fields[7]),
            blocks=tuple(Block.from_list(item) for item in fields[8]),
        )
