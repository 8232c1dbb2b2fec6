"""What the HTTP RPC needs from a running node: the seam between RPC and node core.

The RPC layer (node/rpc/) depends only on this Protocol; the validator process
(node core) implements it. Reads of committed data go straight to the store
through ledger.chainstore and the contracts' query helpers; only admission,
pending status and live notifications need the node core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ledger.chainstore import Head
from ledger.execution import Application
from ledger.kv import KVReader
from ledger.tx import SignedTransaction


@dataclass(slots=True)
class Admission:
    """The answer to one submitted transaction.

    Not frozen: a frozen dataclass sets each field through `object.__setattr__`,
    1.5 µs an answer against 0.4, and every transaction a validator admits,
    gossiped or submitted, gets one."""

    tx_hash: bytes | None  # None when the bytes did not even decode
    accepted: bool
    # "accepted", "duplicate" (already pending/committed: idempotent), or a rejection code
    code: str
    message: str = ""


@dataclass(frozen=True)
class PeerStatus:
    """One other validator as this node sees it (`GET /v1/peers`)."""

    node_id: bytes
    name: str  # its name in this node's network config; "" when it dialled in unlisted
    outbound: bool  # this node's dial to it is up
    inbound: bool  # its dial to this node is up
    frames_dropped: int  # frames dropped on its full send queues since the links came up
    height: int | None  # the committed height it last announced, if any
    validator: bool  # in the current validator set


@dataclass(frozen=True)
class NodeStatus:
    chain_id: str
    node_id: bytes
    height: int
    last_block_hash: bytes
    state_root: bytes
    view: int
    primary: bytes | None
    validators: tuple[bytes, ...]
    peers_connected: int
    catching_up: bool
    mempool_size: int
    extra: dict[str, int] = field(default_factory=dict)
    peers: tuple[PeerStatus, ...] = ()


class NodeService(Protocol):
    chain_id: str
    node_id: bytes
    app: Application

    @property
    def store(self) -> KVReader:
        """The committed store (LevelDB); read-only for the RPC."""
        ...

    def head(self) -> Head: ...

    def status(self) -> NodeStatus: ...

    async def submit(
        self, raw_transactions: Sequence[bytes | SignedTransaction]
    ) -> list[Admission]:
        """Decode (unless decoded already), verify and admit transactions to the
        mempool (gossiped to peers)."""
        ...

    def is_pending(self, tx_hash: bytes) -> bool:
        """True while the transaction waits in this node's mempool."""
        ...

    async def wait_for_height(self, height: int, timeout: float) -> int:
        """Return once the committed height is >= `height` or the timeout passes;
        returns the committed height at that moment."""
        ...

    def mempool_full(self) -> bool:
        """True when new transactions would be refused (RPC answers 429)."""
        ...

    def note_refused_request(self) -> None:
        """A client's submission was refused for room before it reached `submit` (the
        mempool counts refused requests to tell sustained overload from a peak)."""
        ...

    def retry_after_ms(self) -> int:
        """When a client refused for room should try again, in ms (a 429's
        `Retry-After-Ms`; its `Retry-After` is this in whole seconds, rounded up)."""
        ...
