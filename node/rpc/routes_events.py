"""The resumable event stream: committed blocks and transaction results as SSE.

The stream is derived from the stored blocks and receipts by height, so it is
resumable by construction: every event carries an `id` (its cursor), and a client
that reconnects with the last id it saw (`?cursor=` or the standard
`Last-Event-ID` header) gets exactly the events after it, missing nothing.

Cursor grammar (also the SSE `id` of each event):
    "<h>"      the `block` event of height h; what follows is tx 0 of block h
    "<h>/<i>"  the `tx` event for transaction i of block h
Without a cursor the stream starts with the next block to be committed;
`cursor=0` replays from block 1. With `account=<address>` only transactions
sent by or mentioning the account are sent; `block` events are always sent so
the cursor keeps moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from aiohttp import web

from ledger.block import Block
from ledger.chainstore import read_block, read_receipts
from ledger.keys import address_to_text
from ledger.kv import KVReader
from ledger.receipt import Event, Receipt
from node.rpc.app import RouteGroup, service_of
from node.rpc.errors import bad_request
from node.rpc.jsonbody import dumps
from node.rpc.limits import Gates, client_of, gates_of, install
from node.rpc.openapi import ADDRESS, query_param, stream_operation
from node.rpc.params import parse_address
from node.rpc.render import event_json, receipt_json
from node.service import NodeService

KEEPALIVE_SECONDS = 15.0
CURSOR_PATTERN = re.compile(r"(0|[1-9][0-9]{0,18})(?:/(0|[1-9][0-9]{0,6}))?")
# What parse_cursor accepts (empty means no cursor; block 0 has no transactions).
CURSOR_SCHEMA_PATTERN = "^(?:0|[1-9][0-9]{0,18}(?:/(?:0|[1-9][0-9]{0,6}))?)?$"


def parse_cursor(text: str) -> tuple[int, int]:
    """(height, next tx index) to resume from; index -1 means the block event is next."""
    match = CURSOR_PATTERN.fullmatch(text)
    if match is None:
        raise bad_request("bad_cursor", "cursor must look like 12 or 12/3", "cursor")
    height = int(match.group(1))
    if height == 0 and match.group(2) is not None:
        # Block 0 is the genesis state, not a block: it has no transactions to resume after.
        raise bad_request("bad_cursor", "cursor 0 has no transactions; use 0 to replay", "cursor")
    if match.group(2) is None:
        return (1, -1) if height == 0 else (height, 0)
    return height, int(match.group(2)) + 1


def mentions(value: Any, account: bytes) -> bool:
    if isinstance(value, bytes):
        return value == account
    if isinstance(value, list | tuple):
        return any(mentions(item, account) for item in value)
    return False


def event_mentions(event: Event, account: bytes) -> bool:
    return any(mentions(value, account) for _, value in event.attributes)


def sse(event: str, event_id: str, data: dict[str, Any]) -> bytes:
    # Compact JSON has no newline in it, so the data fits on one `data:` line.
    return f"event: {event}\nid: {event_id}\ndata: ".encode() + dumps(data) + b"\n\n"


def block_events(
    block: Block, receipts: list[Receipt], start_index: int, account: bytes | None
) -> list[bytes]:
    """The SSE frames of one block from `start_index` on (-1: include the block event)."""
    frames: list[bytes] = []
    height = block.height
    count = len(block.transactions)
    if start_index < 0:
        end_block = [e for r in receipts[count:] for e in r.events]
        if account is not None:
            end_block = [e for e in end_block if event_mentions(e, account)]
        frames.append(
            sse(
                "block",
                str(height),
                {
                    "height": height,
                    "hash": block.hash.hex(),
                    "timestamp_ms": block.header.timestamp_ms,
                    "tx_count": count,
                    "state_root": block.header.state_root.hex(),
                    "end_block_events": [event_json(e) for e in end_block],
                },
            )
        )
        start_index = 0
    for index in range(start_index, count):
        stx = block.transactions[index]
        receipt = receipts[index]
        if account is not None and not (
            stx.tx.sender == account or any(event_mentions(e, account) for e in receipt.events)
        ):
            continue
        frames.append(
            sse(
                "tx",
                f"{height}/{index}",
                {
                    "height": height,
                    "index": index,
                    "hash": stx.hash.hex(),
                    "sender": address_to_text(stx.tx.sender),
                    "method": stx.tx.method,
                    "status": "committed" if receipt.ok else "rejected",
                    "receipt": receipt_json(receipt),
                },
            )
        )
    return frames


async def get_events(request: web.Request) -> web.StreamResponse:
    service = service_of(request)
    gates = gates_of(request)
    cursor = request.query.get("cursor") or request.headers.get("Last-Event-ID")
    account_text = request.query.get("account")
    account = None if account_text is None else parse_address(account_text, "account")
    if cursor:
        height, index = parse_cursor(cursor)
    else:
        height, index = service.head().height + 1, -1
    with gates.event_streams.slot(client_of(request)):
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        # A client that goes away resumes later with its last cursor; nothing to clean up.
        with contextlib.suppress(ConnectionResetError):
            await _stream(request, response, service, gates, height, index, account)
    return response


def _frames_of(
    store: KVReader, height: int, index: int, account: bytes | None
) -> list[bytes] | None:
    """One page of history: the frames of block `height` (None if not stored)."""
    block = read_block(store, height)
    if block is None:
        return None
    return block_events(block, read_receipts(store, height), index, account)


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    service: NodeService,
    gates: Gates,
    height: int,
    index: int,
    account: bytes | None,
) -> None:
    """Send one block at a time: read and render it on the reader thread, then write
    it. A slow client thus costs at most one block plus the transport's buffer, and
    many replaying streams take turns on one thread instead of holding the loop."""
    store = service.store
    loop = asyncio.get_running_loop()
    while request.transport is not None and not request.transport.is_closing():
        sent = False
        while height <= service.head().height:
            frames = await loop.run_in_executor(
                gates.reader, _frames_of, store, height, index, account
            )
            if frames is None:
                raise RuntimeError(f"committed block {height} is missing from the store")
            if frames:
                # write() waits for the transport to drain once 64 KiB are
                # buffered: a slow client paces the replay, not the node's memory
                await response.write(b"".join(frames))
                sent = True
            height, index = height + 1, -1
        reached = await service.wait_for_height(height, KEEPALIVE_SECONDS)
        if reached < height and not sent:
            # A comment line keeps proxies and idle timeouts from closing the stream.
            await response.write(b": keepalive\n\n")


def register(app: web.Application) -> None:
    install(app)
    app.router.add_get("/v1/events", get_events)


GROUP = RouteGroup(
    "events",
    register,
    {
        "/v1/events": {
            "get": stream_operation(
                "Server-sent events of committed blocks and transaction results",
                [
                    query_param(
                        "cursor",
                        {"type": "string", "pattern": CURSOR_SCHEMA_PATTERN},
                        "resume after this event id (h or h/i; 0 replays from block 1)",
                    ),
                    query_param("account", ADDRESS, "only transactions involving this address"),
                ],
            )
        }
    },
)
