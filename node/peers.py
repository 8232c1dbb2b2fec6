"""Authenticated websocket links between validators.

Every validator dials every configured peer (`GET <peer url>/p2p`, a websocket)
and accepts the peers' dials, so each pair shares up to two links; a frame may
travel over either. Frames are canonical msgpack arrays (`ledger.codec`) whose
first item names the kind.

Handshake (both directions prove key ownership over a fresh random challenge):

    server -> ["challenge", server_nonce]
    client -> ["hello", client_key, client_nonce, sign(client_key, ["client", server_nonce])]
    server -> ["welcome", server_key, sign(server_key, ["server", client_nonce])]
              or ["refused", reason], then close

Signatures use the PEER_CHALLENGE domain bound to the chain id, so a handshake
signature is useless for anything else.

Until the dialer is authenticated the listener grants little: websocket messages
of at most `HANDSHAKE_FRAME_BYTES`, `[limits] handshake_timeout_ms` for the whole
handshake, and `[limits] p2p_unauthenticated` such connections at once (more are
answered 503 before the upgrade). Addresses that are not a configured peer's
(resolved at start, or seen on an authenticated link) together never take the
last `reserved_slots()`, so dialers that stall their handshake from elsewhere
cannot keep the validators from reaching a node that restarts; a peer's address
holds at most `UNAUTHENTICATED_PER_ADDRESS` per configured peer at it. Only an
authenticated link may carry frames up to `MAX_FRAME_BYTES` (blocks, sync
replies). The server accepts only keys of the current validator set; the client
accepts only the key it expected at that URL.
Outgoing frames go through a per-link queue bounded both in frames
(`SEND_QUEUE_FRAMES`) and in bytes (`SEND_QUEUE_BYTES`, counting the frame being
written too), so a slow peer, or one that stops reading, can never block the node
nor make one link hold more than that; a frame that does not fit is dropped
(consensus retransmits and block sync repair what was lost). A frame is always
taken when the link holds nothing, so no frame the node may send (a block sync
reply is at most `node.sync.MAX_REPLY_BYTES`) is refused on an idle link.

Incoming frames on an authenticated link are screened before they are decoded,
since decoding builds a Python object per msgpack item (a 64 MiB frame of empty
arrays costs seconds and gigabytes): each link spends a token per frame from a
bucket of `FRAMES_PER_SECOND` (burst `FRAME_BURST`), and frames over it are
dropped unread; `frame_shape_error` then checks the frame against the shape of
its kind (`FRAME_SHAPES`), walking only msgpack headers. Bad frames (wrong shape
or not canonical) are counted and logged at counts 1, 2, 4, 8...;
`BAD_FRAMES_TO_CLOSE` of them within `BAD_FRAME_WINDOW` seconds close the link
(the peer may redial).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import PEER_CHALLENGE, tagged_hash
from ledger.keys import PrivateKey, address_to_text, verify
from node.home import PeerConfig, ServiceLimits
from node.log import log, log_doubling
from node.tasks import cancel_all
from node.token_bucket import TokenBucket

P2P_PATH = "/p2p"
MAX_FRAME_BYTES = 64 * 1024 * 1024
HANDSHAKE_FRAME_BYTES = 4 * 1024  # a hello is ~200 bytes
HANDSHAKE_TIMEOUT = 5.0
SEND_QUEUE_FRAMES = 20_000
# Frames are up to MAX_FRAME_BYTES, so a bound by count alone let a peer that stops
# reading pin 20,000 large frames (block sync replies) in memory: bound the bytes too.
# One full sync reply (24 MiB) plus room for consensus and gossip behind it.
# inbound links one validator key may hold at once (see PeerNetwork._run_link)
MAX_INBOUND_LINKS = 2
SEND_QUEUE_BYTES = 32 * 1024 * 1024
BACKOFF_START = 0.1
BACKOFF_CAP = 3.0
NONCE_SIZE = 32
STOP_TIMEOUT = 2.0
# Unauthenticated handshakes a configured peer's address may hold at once, per peer
# there: a validator that stalls its handshakes cannot take the others' reserve.
UNAUTHENTICATED_PER_ADDRESS = 4

FrameHandler = Callable[["Link", list[Any]], None]

# Frames a link may bring per second, and at once. An honest validator sends gossip
# every 20 ms, a few consensus messages per height and one sync reply per request:
# a few hundred a second at most, while a flood of tiny frames reaches 100k+.
FRAMES_PER_SECOND = 2_000.0
FRAME_BURST = 4_000
# Bad frames that close a link when they arrive within the window (seconds).
BAD_FRAMES_TO_CLOSE = 16
BAD_FRAME_WINDOW = 60.0
CLOSE_TIMEOUT = 0.5
# Longest lists a frame may hold: gossip sends at most node.node.GOSSIP_BATCH
# transactions, a proposal fetch at most node.proposals.MAX_REQUEST_HASHES hashes
# (and gets at most as many back), a sync reply at most node.sync.BATCH_BLOCKS pairs.
# Generous, so a peer with other settings is not refused; small enough that a
# refused frame is found without walking millions of items.
MAX_FRAME_LIST = 20_000
MAX_FRAME_PAIRS = 1_024

# msgpack headers, as the canonical encoder writes them
_ARRAY = frozenset(range(0x90, 0xA0)) | {0xDC, 0xDD}
_UINT_SIZES = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}  # a non-negative int past 127
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

# The items after the kind of each frame a peer may send once authenticated:
# "bin" bytes, "uint" a non-negative int, "bins" a list of bytes,
# "pairs" a list of [bytes, bytes] (blocks with their certificates).
FRAME_SHAPES: dict[bytes, tuple[str, ...]] = {
    b"txs": ("bins",),  # gossip: signed transactions
    b"height": ("uint",),
    b"get_blocks": ("uint", "uint"),  # start, count
    b"blocks": ("uint", "pairs"),  # start, [[block, certificate], ...]
    b"c": ("bin",),  # one consensus message
    b"get_txs": ("bin", "bins"),  # block hash, transaction hashes
    b"txs_for": ("bin", "bins"),  # block hash, transactions
}


class HandshakeError(Exception):
    """The other side failed to authenticate, or refused us."""


def challenge_digest(role: str, nonce: bytes, key: bytes) -> bytes:
    return tagged_hash(PEER_CHALLENGE, codec.encode([role, nonce, key]))


def sign_challenge(key: PrivateKey, chain_id: str, role: str, nonce: bytes) -> bytes:
    return key.sign(PEER_CHALLENGE, chain_id, challenge_digest(role, nonce, key.public_key))


def check_challenge(
    chain_id: str, role: str, nonce: bytes, public_key: bytes, signature: bytes
) -> bool:
    digest = challenge_digest(role, nonce, public_key)
    return verify(public_key, PEER_CHALLENGE, chain_id, digest, signature)


def encode_frame(frame: list[Any]) -> bytes:
    return codec.encode(frame)


def decode_frame(data: bytes) -> list[Any]:
    value = codec.decode(data, MAX_FRAME_BYTES)
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise CodecError("bad_frame", "a frame is an array starting with its kind")
    return value


def _array_at(data: bytes, pos: int) -> tuple[int, int]:
    """(item count, position of the first item) of the array at `pos`; (-1, pos) if
    another type is there. IndexError if the frame ends first."""
    head = data[pos]
    if 0x90 <= head <= 0x9F:
        return head & 0x0F, pos + 1
    if head == 0xDC:
        return _U16.unpack_from(data, pos + 1)[0], pos + 3
    if head == 0xDD:
        return _U32.unpack_from(data, pos + 1)[0], pos + 5
    return -1, pos


def _bins_end(data: bytes, pos: int, count: int) -> int:
    """Where `count` bins starting at `pos` end; -1 if an item is not a bin.

    Each bin's bytes are stepped over by their length, never copied or built."""
    for _ in range(count):
        head = data[pos]
        if head == 0xC4:
            pos += 2 + data[pos + 1]
        elif head == 0xC5:
            pos += 3 + _U16.unpack_from(data, pos + 1)[0]
        elif head == 0xC6:
            pos += 5 + _U32.unpack_from(data, pos + 1)[0]
        else:
            return -1
    return pos


def _item_end(data: bytes, pos: int, item: str) -> int:
    """Where the item of shape `item` at `pos` ends; -1 if it has another shape,
    -2 if it is a list over its cap."""
    if item == "bin":
        return _bins_end(data, pos, 1)
    if item == "uint":
        head = data[pos]
        if head <= 0x7F:
            return pos + 1
        return pos + 1 + _UINT_SIZES[head] if head in _UINT_SIZES else -1
    count, pos = _array_at(data, pos)
    if count < 0:
        return -1
    if count > (MAX_FRAME_LIST if item == "bins" else MAX_FRAME_PAIRS):
        return -2
    if item == "bins":
        return _bins_end(data, pos, count)
    for _ in range(count):  # pairs: [block, certificate]
        if data[pos] != 0x92:
            return -1
        pos = _bins_end(data, pos + 1, 2)
        if pos < 0:
            return -1
    return pos


def frame_shape_error(data: bytes) -> str | None:
    """Why `data` is not the shape of a frame a peer may send, or None if it is.

    Walks the msgpack headers only: the kind must be one of `FRAME_SHAPES`, with
    exactly its items, each of the right type, lists within their caps, and no
    byte after the frame. Nothing is built or copied (a bin is stepped over by its
    length), so a refused frame costs about the headers read before the fault,
    however long it is, and an accepted one less than decoding it. Canonical
    encoding and the items' meaning are still checked later (`decode_frame`, the
    handlers).
    """
    if not data or data[0] not in _ARRAY:
        return "not_an_array"
    if not 0x90 <= data[0] <= 0x9F:
        return "bad_length"  # every frame has at most 4 items: a one-byte header
    if len(data) < 2 or not 0xA0 <= data[1] <= 0xBF:
        return "bad_kind"  # every kind is a short str
    pos = 2 + (data[1] & 0x1F)
    shape = FRAME_SHAPES.get(data[2:pos])
    if shape is None:
        return "unknown_kind"
    if data[0] & 0x0F != 1 + len(shape):
        return "bad_length"
    try:
        for item in shape:
            pos = _item_end(data, pos, item)
            if pos == -2:
                return "list_too_long"
            if pos < 0:
                return f"bad_{item}"
    except (IndexError, struct.error):  # a header runs past the end
        return "truncated"
    if pos > len(data):
        return "truncated"  # the last bin's bytes run past the end
    if pos < len(data):
        return "trailing_bytes"
    return None


async def _receive_frame(ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> list[Any]:
    message = await asyncio.wait_for(ws.receive(), HANDSHAKE_TIMEOUT)
    if message.type != aiohttp.WSMsgType.BINARY:
        raise HandshakeError(f"expected a binary frame, got {message.type.name}")
    try:
        return decode_frame(message.data)
    except CodecError as exc:
        raise HandshakeError(f"malformed handshake frame: {exc.message}") from exc


async def client_handshake(
    ws: aiohttp.ClientWebSocketResponse,
    key: PrivateKey,
    chain_id: str,
    expected: bytes | None,
) -> bytes:
    """Run the dialer's side; return the authenticated server key."""
    frame = await _receive_frame(ws)
    if frame[0] != "challenge" or len(frame) != 2 or not isinstance(frame[1], bytes):
        raise HandshakeError("peer did not send a challenge")
    client_nonce = os.urandom(NONCE_SIZE)
    signature = sign_challenge(key, chain_id, "client", frame[1])
    await ws.send_bytes(encode_frame(["hello", key.public_key, client_nonce, signature]))
    reply = await _receive_frame(ws)
    if reply[0] == "refused":
        raise HandshakeError(f"refused: {reply[1] if len(reply) > 1 else ''}")
    if reply[0] != "welcome" or len(reply) != 3:
        raise HandshakeError("unexpected handshake reply")
    server_key, server_signature = reply[1], reply[2]
    if not isinstance(server_key, bytes) or not isinstance(server_signature, bytes):
        raise HandshakeError("malformed welcome")
    if expected is not None and server_key != expected:
        raise HandshakeError("peer answered with a different key than configured")
    if not check_challenge(chain_id, "server", client_nonce, server_key, server_signature):
        raise HandshakeError("peer's challenge signature is invalid")
    return server_key


@dataclass(eq=False)
class Link:
    """One authenticated websocket to a peer, with its outgoing queue."""

    peer: bytes
    outbound: bool
    ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse
    queue: asyncio.Queue[bytes] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SEND_QUEUE_FRAMES)
    )
    dropped: int = 0
    # bytes of the frames in `queue`: a sender of bulk (the pool resent on connect)
    # waits for this to fall instead of filling the queue with a slow peer's backlog
    queued_bytes: int = 0
    # bytes of the frame the writer is handing to the socket now: it stays in memory
    # until the peer reads it, so it counts against SEND_QUEUE_BYTES as well
    writing: int = 0
    # running totals, so a sender can tell when a frame it queued has been written
    # out (block sync serves a peer's next request only after its last reply)
    enqueued_total: int = 0
    sent_total: int = 0
    closed: bool = False  # set when the link is gone: nothing queued will be sent
    # incoming frames refused: over the link's budget, or bad (see `reader`)
    over_rate: int = 0
    bad_frames: int = 0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    budget: TokenBucket = field(init=False, repr=False)
    # when the latest bad frames arrived, to close the link on too many in a window
    recent_bad: deque[float] = field(
        default_factory=lambda: deque(maxlen=BAD_FRAMES_TO_CLOSE), repr=False
    )

    def __post_init__(self) -> None:
        self.budget = TokenBucket(FRAMES_PER_SECOND, FRAME_BURST, self.clock())

    def held_bytes(self) -> int:
        """Bytes this link holds for its peer: queued plus the frame being written."""
        return self.queued_bytes + self.writing

    def send(self, frame: list[Any] | bytes) -> bool:
        data = frame if isinstance(frame, bytes) else encode_frame(frame)
        held = self.held_bytes()
        # over the byte bound is handled like a full queue: the frame is dropped
        if held and held + len(data) > SEND_QUEUE_BYTES:
            self.dropped += 1
            return False
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        self.queued_bytes += len(data)
        self.enqueued_total += len(data)
        return True

    async def next_frame(self) -> bytes:
        """The oldest queued frame, taken off the queue (and its bytes off the count)."""
        data = await self.queue.get()
        self.queued_bytes -= len(data)
        return data

    async def writer(self) -> None:
        while True:
            data = await self.next_frame()
            self.writing = len(data)
            try:
                # returns once the socket's buffer has drained below its low mark, so a
                # peer that stops reading keeps this frame counted in `writing`
                await self.ws.send_bytes(data)
            finally:
                self.writing = 0
            self.sent_total += len(data)

    async def reader(self, handler: FrameHandler) -> None:
        """Hand the peer's frames to `handler`, screened before they are decoded.

        Returns when the peer closes the link, or when this side closes it for too
        many bad frames."""
        async for message in self.ws:
            if message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                return
            if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                continue
            now = self.clock()
            if not self.budget.take(now):
                self.over_rate += 1
                log_doubling(
                    self.over_rate,
                    "peer_frames_over_rate",
                    "info",
                    peer=address_to_text(self.peer)[:16],
                    dropped=self.over_rate,
                )
                continue
            frame: list[Any] | None = None
            error: str | None
            if message.type != aiohttp.WSMsgType.BINARY:
                error = "not_binary"  # peers send msgpack only
            else:
                error = frame_shape_error(message.data)
                if error is None:
                    try:
                        frame = decode_frame(message.data)
                    except CodecError as exc:
                        error = exc.code
            if frame is None:
                if self._bad_frame(error or "bad_frame", now):
                    await self._close_for_bad_frames()
                    return
                continue
            handler(self, frame)

    def _bad_frame(self, error: str, now: float) -> bool:
        """Count a bad frame (logging a few of them); True if the link should close."""
        self.bad_frames += 1
        log_doubling(
            self.bad_frames,
            "peer_bad_frame",
            "info",
            peer=address_to_text(self.peer)[:16],
            error=error,
            count=self.bad_frames,
        )
        self.recent_bad.append(now)
        return (
            len(self.recent_bad) == BAD_FRAMES_TO_CLOSE
            and now - self.recent_bad[0] <= BAD_FRAME_WINDOW
        )

    async def _close_for_bad_frames(self) -> None:
        log(
            "peer_link_closed_bad_frames",
            level="warning",
            peer=address_to_text(self.peer)[:16],
            bad_frames=self.bad_frames,
        )
        # a close frame, but no waiting long on a peer that may not answer it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), CLOSE_TIMEOUT)


class PeerNetwork:
    """Dials configured peers, accepts validator dials, and moves frames."""

    def __init__(
        self,
        chain_id: str,
        key: PrivateKey,
        peers: Collection[PeerConfig],
        validators: Callable[[], Collection[bytes]],
        handler: FrameHandler,
        on_connect: Callable[[Link], None] | None = None,
        limits: ServiceLimits | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.limits = limits or ServiceLimits()
        self.unauthenticated = 0  # inbound connections still in the handshake
        self.key = key
        self.peers = [peer for peer in peers if peer.key != key.public_key]
        self.validators = validators
        self.handler = handler
        self.on_connect = on_connect
        self._links: dict[bytes, list[Link]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self.refused = 0
        self._dropped_on_closed = 0  # frames dropped on links that have since closed
        self._unauthenticated_from: dict[str, int] = {}  # source address -> handshakes
        # address -> configured peers there: their handshakes are let in past the
        # slots strangers may take (literal IPs now, host names resolved at start)
        self._peer_addresses: dict[str, int] = {}
        for peer in self.peers:
            host = _host_of(peer.url)
            if host is not None and _is_ip(host):
                self._add_peer_address(host)

    # -- state ----------------------------------------------------------------------------

    def connected(self) -> list[bytes]:
        return sorted(peer for peer, links in self._links.items() if links)

    def link_state(self, peer: bytes) -> tuple[bool, bool, int]:
        """(our dial is up, its dial is up, frames dropped on its send queues)."""
        links = self._links.get(peer, [])
        return (
            any(link.outbound for link in links),
            any(not link.outbound for link in links),
            sum(link.dropped for link in links),
        )

    def frames_dropped(self) -> int:
        """Frames dropped on full send queues since this node started, all links."""
        current = sum(link.dropped for links in self._links.values() for link in links)
        return self._dropped_on_closed + current

    def known(self) -> list[bytes]:
        """Every peer configured or linked, in key order."""
        keys = {peer.key for peer in self.peers}
        keys.update(peer for peer, links in self._links.items() if links)
        return sorted(keys)

    def link(self, peer: bytes) -> Link | None:
        """The link frames to `peer` go over (None when it is not connected)."""
        links = self._links.get(peer)
        if not links:
            return None
        # Prefer our own dial: its lifetime is under our control.
        return next((item for item in links if item.outbound), links[0])

    def send(self, peer: bytes, frame: list[Any] | bytes) -> bool:
        link = self.link(peer)
        return False if link is None else link.send(frame)

    def reserved_slots(self) -> int:
        """Unauthenticated slots only configured peers' addresses may take: two per
        peer, at most half of them (so a node with no peers reserves none)."""
        return min(self.limits.p2p_unauthenticated // 2, 2 * len(self.peers))

    def _add_peer_address(self, address: str, peers: int = 1) -> None:
        self._peer_addresses[address] = self._peer_addresses.get(address, 0) + peers

    def _admit(self, remote: str) -> bool:
        """Whether a new unauthenticated connection from `remote` gets a slot."""
        limit = self.limits.p2p_unauthenticated
        if self.unauthenticated >= limit:
            return False
        peers_there = self._peer_addresses.get(remote, 0)
        if peers_there:
            # a configured peer's address may use the reserve, up to its own share
            held = self._unauthenticated_from.get(remote, 0)
            return held < UNAUTHENTICATED_PER_ADDRESS * peers_there
        # Strangers get no per-address cap: only validator keys are accepted, so a
        # stranger crowding out other strangers costs nothing; they must not take the
        # validators' reserve, wherever they dial from.
        strangers = sum(
            count
            for address, count in self._unauthenticated_from.items()
            if address not in self._peer_addresses
        )
        return strangers < limit - self.reserved_slots()

    def broadcast(self, frame: list[Any] | bytes) -> None:
        data = frame if isinstance(frame, bytes) else encode_frame(frame)
        for peer in list(self._links):
            self.send(peer, data)

    # -- lifecycle ------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(P2P_PATH, self._accept)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        await self._resolve_peer_hosts()
        for peer in self.peers:
            self._spawn(self._dial_forever(peer))

    async def stop(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for links in list(self._links.values()):
            for link in list(links):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(link.ws.close(), 0.5)
        await cancel_all(list(self._tasks), STOP_TIMEOUT)  # again, if one carried on
        self._links.clear()
        if self._session is not None:
            await self._session.close()

    async def _resolve_peer_hosts(self) -> None:
        """Add the addresses of peers configured by host name (best effort: a name that
        does not resolve now is learnt when that peer authenticates)."""
        loop = asyncio.get_running_loop()
        counts: dict[str, int] = {}
        for peer in self.peers:
            host = _host_of(peer.url)
            if host is None or _is_ip(host):
                continue
            try:
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), 2.0
                )
            except (OSError, TimeoutError):
                continue
            for address in {str(info[4][0]) for info in infos}:
                counts[address] = counts.get(address, 0) + 1
        for address, peers in counts.items():
            self._add_peer_address(address, peers)

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the two sides of a link ----------------------------------------------------------------

    async def _dial_forever(self, peer: PeerConfig) -> None:
        backoff = BACKOFF_START
        url = peer.url.rstrip("/") + P2P_PATH
        while not self._closing:
            try:
                if self._session is None:
                    return
                async with self._session.ws_connect(
                    url, max_msg_size=MAX_FRAME_BYTES, heartbeat=10.0
                ) as ws:
                    server_key = await client_handshake(ws, self.key, self.chain_id, peer.key)
                    backoff = BACKOFF_START
                    await self._run_link(Link(server_key, True, ws))
            except asyncio.CancelledError:
                raise
            except HandshakeError as exc:
                log("peer_handshake_failed", peer=peer.name, url=peer.url, reason=str(exc))
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass  # not up yet or went away: retry quietly with backoff
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_CAP, backoff * 2)

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        remote = request.remote or "?"
        if not self._admit(remote):
            self.refused += 1
            return web.Response(status=503, text="too many unauthenticated connections\n")
        self.unauthenticated += 1
        self._unauthenticated_from[remote] = self._unauthenticated_from.get(remote, 0) + 1
        try:
            ws = web.WebSocketResponse(max_msg_size=HANDSHAKE_FRAME_BYTES, heartbeat=10.0)
            try:
                async with asyncio.timeout(self.limits.handshake_timeout_ms / 1000):
                    client_key = await self._server_handshake(request, ws, remote)
            except TimeoutError:
                self.refused += 1
                log("peer_refused", remote=remote, reason="handshake timeout")
                client_key = None
            if client_key is None:
                # a close frame, but no waiting on the other side's answer
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 0.5)
                if request.transport is not None:
                    request.transport.close()
                return ws
        finally:
            self.unauthenticated -= 1
            left = self._unauthenticated_from.pop(remote, 1) - 1
            if left:
                self._unauthenticated_from[remote] = left
        if remote not in self._peer_addresses and remote != "?":
            # a validator dialed from here: its next handshakes may use the reserve
            self._add_peer_address(remote)
        await self._run_link(Link(client_key, False, ws))
        return ws

    async def _server_handshake(
        self, request: web.Request, ws: web.WebSocketResponse, remote: str
    ) -> bytes | None:
        """The listener's side; the authenticated key, or None (refused and logged)."""
        try:
            await ws.prepare(request)
        except (ConnectionError, aiohttp.ClientError):
            return None  # the dialer went away before the upgrade finished
        try:
            server_nonce = os.urandom(NONCE_SIZE)
            await ws.send_bytes(encode_frame(["challenge", server_nonce]))
            frame = await _receive_frame(ws)
            if frame[0] != "hello" or len(frame) != 4:
                raise HandshakeError("expected hello")
            client_key, client_nonce, signature = frame[1], frame[2], frame[3]
            if not all(isinstance(item, bytes) for item in (client_key, client_nonce, signature)):
                raise HandshakeError("malformed hello")
            if not check_challenge(self.chain_id, "client", server_nonce, client_key, signature):
                raise HandshakeError("bad challenge signature")
            if client_key not in self.validators():
                self.refused += 1
                log("peer_refused", remote=remote, key=address_to_text(client_key))
                await ws.send_bytes(encode_frame(["refused", "not_a_validator"]))
                return None
            # before the welcome: the dialer sends nothing until it has it
            _allow_large_frames(request, ws, MAX_FRAME_BYTES)
            reply = sign_challenge(self.key, self.chain_id, "server", client_nonce)
            await ws.send_bytes(encode_frame(["welcome", self.key.public_key, reply]))
        except (HandshakeError, ConnectionError) as exc:
            self.refused += 1
            log("peer_refused", remote=remote, reason=str(exc) or type(exc).__name__)
            return None
        return bytes(client_key)

    async def _run_link(self, link: Link) -> None:
        links = self._links.setdefault(link.peer, [])
        if not link.outbound:
            # A validator dials each peer once; a second inbound link is its redial
            # after a restart (the first may be dead, not yet noticed). More are not a
            # validator's, and each may bring a frame of up to MAX_FRAME_BYTES at once:
            # the oldest go, so a redial always gets in and memory stays bounded.
            inbound = [item for item in links if not item.outbound]
            for old in inbound[: max(0, len(inbound) - MAX_INBOUND_LINKS + 1)]:
                links.remove(old)
                self._dropped_on_closed += old.dropped
                old.closed = True
                self._spawn(old.ws.close())
                log("peer_link_replaced", peer=address_to_text(link.peer)[:16])
        links.append(link)
        log(
            "peer_connected",
            peer=address_to_text(link.peer)[:16],
            direction="out" if link.outbound else "in",
        )
        if self.on_connect is not None:
            self.on_connect(link)
        writer = asyncio.create_task(link.writer())
        try:
            await link.reader(self.handler)
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            link.closed = True
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            links = self._links.get(link.peer, [])
            if link in links:
                links.remove(link)
                self._dropped_on_closed += link.dropped
            if not links:
                self._links.pop(link.peer, None)
            log("peer_disconnected", peer=address_to_text(link.peer)[:16])


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _allow_large_frames(request: web.Request, ws: web.WebSocketResponse, limit: int) -> None:
    """Raise an accepted websocket's message limit once its peer is authenticated.

    aiohttp fixes the limit when the upgrade is prepared and offers no public way to
    change it, so the connection's frame parser is replaced by one with the larger
    limit (nothing is buffered in it: the dialer is waiting for our welcome).
    Every multi-validator test relies on it: each node reads its peers' blocks and
    gossip (larger than the handshake limit) on the links it accepted.
    """
    from aiohttp._websocket.reader import WebSocketReader

    protocol: Any = request.protocol
    parser = WebSocketReader(ws._reader, limit, compress=False, decode_text=True)  # type: ignore[arg-type]
    protocol._payload_parser = None
    protocol.set_parser(parser, data_received_cb=ws._on_data_received)
    ws._parser = parser
    ws._max_msg_size = limit
