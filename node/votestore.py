"""The replica's votes on LevelDB: what a restarted validator must not contradict.

The replica's `Persist` state names up to two blocks (the one it voted for and the
one it holds a prepared certificate for), usually the same block twice in a row
(the PREPARE vote, then the COMMIT vote). Written inline, every vote re-encoded
and re-wrote the whole block with a synced write. Here the record under
PERSISTED_STATE_KEY holds the votes alone, and each block it names is written
under its hash once, from the bytes it was decoded from (or first encoded to),
in the same synced batch as the first record that names it. Blocks no record
names any more are deleted in the batch of the record that stops naming them.

    node/consensus/state           -> PersistedState with no blocks (small)
    node/consensus/block/<hash>    -> block bytes, for each block the state names

A record written by an older node, with its blocks inline, reads the same.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.state import PersistedState
from ledger.block import Block
from ledger.errors import CodecError
from node.log import log
from node.storage import LevelDBStore

PERSISTED_STATE_KEY = b"node/consensus/state"
BLOCK_PREFIX = b"node/consensus/block/"


def named_hashes(state: PersistedState) -> list[bytes]:
    """The block hashes a persisted state refers to (its votes and prepared certificate)."""
    hashes: list[bytes] = []
    for vote in (state.prepare_vote, state.commit_vote):
        if vote is not None and vote[1] not in hashes:
            hashes.append(vote[1])
    if state.prepared is not None and state.prepared.block_hash not in hashes:
        hashes.append(state.prepared.block_hash)
    return hashes


class VoteStore:
    """Reads and writes the replica's persisted state; the only writer of its keys."""

    def __init__(self, store: LevelDBStore) -> None:
        self.store = store
        # hashes of the blocks on disk under BLOCK_PREFIX (what a crash left included)
        self._stored: set[bytes] = {
            key[len(BLOCK_PREFIX) :] for key, _ in store.iterate(BLOCK_PREFIX)
        }

    def load(self) -> PersistedState | None:
        """The last state written, with the blocks it names; None if there is none."""
        raw = self.store.get(PERSISTED_STATE_KEY)
        if raw is None:
            return None
        try:
            state = PersistedState.decode(raw)
        except CodecError as exc:
            log("consensus_state_unreadable", level="warning", error=exc.message)
            return None
        blocks = list(state.blocks)
        for block_hash in named_hashes(state):
            if any(block.hash == block_hash for block in blocks):
                continue
            stored = self.store.get(BLOCK_PREFIX + block_hash)
            if stored is None:
                continue
            try:
                block = Block.decode(stored)
            except CodecError as exc:
                log("consensus_block_unreadable", level="warning", error=exc.message)
                continue
            if block.hash == block_hash:
                blocks.append(block)
        return replace(state, blocks=tuple(blocks))

    def batch(self, state: PersistedState) -> dict[bytes, bytes | None]:
        """The writes that make `state` the durable one (see the module docstring)."""
        batch: dict[bytes, bytes | None] = {PERSISTED_STATE_KEY: replace(state, blocks=()).encode()}
        wanted = {block.hash: block for block in state.blocks}
        for block_hash, block in wanted.items():
            if block_hash not in self._stored:
                batch[BLOCK_PREFIX + block_hash] = block.encoded
        for block_hash in self._stored:
            if block_hash not in wanted:
                batch[BLOCK_PREFIX + block_hash] = None
        return batch

    def write(self, state: PersistedState) -> None:
        """Make `state` durable (one synced write) before anything it records is sent."""
        self.store.write(self.batch(state), sync=True)
        self._stored = {block.hash for block in state.blocks}
