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
every other request to the node. A submission it relays spends the room it is
given only once its body has arrived whole: headers alone spend nothing. A
submission is what the node's router takes for one, however the target spells
it: the front decodes percent-escapes and drops a fragment as the node does
before it compares the path, so `POST /v1/tx%73` is refused, and spends the
room, as `POST /v1/txs` does.

What it understands of HTTP/1.1 is only what framing needs. A request with a
`Content-Length` (or none) is relayed over one of the front's own kept-alive
connections to the node, unchanged but for `Connection` and the client's
address in `Pasar-Client-Address` (the node trusts that header only behind its
front; any copy from the client is dropped); the answer comes back to its last
byte, counted or chunked, and the client's connection stays open or closes as
the client asked. A body up to INLINE_BODY is read whole before the front takes
a connection to the node, so a client that sends headers alone holds none of the
node's descriptors; a larger one streams through. The front holds at most
`upstream_slots()` connections to the node in use at once (60% of the
descriptors the node may open, a limit the front inherits); a request beyond them
waits its turn within the answer timeout, then gets the 504. A request the front does not frame (a
chunked body, `Expect`, `Upgrade`) goes to the node over a connection of its own
with `Connection: close`, both ways untouched until the node's answer ends, and
the client's connection ends with it: nothing the client sends after it reaches
the node unread by the front. A head the node's HTTP parser (aiohttp's) would
refuse is refused here, in the node's JSON error shape: 400 `malformed_request`
(bare LF line endings, no `Host` in HTTP/1.1, a duplicated `Host` or
`Content-Length`, `Transfer-Encoding` with `Content-Length`, a request target
over 8,190 bytes, ...) or 431 `headers_too_large` (a header line over 8,190
bytes, more than 100 header lines, a head over 64 KiB). A request whose headers
do not arrive within `--request-timeout` seconds is dropped, as the node drops
it; the node keeps its own deadline for the body. A client that does not take
what the front writes to it within `--request-timeout` seconds loses its
connection. A relayed request whose answer does not begin within
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
import re
import resource
import signal
import socket
import struct
import sys
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence
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
# The node's router compares a path with its routes once the percent-escape of any
# ASCII byte but "/" and "%" is decoded (yarl's `path_safe`): /v1/tx%73 reaches the
# node's /v1/txs. Left escaped: "/" and "%", as the router leaves them, and bytes
# above 127, which no path the front looks for contains.
ESCAPE = re.compile(rb"%(?!2[5Ff])([0-7][0-9A-Fa-f])")
MSGPACK = b"application/msgpack"
MAX_HEAD = 64 * 1024  # a request's or a response's headers, at most
# The node's HTTP parser (aiohttp's, max_line_size and max_field_size) refuses a
# request target or a header over 8,190 bytes, and more than 128 headers; the
# front refuses at least those, with an answer a client can read, instead of
# passing on aiohttp's text/plain 400. A header line counts its name, colon and
# spaces too: a little stricter than the node, never more lenient.
MAX_LINE = 8190
MAX_HEADERS = 100  # header lines from the client; the front adds one of its own
# A method must be an upper-case token; the front relays any but CONNECT, which would
# make the rest of the node's connection a tunnel the front's framing cannot follow:
# that one gets a 405 listing what the API serves. The node answers the rest (a 405
# naming the methods of that path, for one no route takes).
METHOD = re.compile(rb"[A-Z][A-Z_-]{0,31}")
SERVED = b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
# headers aiohttp's parser refuses to see twice (aiohttp/http_parser.py)
SINGLETONS = frozenset(
    {
        b"content-length",
        b"content-location",
        b"content-range",
        b"content-type",
        b"etag",
        b"host",
        b"max-forwards",
        b"server",
        b"transfer-encoding",
        b"user-agent",
    }
)
# a header line: a token, a colon, then a value without control characters (a tab
# and bytes above 127 pass, as in the node's parser)
HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([\t\x20-\x7e\x80-\xff]*)")
# a request target: printable ASCII, no spaces (the node's parser refuses the rest)
TARGET = re.compile(rb"[\x21-\x7e]+")
# ...and one without "#" (0x23) or "%" (0x25), as most are: its path is the node's
# as it is. Checked instead of TARGET, so that most requests pay nothing more.
PLAIN_TARGET = re.compile(rb"[\x21\x22\x24\x26-\x7e]+")
MAX_CONTENT_LENGTH_DIGITS = 18  # beyond: more than the node's parser counts
CHUNK = 64 * 1024
# a refused body up to this size is read and dropped so the connection stays open;
# a larger one is not worth reading: the answer says close
DISCARD_LIMIT = 8 * 1024 * 1024
BIND_RETRY_SECONDS = 3.0
EARLY_ANSWER_WAIT = 0.05
MAX_IDLE = 32  # idle connections to the node kept for the next requests
# Connections to the node in use at once, as a share of the descriptors the node
# may open: every one is a descriptor in the node too, and a node out of them
# cannot accept its peers or open its database's files. The front inherits the
# node's limit when it starts (before raising its own). The node's long-polls and
# event streams take at most half of its limit (node/rpc/limits.py), so one beyond
# them still reaches the node and gets its 503 at once; the tenth above that is
# for the requests in between, the rest of the limit for the node's own files.
UPSTREAM_SHARE_PERCENT = 60
MIN_UPSTREAM = 64  # but at least this many
MAX_UPSTREAM = 65_536  # (and a finite number when the limit is "unlimited")
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
# What a relayed submission took out of the room: (transactions, the node's publication)
Spent = tuple[int, int | None]
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
    path: bytes  # as the node's router compares it with its routes (see `routed_path`)
    version: bytes
    lines: tuple[bytes, ...]  # header lines, minus Connection and the client header
    connection: tuple[bytes, ...]  # the Connection lines, for a request passed through
    content_length: int
    content_type: bytes
    keep_alive: bool
    framed: bool  # False: chunked, Expect or Upgrade; pass the connection through
    wait: float = 0.0  # seconds a long-poll asks the node to wait (its `wait=`)
    host: bool = True  # a Host header came (HTTP/1.1 requires one)


class BadHead(Exception):
    """A request head the front refuses: the status line, code and message of its answer."""

    def __init__(
        self, message: str, status: bytes = b"400 Bad Request", headers: tuple[bytes, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers

    def answer(self) -> bytes:
        """The front's answer, after which it closes the connection."""
        code = _BAD_HEAD_CODES.get(self.status[:3], "malformed_request")
        return answer(self.status, code, self.message, self.headers, keep_alive=False)


_BAD_HEAD_CODES = {b"431": "headers_too_large", b"405": "method_not_allowed"}


def too_large(message: str) -> BadHead:
    return BadHead(message, b"431 Request Header Fields Too Large")


async def read_head_lines(reader: asyncio.StreamReader) -> list[bytes]:
    """A request's head, line by line (without their CRLF, the blank line not
    included); raises BadHead for lines the node's parser would refuse, and as soon
    as it sees one: a bare LF, which the node refuses, would otherwise leave the
    front waiting for a CRLF CRLF that never comes."""
    lines: list[bytes] = []
    size = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise too_large(f"a request's head is at most {MAX_HEAD} bytes") from None
        size += len(line)
        if size > MAX_HEAD:
            raise too_large(f"a request's head is at most {MAX_HEAD} bytes")
        if line[-2:-1] != b"\r":
            raise BadHead("every line of a request's head must end in CRLF (\\r\\n), not LF alone")
        if len(line) == 2:
            if lines:
                return lines
            continue  # an empty line before a request line is ignored, as the node does
        lines.append(line[:-2])
        if len(lines) > MAX_HEADERS + 1:
            raise too_large(f"a request has at most {MAX_HEADERS} header lines")


def parse_request_head(head: bytes) -> RequestHead | None:
    """The head (request line and headers, the blank line included), or None when
    it is not a request this relay reads."""
    try:
        return read_request(head[:-4].split(b"\r\n"))
    except BadHead:
        return None


def read_request(lines: Sequence[bytes]) -> RequestHead:
    """A request's head from its lines (without their CRLF); raises BadHead, with a
    message for the client, when the node's parser would refuse it."""
    method, target, version, plain = read_request_line(lines[0])
    kept: list[bytes] = []
    seen: set[bytes] = set()
    length: int | None = None
    content_type = b""
    connection: list[bytes] = []
    connection_lines: list[bytes] = []
    framed = True
    for line in lines[1:]:
        key, value = read_header(line)
        if key in SINGLETONS:
            if key in seen:
                raise BadHead(f"a request has at most one {key.decode()} header")
            seen.add(key)
        if key == CLIENT_NAME:
            continue
        if key == b"connection":
            connection.extend(token.strip().lower() for token in value.split(b","))
            connection_lines.append(line)
            continue
        if key == b"content-length":
            length = read_content_length(value)
        elif key == b"transfer-encoding":
            read_transfer_encoding(value)
            framed = False
        elif key in (b"expect", b"upgrade"):
            framed = False
        elif key == b"content-type":
            content_type = value.split(b";")[0].strip().lower()
        kept.append(line)
    if length is not None and b"transfer-encoding" in seen:
        raise BadHead("a request has a Content-Length or a Transfer-Encoding, not both")
    if b"upgrade" in connection:
        framed = False
    if version == b"HTTP/1.1":
        keep_alive = b"close" not in connection
    else:
        keep_alive = b"keep-alive" in connection
    if plain:
        path, _, query = target.partition(b"?")
    else:
        path, query = routed_path(target)
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
        host=b"host" in seen,
    )


def read_request_line(line: bytes) -> tuple[bytes, bytes, bytes, bool]:
    """(method, target, version, plain) of a request line the node's parser reads;
    plain: the target has no "%" nor "#", so its path needs no `routed_path`."""
    parts = line.split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadHead("the request line must be METHOD TARGET HTTP/1.1 (or HTTP/1.0)")
    method, target, version = parts
    if METHOD.fullmatch(method) is None:
        raise BadHead("the method must be an upper-case name such as GET or POST")
    if method == b"CONNECT":
        raise BadHead(
            f"method CONNECT is not allowed: the API serves {SERVED.decode()}",
            b"405 Method Not Allowed",
            (b"Allow: " + SERVED,),
        )
    if len(target) > MAX_LINE:
        raise BadHead(f"the request target is longer than {MAX_LINE} bytes")
    # the origin form only (and OPTIONS *): a target such as http://host/v1/txs would
    # reach the node's route past the front's look at the path
    plain = PLAIN_TARGET.fullmatch(target) is not None
    if not (plain or TARGET.fullmatch(target)) or not (target[:1] == b"/" or target == b"*"):
        raise BadHead("the request target must be a path such as /v1/status, in printable ASCII")
    return method, target, version, plain


def routed_path(target: bytes) -> tuple[bytes, bytes]:
    """A request target's path as the node's router compares it with its routes, and
    its query. The front's door and its room must count what the node takes for a
    submission, however the client spells it; what the node would not route to one
    (a trailing slash, "//", "./", an escaped "/") stays what it is."""
    path, _, query = target.partition(b"?")
    if b"#" in target:
        # the node's parser drops a fragment. Before a "?", aiohttp's C parser keeps it
        # in the path and its Python one does not: cutting it off here takes for a
        # submission what either would route to one (a 404 refused as a 429 costs an
        # honest client nothing: none sends a fragment)
        path = path.partition(b"#")[0]
        query = query.partition(b"#")[0]
    if b"%" in path:
        path = ESCAPE.sub(_unescape, path)
    return path, query


def _unescape(match: re.Match[bytes]) -> bytes:
    return bytes((int(match[1], 16),))


def read_header(line: bytes) -> tuple[bytes, bytes]:
    """A header line's name, in lower case, and value, stripped."""
    if len(line) > MAX_LINE:
        raise too_large(f"a header line is at most {MAX_LINE} bytes")
    match = HEADER_LINE.fullmatch(line)
    if match is None:
        raise BadHead(
            "a header line must be NAME: VALUE, the name a token with no space before "
            "the colon, the value without control characters, and not folded"
        )
    return match[1].lower(), match[2].strip(b" \t")


def read_content_length(value: bytes) -> int:
    if not value.isdigit() or len(value) > MAX_CONTENT_LENGTH_DIGITS:
        raise BadHead("Content-Length must be the body's size, in decimal digits")
    return int(value)


def read_transfer_encoding(value: bytes) -> None:
    """A Transfer-Encoding the node's parser reads: chunked, last and once."""
    codings = [coding.strip().lower() for coding in value.split(b",")]
    if codings[-1] != b"chunked" or codings.count(b"chunked") != 1:
        raise BadHead("a request's Transfer-Encoding must end in chunked, and name it once")


def missing_host(request: RequestHead) -> BadHead | None:
    """The refusal of an HTTP/1.1 request without a Host header, which the node's
    parser refuses too (an HTTP/1.0 one needs none)."""
    if request.version == b"HTTP/1.1" and not request.host:
        return BadHead("an HTTP/1.1 request must have a Host header")
    return None


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
    status: int = 0  # the node's status code (0 when its status line does not read as one)


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
    number = int(code) if code.isdigit() and len(code) == 3 else 0
    relayed = b"\r\n".join(kept) + b"\r\n\r\n"
    return ResponseHead(relayed, stays, length, chunked, reusable, number)


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


def unavailable(keep_alive: bool, version: bytes = b"HTTP/1.1") -> bytes:
    message = "the node is not answering (it may be restarting); retry"
    status = b"503 Service Unavailable"
    return answer(status, "node_unavailable", message, (b"Retry-After: 1",), keep_alive, version)


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


async def drain(writer: asyncio.StreamWriter, seconds: float | None) -> None:
    """Wait until `writer` takes what was written, at most `seconds` (None: no limit).
    A client that does not read its answers would otherwise hold its connection, and
    the node's behind it, and the answers' bytes queued here, for ever: it loses its
    connection instead (raises ConnectionAbortedError, as a reset would)."""
    if not writer.transport.get_write_buffer_size():
        await writer.drain()  # all written already (most answers): nothing to time
        return
    try:
        async with asyncio.timeout(seconds):
            await writer.drain()
    except TimeoutError:
        reset(writer)
        raise ConnectionAbortedError("the peer did not read in time") from None


def reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a reset: what the kernel still queued for the peer goes
    too (a plain close would keep trying to deliver it, memory held for minutes)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def copy_all(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float | None
) -> None:
    """Copy until `reader` ends, each write taken within `seconds` (see `drain`)."""
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await drain(writer, seconds)


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float | None
) -> None:
    """Copy until `reader` ends, then end `writer`'s side."""
    await copy_all(reader, writer, seconds)
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
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter | None,
    count: int,
    seconds: float | None = None,
) -> None:
    """Copy (with no writer: drop) exactly `count` bytes, each write taken within
    `seconds` (see `drain`); raise if the reader ends first."""
    while count > 0:
        chunk = await reader.read(min(CHUNK, count))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(chunk)
        if writer is not None:
            writer.write(chunk)
            await drain(writer, seconds)


async def copy_chunks(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float | None
) -> None:
    """Copy a chunked body through its last, empty chunk and the trailers after it,
    each write taken within `seconds` (see `drain`)."""
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        size = int(line.split(b";", 1)[0].strip(), 16)  # ValueError: not chunks
        if size == 0:
            break
        await copy_exact(reader, writer, size + 2, seconds)
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        if line == b"\r\n":
            break
    await drain(writer, seconds)


def upstream_slots(descriptors: int) -> int:
    """Connections to the node the front may use at once, for a node that may open
    `descriptors` files (RLIM_INFINITY, which is negative, for no limit)."""
    if descriptors < 0:
        return MAX_UPSTREAM
    return max(MIN_UPSTREAM, min(MAX_UPSTREAM, descriptors * UPSTREAM_SHARE_PERCENT // 100))


class Front:
    """The relay: one `serve` task per client connection, a few kept connections to
    the node, and the shared admission state."""

    def __init__(
        self,
        upstream: str,
        state: StateReader,
        request_timeout: float,
        answer_timeout: float = ANSWER_TIMEOUT,
        max_upstream: int = MAX_UPSTREAM,
    ) -> None:
        self.upstream = upstream
        self.state = state
        self.request_timeout = request_timeout
        self.answer_timeout = answer_timeout
        self.idle_seconds = request_timeout / 2
        # connections to the node between requests, newest last
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        # connections to the node in use (the idle ones come on top, MAX_IDLE at most)
        self._slots = asyncio.BoundedSemaphore(max_upstream)

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

    def spend(self, request: RequestHead) -> Spent | None:
        """Take a submission's transactions out of the room; called once its body has
        arrived whole (headers alone spend nothing): at least as many as it holds."""
        if request.method != b"POST" or request.path not in SUBMIT_PATHS:
            return None
        if request.path == SUBMIT_PATHS[0]:
            cost = 1
        else:
            cost = min(MAX_BATCH, max(1, request.content_length // MIN_TX_JSON_BYTES))
        return cost, self.state.spend(cost)

    def settle(self, spent: Spent | None, status: int) -> None:
        """After the node's answer: a submission it refused as bad input (any 4xx but a
        429) took no room, so what was spent for it goes back. Before, a client sending
        large batches the node refused as malformed shut the door on every other client
        until the node's next word (up to 50 ms, a second when idle)."""
        if spent is not None and 400 <= status < 500 and status != 429:
            self.state.give_back(*spent)

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
                lines = await read_head_lines(reader)
            request = read_request(lines)
            bad = missing_host(request)
            if bad is not None:
                raise bad
        except (TimeoutError, asyncio.IncompleteReadError):
            return False
        except BadHead as bad:
            # not a request the node's parser would take either; answered here, in the
            # node's error shape, since passing it on would pass on any client address
            # header it carries, and bring back the parser's plain-text 400
            writer.write(bad.answer())
            await drain(writer, self.request_timeout)
            return False
        if not request.framed:
            # the node answers this one request and closes: whatever the client sends
            # after it on this connection is never read past the front unparsed
            lines = [lines[0], *request.lines, b"Connection: close", _client_line(client)]
            await self.pass_through(request, b"\r\n".join(lines) + b"\r\n\r\n", reader, writer)
            return False
        retry_after_ms = self.refuses(request)
        if retry_after_ms is not None:
            return await self.refuse(request, retry_after_ms, reader, writer)
        return await self.relay(request, lines[0], reader, writer, client)

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
        await drain(writer, self.request_timeout)
        if not keep:
            return False
        try:
            async with asyncio.timeout(self.request_timeout):
                await copy_exact(reader, None, request.content_length)
        except TimeoutError:
            return False
        return True

    def answer_seconds(self, request: RequestHead) -> float:
        """How long the node may take to begin answering this request."""
        return self.answer_timeout + request.wait

    def answer_deadline(self, request: RequestHead) -> float | None:
        """The event loop's time by which the node's answer must begin (None: never)."""
        if self.answer_timeout <= 0:
            return None
        return asyncio.get_running_loop().time() + self.answer_seconds(request)

    async def take_slot(self, deadline: float | None) -> bool:
        """Take one of the connections to the node the front may use at once, waiting
        until `deadline` at most; whether it was taken (release it with `_slots`)."""
        if not self._slots.locked():
            await self._slots.acquire()  # one is free: taken at once, nothing to time
            return True
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
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
        """Relay one framed request and its answer; whether the connection stays open."""
        head = upstream_head(request, first_line, client)
        if request.content_length > INLINE_BODY:
            return await self.relay_streamed(request, head, reader, writer)
        if request.content_length:
            # the body first, then the node's connection: a client that sends headers
            # alone holds none of the node's descriptors, and its request does not go
            # down a kept connection the node closed while the body was on its way
            body = await self.read_body(request, reader, writer)
            if body is None:
                return False
            head += body
        return await self.relay_whole(request, head, writer)

    async def read_body(
        self, request: RequestHead, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        """A body small enough to read whole, or None when it did not arrive in time
        (answered 408, as the node answers it; the connection then closes)."""
        try:
            async with asyncio.timeout(self.request_timeout):
                return await reader.readexactly(request.content_length)
        except TimeoutError:
            message = f"the body did not arrive within {self.request_timeout:g} s"
            writer.write(answer(b"408 Request Timeout", "request_timeout", message, (), False))
            await drain(writer, self.request_timeout)
            return None

    async def relay_whole(
        self, request: RequestHead, message: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        """Relay a request read whole (its head and body in `message`): one write to
        the node and no task of its own (most requests: reads, and submissions of
        tens of transactions)."""
        deadline = self.answer_deadline(request)
        if not await self.take_slot(deadline):
            return await self.answer_late(request, request.keep_alive, writer)
        try:
            try:
                up_reader, up_writer = await self.connect()
            except OSError:
                writer.write(unavailable(request.keep_alive, request.version))
                await drain(writer, self.request_timeout)
                return request.keep_alive
            reusable = False
            try:
                spent = self.spend(request)  # its body has arrived: it goes to the node now
                up_writer.write(message)
                stays, reusable, status = await self.relay_answer(
                    up_reader, writer, request, None, deadline
                )
                self.settle(spent, status)
                return stays
            finally:
                self.release(up_reader, up_writer, reusable)
        finally:
            self._slots.release()

    async def relay_streamed(
        self,
        request: RequestHead,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Relay a request whose body streams through to the node as it arrives, while
        the node may already answer (413)."""
        deadline = self.answer_deadline(request)
        if not await self.take_slot(deadline):
            return await self.answer_late(request, False, writer)
        try:
            try:
                up_reader, up_writer = await self.connect()
            except OSError:
                writer.write(unavailable(False))
                await drain(writer, self.request_timeout)
                return False
            up_writer.write(head)
            spent: list[Spent | None] = []
            body = asyncio.ensure_future(self.stream_body(request, reader, up_writer, spent))
            answering = self.relay_answer(up_reader, writer, request, body, deadline)
            answer = asyncio.ensure_future(answering)
            reusable = False
            try:
                done, _ = await asyncio.wait((body, answer), return_when=FIRST_COMPLETED)
                if body in done and body.exception() is not None:
                    return False  # the client went away mid-body: so does the request
                stays, reusable, status = await answer
                if spent:
                    self.settle(spent[0], status)
                # the node answered before it took the whole body (408, 413): the
                # connection's framing is lost, as it is for the node's own clients
                whole = body.done() and body.result()
                reusable = reusable and whole
                return stays and whole
            finally:
                await finish(body, answer)
                self.release(up_reader, up_writer, reusable)
        finally:
            self._slots.release()

    async def stream_body(
        self,
        request: RequestHead,
        reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        spent: list[Spent | None],
    ) -> bool:
        """Stream a body to the node (see `forward_body`), spending the room it takes
        only once all of it arrived (what was spent goes into `spent`): a client that
        announces a large batch and sends less spends nothing."""
        whole = await forward_body(reader, up_writer, request.content_length)
        if whole:
            spent.append(self.spend(request))
        return whole

    async def answer_late(
        self, request: RequestHead, keep_alive: bool, writer: asyncio.StreamWriter
    ) -> bool:
        """The 504 of a request that found no connection to the node free in time."""
        keep = keep_alive and request.keep_alive
        writer.write(timed_out(self.answer_seconds(request), keep, request.version))
        await drain(writer, self.request_timeout)
        return keep

    async def relay_answer(
        self,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: RequestHead,
        body: asyncio.Future[bool] | None,
        deadline: float | None,
    ) -> tuple[bool, bool, int]:
        """Relay the node's answer, its head due by `deadline`; (the client's
        connection stays, the node's can be reused, the answer's status: 0 for the
        front's own 503 or 504)."""
        try:
            async with asyncio.timeout_at(deadline):
                head = await up_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.write(unavailable(False))
            await drain(writer, self.request_timeout)
            return False, False, 0
        except TimeoutError:
            # the node's answer may still come on this connection: it is not reused.
            # The client's connection is framed as far as the front read it, unless
            # its body is still on its way to the node.
            stays = request.keep_alive and went_whole(body)
            writer.write(timed_out(self.answer_seconds(request), stays, request.version))
            await drain(writer, self.request_timeout)
            return stays, False, 0
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
            # a client that stops reading loses its connection (see `drain`); the
            # node's, with the rest of the answer unread, is then closed
            if answer.chunked:
                await copy_chunks(up_reader, writer, self.request_timeout)
            elif answer.length is not None:
                await copy_exact(up_reader, writer, answer.length, self.request_timeout)
            else:  # the answer ends when the node closes
                await copy_all(up_reader, writer, self.request_timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return False, False, answer.status
        await drain(writer, self.request_timeout)
        return answer.stays, answer.reusable, answer.status

    async def pass_through(
        self,
        request: RequestHead,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Hand the rest of the connection to the node, both ways, untouched; an
        answer that does not begin in time is the front's 504, as for a relayed one."""
        deadline = self.answer_deadline(request)
        if not await self.take_slot(deadline):
            await self.answer_late(request, False, writer)
            return
        try:
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
            except OSError:
                writer.write(unavailable(False))
                await drain(writer, self.request_timeout)
                return
            up_writer.write(head)
            # the node is trusted to read what it is sent (it has its own deadlines)
            sending = asyncio.ensure_future(pipe(reader, up_writer, None))
            answering = asyncio.ensure_future(
                self.pass_answer(request, up_reader, writer, deadline)
            )
            try:
                # the node's answer ending ends the connection; the client's side ending
                # only half-closes it, as the node may still answer, unless it failed
                done, _ = await asyncio.wait((sending, answering), return_when=FIRST_COMPLETED)
                if answering not in done and sending.exception() is None:
                    await answering
            finally:
                await finish(sending, answering)
                up_writer.close()
        finally:
            self._slots.release()

    async def pass_answer(
        self,
        request: RequestHead,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        deadline: float | None,
    ) -> None:
        """Copy the node's answer to a request passed through, its first bytes due by
        `deadline` (the 504 otherwise; a node that closes first is the 503)."""
        try:
            async with asyncio.timeout_at(deadline):
                first = await up_reader.read(CHUNK)
        except TimeoutError:
            await self.answer_late(request, False, writer)
            return
        if not first:
            writer.write(unavailable(False))
            await drain(writer, self.request_timeout)
            return
        writer.write(first)
        await pipe(up_reader, writer, self.request_timeout)


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


def raise_file_limit() -> int:
    """Every request relayed holds two descriptors here (the client's and the node's
    socket): take the hard limit, not the soft one that is often 1,024. Returns the
    soft limit as it was: the node's, which the front inherited."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft


async def run(args: argparse.Namespace) -> int:
    node_limit = raise_file_limit()
    state = StateReader(Path(args.state))
    front = Front(
        args.upstream,
        state,
        args.request_timeout,
        args.answer_timeout,
        max_upstream=upstream_slots(node_limit),
    )
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
