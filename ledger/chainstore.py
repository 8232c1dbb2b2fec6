"""The committed chain in a key-value store: blocks, certificates, receipts, head.

`commit_block` writes a block, its commit certificate, its receipts, the state
write-set, the transaction index and the new head in ONE atomic batch, so after
a crash the store holds either all of height h or none of it. Reading the head
back after a restart gives exactly the last committed height and state root.

Each node assembles its own 2f+1 certificate for the newest block, so two nodes
may hold different (equally valid) certificates for it. Committing block h+1
replaces the stored certificate of h with the one h+1 carries, so every node
then serves the same certificate for h: the one the chain itself records.

    chain/genesis                 -> genesis bytes
    chain/head                    -> [height, block_hash, state_root]
    chain/block/<height:8>        -> block bytes
    chain/cert/<height:8>         -> commit certificate bytes (the one block h+1 carries,
                                     once it exists; until then this node's own)
    chain/receipts/<height:8>     -> [receipt, ...] (+ end-of-block pseudo-receipt)
    chain/tx/<tx_hash>            -> [height, index]
    chain/valproof/<start:8>      -> StateProof of the validator schedule in the state of
                                     block start-1 (the set changes at `start`)
    chain/valtx/<start:8>         -> [height, index] of the last transaction that scheduled
                                     the set starting at `start` (governance)
    chain/tree/...                -> state tree nodes and stale index (ledger.state_tree)
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import codec
from ledger.block import Block, CommitCertificate
from ledger.errors import CodecError
from ledger.execution import BlockResult, receipt_leaves
from ledger.genesis import Genesis
from ledger.kv import KVReader, KVStore
from ledger.receipt import Outcome, Receipt
from ledger.state import StateView
from ledger.state_tree import StateProof, prove, prune
from ledger.validators import VALIDATOR_SCHEDULE_KEY, VALIDATORS_SCHEDULED_EVENT

GENESIS_KEY = b"chain/genesis"
HEAD_KEY = b"chain/head"
BLOCK_PREFIX = b"chain/block/"
CERT_PREFIX = b"chain/cert/"
RECEIPTS_PREFIX = b"chain/receipts/"
TX_INDEX_PREFIX = b"chain/tx/"
VALIDATOR_PROOF_PREFIX = b"chain/valproof/"
VALIDATOR_TX_PREFIX = b"chain/valtx/"
KEEP_TREE_VERSIONS = 128  # state tree versions kept provable (see ledger.state_tree)


@dataclass(frozen=True, slots=True)
class Head:
    height: int
    block_hash: bytes
    state_root: bytes


def height_key(prefix: bytes, height: int) -> bytes:
    return prefix + height.to_bytes(8, "big")


def read_head(reader: KVReader) -> Head | None:
    raw = reader.get(HEAD_KEY)
    if raw is None:
        return None
    height, block_hash, state_root = codec.decode(raw)
    return Head(height, block_hash, state_root)


def read_genesis(reader: KVReader) -> Genesis | None:
    raw = reader.get(GENESIS_KEY)
    return None if raw is None else Genesis.decode(raw)


def init_genesis(store: KVStore, genesis: Genesis, result: BlockResult) -> Head:
    """Write genesis state and a height-0 head in one batch (only on an empty store)."""
    if read_head(store) is not None:
        raise ValueError("store already holds a chain")
    head = Head(0, genesis.hash, result.state_root)
    batch = result.state_batch()
    batch[GENESIS_KEY] = genesis.encode()
    batch[HEAD_KEY] = codec.encode([head.height, head.block_hash, head.state_root])
    store.write(batch, sync=True)
    return head


def commit_batch(
    block: Block, certificate: CommitCertificate, result: BlockResult
) -> dict[bytes, bytes | None]:
    """Everything committing `block` writes, as one batch."""
    height = block.height
    batch = result.state_batch()
    batch[height_key(BLOCK_PREFIX, height)] = block.encode()
    batch[height_key(CERT_PREFIX, height)] = certificate.encode()
    if block.last_certificate is not None:
        batch[height_key(CERT_PREFIX, height - 1)] = block.last_certificate.encode()
    leaves = result.receipt_leaves
    if len(leaves) != result.receipts_count:  # a result built without them
        leaves = receipt_leaves(result.receipts, result.block_events)
    batch[height_key(RECEIPTS_PREFIX, height)] = codec.encode_array(leaves)
    for index, stx in enumerate(block.transactions):
        batch[TX_INDEX_PREFIX + stx.hash] = codec.encode([height, index])
    for index, receipt in enumerate(result.receipts):
        for event in receipt.events:  # in block order: the last scheduling wins
            if event.name == VALIDATORS_SCHEDULED_EVENT:
                start = event.get("start_height")
                batch[height_key(VALIDATOR_TX_PREFIX, int(start))] = codec.encode([height, index])
    batch[HEAD_KEY] = codec.encode([height, block.hash, block.header.state_root])
    return batch


def schedule_of(value: bytes) -> list[tuple[int, list[bytes]]]:
    return [(int(start), list(keys)) for start, keys in codec.decode(value)]


def validator_change_batch(
    store: KVReader, block: Block, batch: dict[bytes, bytes | None]
) -> dict[bytes, bytes | None]:
    """When the validator set changes at the next height, keep the proof of the schedule
    in this block's state: light clients follow set changes through these proofs, long
    after the tree version itself has been pruned."""
    next_height = block.height + 1
    value = batch.get(VALIDATOR_SCHEDULE_KEY)
    if value is None:
        value = store.get(VALIDATOR_SCHEDULE_KEY)
    if value is None or all(start != next_height for start, _ in schedule_of(value)):
        return {}
    after = StateView(store)  # the state and tree as this batch leaves them (rare: a set change)
    for key, written in batch.items():
        if written is None:
            after.delete(key)
        else:
            after.put(key, written)
    proof = prove(after, block.height, block.header.state_root, VALIDATOR_SCHEDULE_KEY, value)
    return {height_key(VALIDATOR_PROOF_PREFIX, next_height): proof.encode()}


def read_validator_tx(reader: KVReader, start_height: int) -> tuple[int, int] | None:
    """(height, index) of the transaction that scheduled the set of `start_height`."""
    raw = reader.get(height_key(VALIDATOR_TX_PREFIX, start_height))
    if raw is None:
        return None
    height, index = codec.decode(raw)
    return int(height), int(index)


def read_validator_proof(reader: KVReader, start_height: int) -> StateProof | None:
    """The schedule proof kept for the set that starts at `start_height` (see above)."""
    raw = reader.get(height_key(VALIDATOR_PROOF_PREFIX, start_height))
    return None if raw is None else StateProof.decode(raw)


def commit_block(
    store: KVStore,
    block: Block,
    certificate: CommitCertificate,
    result: BlockResult,
    keep_versions: int = KEEP_TREE_VERSIONS,
) -> Head:
    """Persist a committed block and its effects atomically; return the new head.

    The same batch deletes the state tree nodes that only versions older than
    the newest `keep_versions` need (state proofs reach back that far)."""
    head = read_head(store)
    expected = 1 if head is None else head.height + 1
    if block.height != expected:
        raise ValueError(f"cannot commit height {block.height}: next height is {expected}")
    if head is not None and block.header.prev_hash != head.block_hash:
        raise ValueError("block does not extend the stored head")
    if certificate.block_hash != block.hash or certificate.height != block.height:
        raise ValueError("the certificate is for another block")
    batch = commit_batch(block, certificate, result)
    batch.update(validator_change_batch(store, block, batch))
    batch.update(prune(store, block.height, keep_versions))
    store.write(batch, sync=True)
    return Head(block.height, block.hash, block.header.state_root)


def read_block(reader: KVReader, height: int) -> Block | None:
    raw = reader.get(height_key(BLOCK_PREFIX, height))
    return None if raw is None else Block.decode_stored(raw)


def read_certificate(reader: KVReader, height: int) -> CommitCertificate | None:
    raw = reader.get(height_key(CERT_PREFIX, height))
    return None if raw is None else CommitCertificate.decode(raw)


def read_receipts(reader: KVReader, height: int) -> list[Receipt]:
    raw = reader.get(height_key(RECEIPTS_PREFIX, height))
    return [] if raw is None else [Receipt.from_list(item) for item in codec.decode_stored(raw)]


def read_outcomes(
    reader: KVReader, height: int, tx_count: int
) -> tuple[list[Outcome], list[Receipt]]:
    """The outcomes of the block's first `tx_count` receipts (its transactions'), and
    the receipts after them (the end of the block's) whole, events included."""
    raw = reader.get(height_key(RECEIPTS_PREFIX, height))
    items = [] if raw is None else codec.decode_stored(raw)
    if not isinstance(items, list):
        raise CodecError("bad_type", "receipts must be an array")
    return (
        [Outcome.from_list(item) for item in items[:tx_count]],
        [Receipt.from_list(item) for item in items[tx_count:]],
    )


def find_tx(reader: KVReader, tx_hash: bytes) -> tuple[int, int] | None:
    """(height, index) of a committed transaction, or None."""
    raw = reader.get(TX_INDEX_PREFIX + tx_hash)
    if raw is None:
        return None
    height, index = codec.decode(raw)
    return int(height), int(index)
