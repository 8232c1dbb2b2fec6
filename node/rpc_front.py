"""The RPC front: a small process that owns a validator's public RPC port.

    python -m node.rpc_front --host 127.0.0.1 --port 26600 --upstream RUN/rpc.sock
        --state RUN/admission [--request-timeout 10] [--answer-timeout 30]

The node starts it (node/front_process.py) and serves its RPC on a Unix socket
that only the front connects to. Under overload the node's event loop shares the
interpreter lock with the block worker and its process shares the machine's
cores with the other validators' work, so an answer, even a refusal that reads
nothing, waits its turn behind blocks being checked and committed: a probe timed
the node's 429s at a p99 above 100 ms with a median of 7. The front has nothing
else to do. While the node publishes that its mempool refuses clients
(node/front_state.py), the front answers `POST /v1/txs` and `POST /v1/txs/batch`
itself with the node's own 429 `mempool_full` and `Retry-After`, and relays
every other request to the node.

What it understands of HTTP/1.1 is only what framing needs. A request with a
`Content-Length` (or none) is relayed over one of the front's own kept-alive
connections to the node, unchanged but for `Connection` and the client's
address in `Pasar-Client-Address` (the node trusts that header only behind its
front; any copy from the client is dropped); the answer comes back to its last
byte, counted or chunked, and the client's connection stays open or closes as
the client asked. A request the front does not frame (a chunked body, `Expect`,
`Upgrade`) goes to the node over a connection of its own with `Connection:
close`, both ways untouched until the node's answer ends, and the client's
connection ends with it: nothing the client sends after it reaches the node
unread by the front. A request line or header it cannot read is answered 400
`malformed_request`. A request whose headers do not arrive within
`--request-timeout` seconds is dropped, as the node drops it; the node keeps its
own deadline for the body. A relayed request whose answer does not begin within
`--answer-timeout` seconds (plus the `wait=` of a long-poll, at most
MAX_WAIT_SECONDS; 0 sets no limit) is answered 504 `node_timeout` by the front,
and the node's connection is dropped: a stuck node does not hold its clients'
connections open. Only the answer's head is timed: an event stream, whose head
comes at once, runs as long as it lasts.

The front exits when its standard input closes: the node holds the other end,
so a node that stops, or is killed, takes its front with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from node.front_state import (
    CLIENT_HEADER,
    LISTEN_BACKLOG,
    MEMPOOL_FULL,
    MEMPOOL_FULL_MESSAGE,
    RETRY_AFTER_MS_HEADER,
    StateReader,
    retry_after_seconds,
)

CLIENT_NAME = CLIENT_HEADER.lower().encode()
SUBMIT_PATHS = (b"/v1/txs", b"/v1/txs/batch")
MSGPACK = b"application/msgpack"
MAX_HEAD = 64 * 1024  # a request's or a response's headers, at most
CHUNK = 64 * 1024
# a refused body up to this size is read and dropped so the connection stays open;
# a larger one is not worth reading: the answer says close
DISCARD_LIMIT = 8 * 1024 * 1024
BIND_RETRY_SECONDS = 3.0
EARLY_ANSWER_WAIT = 0.05
MAX_IDLE = 32  # idle connections to the node kept for the next requests
LINGER_SECONDS = 1.0  # reading what a client still sends after our last answer...
LINGER_BYTES = 1024 * 1024  # ...at most this much
# a body up to this size is read before the request goes to the node, in one write;
# a larger one streams through while the node may already answer (413)
INLINE_BODY = 256 * 1024
# a msgpack submission larger than one transaction is the node's 413, not a 429
MAX_TX_BYTES = 64 * 1024
# a batch's JSON bytes per transaction, at least: a signed transaction encodes to
# more than 100 bytes (sender, nonce, chain, method, signature), 200 as hex
MIN_TX_JSON_BYTES = 200
MAX_BATCH = 1000  # transactions in one batch (node/rpc/models.py): a batch costs no more
# How long the node may take to begin an answer. Its reads answer in milliseconds
# and a submission in well under a second even at capacity; what takes longer is a
# node that is stuck, and its clients get a 504 instead of an open connection.
ANSWER_TIMEOUT = 30.0
# a long-poll's `wait=` is added to the answer timeout, up to the node's own limit
# (node/rpc/routes_txs.py); a larger one is the node's 400, which comes at once
MAX_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A request's head, parsed as far as relaying needs."""

    method: bytes
    path: bytes
    version: bytes
    lines: tuple[bytes, ...]  # header lines, minus Connection and the client header
    connection: tuple[bytes, ...]  # the Connection lines, for a request passed through
    content_length: int
    content_type: bytes
    keep_alive: bool
    framed: bool  # False: chunked, Expect or Upgrade; pass the connection through
    wait: float = 0.0  # seconds a long-poll asks the node to wait (its `wait=`)


def parse_request_head(head: bytes) -> RequestHead | None:
    """The head (request line and headers, the blank line included), or None when
    it is not a request line this relay can read."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        return None
    method, target, version = parts
    kept: list[bytes] = []
    length: int | None = None
    content_type = b""
    connection: list[bytes] = []
    connection_lines: list[bytes] = []
    framed = True
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            return None
        key = name.lower()
        value = value.strip()
        if key == CLIENT_NAME:
            continue
        if key == b"connection":
            connection.extend(token.strip().lower() for token in value.split(b","))
            connection_lines.append(line)
            continue
        if key == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                return None
            length = int(value)
        elif key in (b"transfer-encoding", b"expect", b"upgrade"):
            framed = False
        elif key == b"content-type":
            content_type = value.split(b";")[0].strip().lower()
        kept.append(line)
    if b"upgrade" in connection:
        framed = False
    if version == b"HTTP/1.1":
        keep_alive = b"close" not in connection
    else:
        keep_alive = b"keep-alive" in connection
    path, _, query = target.partition(b"?")
    return RequestHead(
        method=method,
        path=path,
        version=version,
        lines=tuple(kept),
        connection=tuple(connection_lines),
        content_length=length or 0,
        content_type=content_type,
        keep_alive=keep_alive,
        framed=framed,
        wait=long_poll_wait(query),
    )


def long_poll_wait(query: bytes) -> float:
    """The longest `wait=` of a query string, percent-decoded as the node decodes it,
    within [0, MAX_WAIT_SECONDS]; 0 when there is none. The longest, not the one the
    node reads (the first): a timeout a little long for a request that repeats the
    parameter costs nothing, one too short would cut a long-poll the node honours.
    A value the node refuses (NaN, negative, too large, no number) adds nothing: its
    400 comes at once."""
    if b"wait" not in query and b"%" not in query:
        return 0.0  # most requests: no query, or one without the parameter
    longest = 0.0
    for name, value in parse_qsl(query.decode("latin-1")):
        if name != "wait":
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if 0.0 <= seconds <= MAX_WAIT_SECONDS:  # NaN fails both
            longest = max(longest, seconds)
    return longest


def request_line(head: bytes) -> bytes:
    return head.split(b"\r\n", 1)[0]


def upstream_head(request: RequestHead, first_line: bytes, client: str) -> bytes:
    """The head sent to the node, over a kept-alive connection of the front's own,
    with the client's address."""
    lines = [first_line, *request.lines, _client_line(client)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """The node's response head as the client gets it."""

    head: bytes
    stays: bool  # the client's connection stays open after this answer
    length: int | None  # the body's bytes when counted (0: none), else None
    chunked: bool  # the body comes in chunks, the last one empty
    reusable: bool  # the node keeps the connection open after this answer


def response_head(head: bytes, keep_alive: bool, version: bytes, method: bytes) -> ResponseHead:
    """The client's connection and the node's stay open when the answer's end is
    marked (a length, chunks, or no body at all); the node's also needs the node's
    consent, the client's its own."""
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]]
    length: int | None = None
    chunked = False
    node_closes = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"connection":
            node_closes = node_closes or b"close" in value.lower()
            continue
        if key == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
        elif key == b"transfer-encoding":
            chunked = True
        kept.append(line)
    status = lines[0].split(b" ", 2)
    code = status[1] if len(status) > 1 else b""
    no_body = method == b"HEAD" or code in (b"204", b"304") or code.startswith(b"1")
    marked = length is not None or chunked or no_body
    stays = keep_alive and marked
    if stays:
        if version == b"HTTP/1.0":
            kept.append(b"Connection: keep-alive")
    else:
        kept.append(b"Connection: close")
    if no_body:
        length, chunked = 0, False
    elif chunked:
        length = None
    reusable = marked and not node_closes and lines[0].startswith(b"HTTP/1.1")
    return ResponseHead(b"\r\n".join(kept) + b"\r\n\r\n", stays, length, chunked, reusable)


def answer(
    status: bytes,
    code: str,
    message: str,
    headers: tuple[bytes, ...],
    keep_alive: bool,
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """An answer of the front's own, in the node's error shape."""
    body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
    lines = [
        b"HTTP/1.1 " + status,
        b"Content-Type: application/json; charset=utf-8",
        *headers,
        b"Content-Length: " + str(len(body)).encode(),
    ]
    if not keep_alive:
        lines.append(b"Connection: close")
    elif version == b"HTTP/1.0":
        lines.append(b"Connection: keep-alive")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body.encode()


def refusal(retry_after_ms: int, keep_alive: bool, version: bytes) -> bytes:
    """The node's 429 `mempool_full`, the same as far as a client can tell."""
    headers = (
        b"Retry-After: " + str(retry_after_seconds(retry_after_ms)).encode(),
        RETRY_AFTER_MS_HEADER.encode() + b": " + str(retry_after_ms).encode(),
    )
    status = b"429 Too Many Requests"
    return answer(status, MEMPOOL_FULL, MEMPOOL_FULL_MESSAGE, headers, keep_alive, version)


def malformed() -> bytes:
    message = "not an HTTP/1.1 request this node reads"
    return answer(b"400 Bad Request", "malformed_request", message, (), keep_alive=False)


def unavailable(keep_alive: bool) -> bytes:
    message = "the node is not answering (it may be restarting); retry"
    status = b"503 Service Unavailable"
    return answer(status, "node_unavailable", message, (b"Retry-After: 1",), keep_alive)


def went_whole(body: asyncio.Future[bool] | None) -> bool:
    """Whether a request's body reached the node whole (one read first always did)."""
    if body is None:
        return True
    return body.done() and not body.cancelled() and body.exception() is None and body.result()


def timed_out(seconds: float, keep_alive: bool, version: bytes) -> bytes:
    message = (
        f"the node did not begin its answer within {seconds:g} s (it may be overloaded "
        "or stuck); retry later"
    )
    status = b"504 Gateway Timeout"
    headers = (b"Retry-After: 1",)
    return answer(status, "node_timeout", message, headers, keep_alive, version)


async def finish(*tasks: asyncio.Future[Any]) -> None:
    """Cancel what still runs and collect every outcome (none is left unread)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def copy_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until `reader` ends."""
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until `reader` ends, then end `writer`'s side."""
    await copy_all(reader, writer)
    if writer.can_write_eof():
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


async def linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """End our side, then read what the client still sends for a moment before
    closing: closing over unread bytes makes the kernel send a reset, and the
    client may lose the answer written just before (a 429 to a body not read)."""
    with contextlib.suppress(OSError, RuntimeError):
        if not reader.at_eof() and writer.can_write_eof():
            writer.write_eof()
            async with asyncio.timeout(LINGER_SECONDS):
                left = LINGER_BYTES
                while left > 0 and (chunk := await reader.read(CHUNK)):
                    left -= len(chunk)


async def forward_body(
    reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, count: int
) -> bool:
    """Copy a `count`-byte body to the node: True when it all went; False when the
    node stopped taking it (it answers on its own); raises when the client's ends."""
    while count > 0:
        chunk = await reader.read(min(CHUNK, count))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(chunk)
        try:
            up_writer.write(chunk)
            await up_writer.drain()
        except OSError:
            return False
    return True


async def copy_exact(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, count: int
) -> None:
    """Copy (with no writer: drop) exactly `count` bytes; raise if the reader ends first."""
    while count > 0:
        chunk = await reader.read(min(CHUNK, count))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(chunk)
        if writer is not None:
            writer.write(chunk)
            await writer.drain()


async def copy_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy a chunked body through its last, empty chunk and the trailers after it."""
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        size = int(line.split(b";", 1)[0].strip(), 16)  # ValueError: not chunks
        if size == 0:
            break
        await copy_exact(reader, writer, size + 2)
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        if line == b"\r\n":
            break
    await writer.drain()


class Front:
    """The relay: one `serve` task per client connection, a few kept connections to
    the node, and the shared admission state."""

    def __init__(
        self,
        upstream: str,
        state: StateReader,
        request_timeout: float,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self.upstream = upstream
        self.state = state
        self.request_timeout = request_timeout
        self.answer_timeout = answer_timeout
        self.idle_seconds = request_timeout / 2
        # connections to the node between requests, newest last
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    def refuses(self, request: RequestHead) -> int | None:
        """The retry time (ms) to refuse this request with, or None to relay it."""
        if request.method != b"POST" or request.path not in SUBMIT_PATHS:
            return None
        if (
            request.path == SUBMIT_PATHS[0]
            and request.content_type == MSGPACK
            and request.content_length > MAX_TX_BYTES
        ):
            return None  # the node answers 413 before it looks at the pool
        return self.state.refusing()

    def spend(self, request: RequestHead) -> None:
        """Take a submission's transactions out of the room once its body arrived
        (headers alone spend nothing): at least as many as it holds."""
        if request.method != b"POST" or request.path not in SUBMIT_PATHS:
            return
        if request.path == SUBMIT_PATHS[0]:
            cost = 1
        else:
            cost = min(MAX_BATCH, max(1, request.content_length // MIN_TX_JSON_BYTES))
        self.state.spend(cost)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = peer[0] if isinstance(peer, tuple) and peer else "unknown"
        try:
            while await self.one_request(reader, writer, client):
                pass
        except (OSError, RuntimeError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            # the client or the node went away: so does this connection (uvloop raises
            # RuntimeError for a write to a transport that is closing)
            pass
        except asyncio.CancelledError:
            # the front is stopping (the node closed our standard input): end quietly,
            # as asyncio's stream callback reports a cancelled handler as an error
            writer.close()
            return
        try:
            await linger(reader, writer)
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: str
    ) -> bool:
        """Answer or relay one request; whether the connection stays open."""
        try:
            async with asyncio.timeout(self.request_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError):
            return False
        except asyncio.LimitOverrunError:
            writer.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
            writer.write(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        request = parse_request_head(head)
        if request is None:
            # not a request the node's parser would take either; answered here, since
            # passing it on would pass on any client address header it carries
            writer.write(malformed())
            await writer.drain()
            return False
        if not request.framed:
            # the node answers this one request and closes: whatever the client sends
            # after it on this connection is never read past the front unparsed
            lines = (*request.lines, b"Connection: close", _client_line(client))
            await self.pass_through(
                b"\r\n".join((request_line(head), *lines)) + b"\r\n\r\n", reader, writer
            )
            return False
        retry_after_ms = self.refuses(request)
        if retry_after_ms is not None:
            return await self.refuse(request, retry_after_ms, reader, writer)
        return await self.relay(request, request_line(head), reader, writer, client)

    async def refuse(
        self,
        request: RequestHead,
        retry_after_ms: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        keep = request.keep_alive and request.content_length <= DISCARD_LIMIT
        writer.write(refusal(retry_after_ms, keep, request.version))
        self.state.count_refusal()
        await writer.drain()
        if not keep:
            return False
        try:
            async with asyncio.timeout(self.request_timeout):
                await copy_exact(reader, None, request.content_length)
        except TimeoutError:
            return False
        return True

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the node: an idle one it has not closed, or a new one."""
        now = time.monotonic()
        while self._idle:
            up_reader, up_writer, since = self._idle.pop()
            # the node closes a connection idle for its keep-alive time (the request
            # timeout): one idle for half of that is not reused, so a request is never
            # sent down a connection the node is closing at that moment
            if now - since < self.idle_seconds and not up_reader.at_eof():
                return up_reader, up_writer
            up_writer.close()
        return await asyncio.open_unix_connection(self.upstream, limit=MAX_HEAD)

    def release(
        self, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, reusable: bool
    ) -> None:
        """Keep a connection to the node for the next request, or close it."""
        if reusable and len(self._idle) < MAX_IDLE and not up_writer.is_closing():
            self._idle.append((up_reader, up_writer, time.monotonic()))
        else:
            up_writer.close()

    async def relay(
        self,
        request: RequestHead,
        first_line: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: str,
    ) -> bool:
        try:
            up_reader, up_writer = await self.connect()
        except OSError:
            keep = request.keep_alive and request.content_length == 0
            writer.write(unavailable(keep))
            await writer.drain()
            return keep
        head = upstream_head(request, first_line, client)
        if request.content_length <= INLINE_BODY:
            return await self.relay_whole(request, head, reader, writer, up_reader, up_writer)
        self.spend(request)
        up_writer.write(head)
        body = asyncio.ensure_future(forward_body(reader, up_writer, request.content_length))
        answer = asyncio.ensure_future(self.relay_answer(up_reader, writer, request, body))
        reusable = False
        try:
            done, _ = await asyncio.wait((body, answer), return_when=asyncio.FIRST_COMPLETED)
            if body in done and body.exception() is not None:
                return False  # the client went away mid-body: so does the request
            stays, reusable = await answer
            # the node answered before it took the whole body (408, 413): the
            # connection's framing is lost, as it is for the node's own clients
            whole = body.done() and body.result()
            reusable = reusable and whole
            return stays and whole
        finally:
            await finish(body, answer)
            self.release(up_reader, up_writer, reusable)

    async def relay_whole(
        self,
        request: RequestHead,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        """Relay a request whose body is small enough to read first: one write to the
        node and no task of its own (most requests: reads, and submissions of tens of
        transactions)."""
        reusable = False
        try:
            if request.content_length:
                try:
                    async with asyncio.timeout(self.request_timeout):
                        body = await reader.readexactly(request.content_length)
                except TimeoutError:
                    # what the node answers a body that does not arrive in time
                    message = f"the body did not arrive within {self.request_timeout:g} s"
                    writer.write(
                        answer(b"408 Request Timeout", "request_timeout", message, (), False)
                    )
                    await writer.drain()
                    return False
                head += body
            self.spend(request)
            up_writer.write(head)
            stays, reusable = await self.relay_answer(up_reader, writer, request, None)
            return stays
        finally:
            self.release(up_reader, up_writer, reusable)

    async def relay_answer(
        self,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: RequestHead,
        body: asyncio.Future[bool] | None,
    ) -> tuple[bool, bool]:
        """Relay the node's answer; (the client's connection stays, the node's can
        be reused)."""
        seconds = self.answer_timeout + request.wait
        try:
            async with asyncio.timeout(seconds if self.answer_timeout > 0 else None):
                head = await up_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.write(unavailable(False))
            await writer.drain()
            return False, False
        except TimeoutError:
            # the node's answer may still come on this connection: it is not reused.
            # The client's connection is framed as far as the front read it, unless
            # its body is still on its way to the node.
            stays = request.keep_alive and went_whole(body)
            writer.write(timed_out(seconds, stays, request.version))
            await writer.drain()
            return stays, False
        whole = True  # a body read first went whole
        if body is not None:
            if not body.done():
                # the last bytes of the body may still be on their way; if the node answered
                # before it took them all (408, 413), the connection cannot carry another
                await asyncio.wait((body,), timeout=EARLY_ANSWER_WAIT)
            whole = went_whole(body)
        answer = response_head(head, request.keep_alive and whole, request.version, request.method)
        writer.write(answer.head)
        try:
            if answer.chunked:
                await copy_chunks(up_reader, writer)
            elif answer.length is not None:
                await copy_exact(up_reader, writer, answer.length)
            else:  # the answer ends when the node closes
                await copy_all(up_reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return False, False
        await writer.drain()
        return answer.stays, answer.reusable

    async def pass_through(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Hand the rest of the connection to the node, both ways, untouched."""
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        except OSError:
            writer.write(unavailable(False))
            await writer.drain()
            return
        up_writer.write(head)
        sending = asyncio.ensure_future(pipe(reader, up_writer))
        answering = asyncio.ensure_future(pipe(up_reader, writer))
        try:
            # the node's answer ending ends the connection; the client's side ending
            # only half-closes it, as the node may still be answering, unless it failed
            done, _ = await asyncio.wait((sending, answering), return_when=FIRST_COMPLETED)
            if answering not in done and sending.exception() is None:
                await answering
        finally:
            await finish(sending, answering)
            up_writer.close()


def _client_line(client: str) -> bytes:
    return CLIENT_HEADER.encode() + b": " + client.encode()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def bind(host: str, port: int, handler: Handler) -> asyncio.Server:
    """Listen on host:port, retrying a port a stopped front may still hold for a moment."""
    deadline = time.monotonic() + BIND_RETRY_SECONDS
    while True:
        try:
            return await asyncio.start_server(
                handler,
                host,
                port,
                reuse_address=True,
                limit=MAX_HEAD,
                backlog=LISTEN_BACKLOG,
            )
        except OSError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.05)


async def watch_stdin() -> None:
    """Return when the node, which holds our standard input, closes it or exits."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)


def raise_file_limit() -> None:
    """Every request relayed holds two descriptors here (the client's and the node's
    socket): take the hard limit, not the soft one that is often 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run(args: argparse.Namespace) -> int:
    raise_file_limit()
    state = StateReader(Path(args.state))
    front = Front(args.upstream, state, args.request_timeout, args.answer_timeout)
    try:
        server = await bind(args.host, args.port, front.serve)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", flush=True)
        return 2
    print("ready", flush=True)
    async with server:
        await watch_stdin()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the node's Unix socket")
    parser.add_argument("--state", required=True, help="the shared admission state file")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=ANSWER_TIMEOUT,
        help="seconds the node may take to begin an answer (plus a long-poll's wait=; 0: no limit)",
    )
    args = parser.parse_args(argv)
    # Ctrl-C in a terminal reaches the whole process group: the node stops, then
    # closes our standard input, and we go after the requests in flight
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:  # a platform without it: asyncio's own loop, a third more CPU
        return asyncio.run(run(args))
    # a relay is nothing but socket events: uvloop's loop in C took 153 µs of CPU per
    # relayed request where asyncio's took 220 (`GET /v1/status` on keep-alive)
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
