"""Executing transactions and blocks: the one state-transition entry point.

`apply_block` runs a block's transactions on a copy-on-write view of the
committed state and returns the write-set, receipts and roots; it touches no disk.
The node persists the result in one atomic batch after the block is committed.

Each transaction first passes the envelope checks (chain, signatures, expiry,
nonce, method) and then authorization: the application's `authorize` decides
whether the signers may act for the sender (the account policy: weights,
thresholds, scoped keys); without one, only the sender's own key may. A
transaction that fails them is recorded as rejected and does not use up its
nonce. One that passes consumes the nonce, then its contract handler runs on
a child view (the one authorization ran on, so a scoped key's allowance is
charged only if the handler succeeds): if the handler raises
`InvalidTransaction`, the child is dropped and the receipt carries the code.
Any other exception is a node fault and propagates: recording it would let
validators diverge.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from ledger import codec
from ledger.block import Block, BlockHeader, CommitCertificate, certificate_hash, validator_set_hash
from ledger.errors import CodecError, InvalidBlock, InvalidTransaction
from ledger.genesis import Genesis
from ledger.hashing import ZERO_HASH
from ledger.keys import SignatureCheck, verify_many
from ledger.kv import KVReader
from ledger.merkle import merkle_root
from ledger.receipt import OK, Event, Receipt
from ledger.state import StateView
from ledger.state_tree import update_tree
from ledger.tx import SignedTransaction, Transaction
from ledger.validators import schedule_validators, validators_at

NONCE_PREFIX = b"acct/nonce/"
BLOCK_EVENTS_HASH = ZERO_HASH  # tx_hash of the pseudo-receipt holding end-of-block events
END_BLOCK_CODE = "end_block"


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """What a handler may know about the block it runs in: no wall clock, only this."""

    chain_id: str
    height: int
    timestamp_ms: int
    proposer: bytes


class Context:
    """What a contract handler or hook sees: state, the block, the sender, an event sink."""

    __slots__ = ("state", "block", "sender", "tx_hash", "events")

    def __init__(self, state: StateView, block: BlockInfo, sender: bytes, tx_hash: bytes) -> None:
        self.state = state
        self.block = block
        self.sender = sender
        self.tx_hash = tx_hash
        self.events: list[Event] = []

    def emit(self, name: str, *attributes: tuple[str, Any]) -> None:
        self.events.append(Event(name, tuple(attributes)))


Handler = Callable[[Context, tuple[Any, ...]], None]
# Raises InvalidTransaction unless the signer keys may send `tx` for `ctx.sender`;
# may write (e.g. charge an allowance) through `ctx.state`.
Authorizer = Callable[[Context, Transaction, tuple[bytes, ...]], None]
Hook = Callable[[Context], None]
GenesisHook = Callable[[Context, Genesis], None]


@dataclass(frozen=True)
class Application:
    """The contract set: handlers by method name and the block hooks, in run order."""

    handlers: Mapping[str, Handler]
    end_block_hooks: Sequence[Hook] = ()
    genesis_hooks: Sequence[GenesisHook] = ()
    authorize: Authorizer | None = None


def sender_key_only(ctx: Context, tx: Transaction, signers: tuple[bytes, ...]) -> None:
    """The rule without an account policy: the sender's own key signs alone."""
    if signers != (tx.sender,):
        raise InvalidTransaction(
            "unknown_signer", "only the sender's own key may sign for this account"
        )


@dataclass
class BlockResult:
    write_set: list[tuple[bytes, bytes | None]]
    receipts: list[Receipt]
    block_events: list[Event] = field(default_factory=list)
    tx_root: bytes = ZERO_HASH
    receipts_root: bytes = ZERO_HASH
    state_root: bytes = ZERO_HASH
    tree_writes: dict[bytes, bytes | None] = field(default_factory=dict)
    # the receipts' encodings (and the end-of-block receipt's): the leaves of the
    # receipts root, kept so that storing the receipts does not encode them again
    receipt_leaves: list[bytes] = field(default_factory=list)

    def state_batch(self) -> dict[bytes, bytes | None]:
        """The state write-set and the state tree's new nodes, as one store batch."""
        batch: dict[bytes, bytes | None] = dict(self.write_set)
        batch.update(self.tree_writes)
        return batch

    @property
    def receipts_count(self) -> int:
        """Leaves under the receipts root: one per tx, plus the end-of-block receipt if any."""
        return len(self.receipts) + (1 if self.block_events else 0)


def nonce_key(account: bytes) -> bytes:
    return NONCE_PREFIX + account


def account_nonce(reader: KVReader | StateView, account: bytes) -> int:
    """The nonce the account's next transaction must carry."""
    raw = reader.get(nonce_key(account))
    return 0 if raw is None else int(codec.decode_stored(raw))


def receipt_leaves(receipts: Sequence[Receipt], block_events: Sequence[Event]) -> list[bytes]:
    """The encoded receipts of a block, the end-of-block receipt last if there is one."""
    leaves = [receipt.encode() for receipt in receipts]
    if block_events:
        leaves.append(end_block_receipt(block_events).encode())
    return leaves


def receipts_root(receipts: Sequence[Receipt], block_events: Sequence[Event]) -> bytes:
    return merkle_root(receipt_leaves(receipts, block_events))


def end_block_receipt(block_events: Sequence[Event]) -> Receipt:
    """The pseudo-receipt that records what end-of-block hooks did."""
    return Receipt(BLOCK_EVENTS_HASH, True, END_BLOCK_CODE, "", tuple(block_events))


def tx_root(transactions: Sequence[SignedTransaction]) -> bytes:
    return merkle_root([stx.hash for stx in transactions])


def _rejected(tx_hash: bytes, code: str, message: str) -> Receipt:
    return Receipt(tx_hash, False, code, message, ())


def apply_tx(
    app: Application, state: StateView, stx: SignedTransaction, block: BlockInfo, signature_ok: bool
) -> Receipt:
    """Run one transaction on `state`; on rejection `state` is unchanged."""
    tx = stx.tx
    tx_hash = stx.hash
    if tx.chain_id != block.chain_id:
        return _rejected(tx_hash, "wrong_chain", f"transaction is for chain {tx.chain_id!r}")
    if not signature_ok:
        return _rejected(tx_hash, "bad_signature", "a signature does not match its key")
    if tx.expiry_ms and block.timestamp_ms > tx.expiry_ms:
        return _rejected(tx_hash, "expired", f"transaction expired at {tx.expiry_ms} ms")
    sender = tx.sender
    nonce_at = NONCE_PREFIX + sender  # read here, written below: built once
    raw = state.get(nonce_at)
    expected = 0 if raw is None else int(codec.decode_stored(raw))
    if tx.nonce < expected:
        return _rejected(tx_hash, "nonce_reused", f"nonce {tx.nonce} was used; next is {expected}")
    if tx.nonce > expected:
        return _rejected(tx_hash, "nonce_gap", f"nonce {tx.nonce} is ahead; next is {expected}")
    handler = app.handlers.get(tx.method)
    if handler is None:
        return _rejected(tx_hash, "unknown_method", f"no contract method {tx.method!r}")
    child = StateView(state)
    context = Context(child, block, sender, tx_hash)
    try:
        authorize(app, context, stx)
    except InvalidTransaction as exc:
        return _rejected(tx_hash, exc.code, exc.message)
    except CodecError as exc:
        return _rejected(tx_hash, "bad_args", exc.message)
    state.put(nonce_at, codec.encode(expected + 1))
    try:
        handler(context, tx.args)
    except InvalidTransaction as exc:
        return _rejected(tx_hash, exc.code, exc.message)
    except CodecError as exc:
        return _rejected(tx_hash, "bad_args", exc.message)
    child.merge_into_parent()
    return Receipt(tx_hash, True, OK, "", tuple(context.events))


def authorize(app: Application, context: Context, stx: SignedTransaction) -> None:
    """Raise InvalidTransaction unless `stx`'s signers may act for its sender."""
    (app.authorize or sender_key_only)(context, stx.tx, stx.signers)


def verify_signatures(
    transactions: Sequence[SignedTransaction],
    executor: Executor | None = None,
    verified: Container[bytes] = (),
) -> list[bool]:
    """Signature validity per transaction (all of its signatures verify), skipping
    those whose `verification_key` is in `verified` (already checked by this node).
    Every signature of the block is checked in one batch."""
    results = [True] * len(transactions)
    owners: list[int] = []
    checks: list[SignatureCheck] = []
    for index, stx in enumerate(transactions):
        if stx.verification_key in verified:
            continue
        for check in stx.signature_checks():
            owners.append(index)
            checks.append(check)
    for index, ok in zip(owners, verify_many(checks, executor), strict=True):
        if not ok:
            results[index] = False
    return results


def apply_block(
    app: Application,
    base: KVReader,
    block: BlockInfo,
    transactions: Sequence[SignedTransaction],
    prev_state_root: bytes,
    executor: Executor | None = None,
    verified: Container[bytes] = (),
    transactions_root: bytes | None = None,
) -> BlockResult:
    """Execute a block over `base` without writing to it; return writes, receipts, roots.

    `verified` holds the `SignedTransaction.verification_key` of signatures this
    node already checked (e.g. on mempool admission); `executor` spreads the other
    checks over threads. `transactions_root` is `tx_root(transactions)` when the
    caller has computed it already.
    """
    # All signatures are checked before execution starts. Overlapping the two looks
    # attractive but loses on CPython: the executing thread holds the GIL, and the
    # verifying threads need it back between signatures, so they stall.
    signatures = verify_signatures(transactions, executor, verified)
    state = StateView(base)
    receipts = [
        apply_tx(app, state, stx, block, ok)
        for stx, ok in zip(transactions, signatures, strict=True)
    ]
    block_events: list[Event] = []
    for hook in app.end_block_hooks:
        child = state.child()
        context = Context(child, block, block.proposer, BLOCK_EVENTS_HASH)
        hook(context)  # hooks may not reject: an exception here is a node fault
        child.merge_into_parent()
        block_events.extend(context.events)
    write_set = state.write_set()
    state_root, tree_writes = update_tree(base, block.height, prev_state_root, write_set)
    leaves = receipt_leaves(receipts, block_events)
    return BlockResult(
        write_set=write_set,
        receipts=receipts,
        block_events=block_events,
        tx_root=tx_root(transactions) if transactions_root is None else transactions_root,
        receipts_root=merkle_root(leaves),
        state_root=state_root,
        tree_writes=tree_writes,
        receipt_leaves=leaves,
    )


def apply_genesis(app: Application, base: KVReader, genesis: Genesis) -> BlockResult:
    """State writes for genesis: the validator set, then each contract's genesis hook."""
    state = StateView(base)
    schedule_validators(state, 1, genesis.validator_keys)
    info = BlockInfo(genesis.chain_id, 0, genesis.genesis_time_ms, bytes(32))
    events: list[Event] = []
    for hook in app.genesis_hooks:
        context = Context(state, info, bytes(32), BLOCK_EVENTS_HASH)
        try:
            hook(context, genesis)
        except (InvalidTransaction, CodecError) as exc:
            raise InvalidBlock("bad_genesis", f"genesis app state rejected: {exc}") from exc
        events.extend(context.events)
    write_set = state.write_set()
    state_root, tree_writes = update_tree(base, 0, ZERO_HASH, write_set)
    return BlockResult(
        write_set=write_set,
        receipts=[],
        block_events=events,
        state_root=state_root,
        tree_writes=tree_writes,
    )


def build_block(
    app: Application,
    base: KVReader,
    parent: BlockHeader | None,
    parent_hash: bytes,
    prev_state_root: bytes,
    chain_id: str,
    timestamp_ms: int,
    proposer: bytes,
    transactions: Sequence[SignedTransaction],
    last_certificate: CommitCertificate | None,
    executor: Executor | None = None,
    verified: Container[bytes] = (),
) -> tuple[Block, BlockResult]:
    """What a primary does to propose: execute, then fill in the header's roots."""
    height = 1 if parent is None else parent.height + 1
    info = BlockInfo(chain_id, height, timestamp_ms, proposer)
    result = apply_block(app, base, info, transactions, prev_state_root, executor, verified)
    header = BlockHeader(
        chain_id=chain_id,
        height=height,
        prev_hash=parent_hash,
        timestamp_ms=timestamp_ms,
        proposer=proposer,
        tx_count=len(transactions),
        tx_root=result.tx_root,
        receipts_count=result.receipts_count,
        receipts_root=result.receipts_root,
        state_root=result.state_root,
        validator_set_hash=validator_set_hash(validators_at(base, height)),
        last_certificate_hash=certificate_hash(last_certificate),
    )
    return Block(header, tuple(transactions), last_certificate), result


def check_block(
    app: Application,
    base: KVReader,
    block: Block,
    parent: BlockHeader | None,
    parent_hash: bytes,
    prev_state_root: bytes,
    chain_id: str,
    executor: Executor | None = None,
    verified: Container[bytes] = (),
    root_checked: bool = False,
) -> BlockResult:
    """Validate a proposed block against its parent and re-execute it.

    Raises InvalidBlock naming the first rule broken; returns the execution result
    (to persist on commit) when the header's roots match. The wall-clock drift
    check on the timestamp is the node's job: this function has no clock.

    `root_checked` says the caller already found the header's `tx_root` to be the
    root of exactly these transactions (a replica matches an arriving proposal's
    body against its header before anything else): it is not computed again.
    """
    header = block.header
    expected_height = 1 if parent is None else parent.height + 1
    if header.chain_id != chain_id:
        raise InvalidBlock("wrong_chain", f"block is for chain {header.chain_id!r}")
    if header.height != expected_height:
        raise InvalidBlock("bad_height", f"expected height {expected_height}, got {header.height}")
    if header.prev_hash != parent_hash:
        raise InvalidBlock("bad_prev_hash", "block does not extend the committed chain")
    if parent is not None and header.timestamp_ms <= parent.timestamp_ms:
        raise InvalidBlock("bad_timestamp", "block time must be after its parent's")
    validators = validators_at(base, header.height)
    if header.proposer not in validators:
        raise InvalidBlock("bad_proposer", "proposer is not a validator at this height")
    if header.validator_set_hash != validator_set_hash(validators):
        raise InvalidBlock("bad_validator_set", "validator set hash does not match state")
    if header.last_certificate_hash != certificate_hash(block.last_certificate):
        raise InvalidBlock("bad_certificate_hash", "header does not commit to the certificate")
    if parent is not None:
        certificate = block.last_certificate
        if certificate is None:
            raise InvalidBlock("missing_certificate", "block must carry its parent's certificate")
        if certificate.height != parent.height or certificate.block_hash != parent_hash:
            raise InvalidBlock("bad_certificate", "certificate is not for the parent block")
        if not certificate.verify(chain_id, validators_at(base, parent.height)):
            raise InvalidBlock("bad_certificate", "parent certificate lacks a valid quorum")
    elif block.last_certificate is not None:
        raise InvalidBlock("bad_certificate", "the first block carries no certificate")
    if len({stx.hash for stx in block.transactions}) != len(block.transactions):
        raise InvalidBlock("duplicate_tx", "a transaction appears twice in the block")
    if header.tx_count != len(block.transactions):
        raise InvalidBlock("bad_tx_count", "transaction count does not match the block")
    transactions_root = header.tx_root if root_checked else tx_root(block.transactions)
    if transactions_root != header.tx_root:
        raise InvalidBlock("bad_tx_root", "transaction root does not match")
    info = BlockInfo(chain_id, header.height, header.timestamp_ms, header.proposer)
    result = apply_block(
        app,
        base,
        info,
        block.transactions,
        prev_state_root,
        executor,
        verified,
        transactions_root,
    )
    if result.receipts_count != header.receipts_count:
        raise InvalidBlock("bad_receipts_count", "receipts count does not match execution")
    if result.receipts_root != header.receipts_root:
        raise InvalidBlock("bad_receipts_root", "receipts root does not match execution")
    if result.state_root != header.state_root:
        raise InvalidBlock("bad_state_root", "state root does not match execution")
    return result
