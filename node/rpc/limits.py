"""What the RPC grants at once: counted slots for event streams and long-polls.

A request that holds a connection open for long (an event stream, a `?wait=`
long-poll) takes a slot for its lifetime. When the node's slots are taken the
answer is 503 with a machine code; when one client address already holds its
share, 429. Both carry `Retry-After`. Answering at once keeps an unbounded
crowd of streams from starving consensus of the event loop and of memory.

The limits come from the node's `[limits]` config (`node.home.ServiceLimits`);
`node.http` installs them, and an application built without them (unit tests,
benchmarks) gets the defaults. Each slot holds a connection, so a descriptor, and
the node grants no more slots than half its open-file limit (`fit_to_open_files`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from node.front_state import CLIENT_HEADER
from node.home import ServiceLimits
from node.log import log
from node.rpc.errors import ApiError

RETRY_AFTER_SECONDS = "2"


class Gate:
    """Counted slots, in total and per client address."""

    def __init__(self, name: str, total: int, per_client: int | None = None) -> None:
        self.name = name
        self.total = total
        self.per_client = per_client
        self.open = 0
        self._by_client: dict[str, int] = {}

    @contextlib.contextmanager
    def slot(self, client: str) -> Iterator[None]:
        """Hold one slot for the `with` block, or raise the 503/429 ApiError."""
        held = self._by_client.get(client, 0)
        if self.open >= self.total:
            raise ApiError(
                503,
                f"{self.name}_full",
                f"the node serves {self.total} {self.name.replace('_', ' ')} at once; retry later",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        if self.per_client is not None and held >= self.per_client:
            raise ApiError(
                429,
                f"too_many_{self.name}",
                f"one client may hold {self.per_client} {self.name.replace('_', ' ')} at once",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        self.open += 1
        self._by_client[client] = held + 1
        try:
            yield
        finally:
            self.open -= 1
            left = self._by_client[client] - 1
            if left:
                self._by_client[client] = left
            else:
                del self._by_client[client]


# The longest a long-poll (`GET /v1/txs/{hash}?wait=`, `GET /v1/blocks/{height}?wait=`)
# holds its request; the RPC front allows the same (node/rpc_front.py)
MAX_WAIT_SECONDS = 60.0
WAIT_SCHEMA = {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS}  # OpenAPI


# The share of the node's open-file limit its slots (long-polls and event streams, one
# connection each) may hold. The rest is for LevelDB, which keeps up to a fifth of the
# limit open for its tables, the peers, the front's kept-alive connections, clients
# between requests and the interpreter's own files. Past the limit asyncio cannot
# accept a connection at all, so `GET /v1/status` and submissions went unanswered.
SLOTS_SHARE_OF_OPEN_FILES_PERCENT = 50


def open_files_limit() -> int | None:
    """The process' soft open-file limit, or None when it has none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def fit_to_open_files(limits: ServiceLimits, open_files: int | None) -> ServiceLimits:
    """`limits` with no more slots than the open-file limit has room for: event streams
    take at most a quarter of the slots' share, long-polls the rest of it."""
    if open_files is None:
        return limits
    share = max(2, open_files * SLOTS_SHARE_OF_OPEN_FILES_PERCENT // 100)
    streams = max(1, min(limits.event_streams, share // 4))
    polls = max(1, min(limits.long_polls, share - streams))
    return dataclasses.replace(limits, event_streams=streams, long_polls=polls)


# Decoded, a transaction may take 55 times its bytes (1,024 empty arrays: 66 KB), so
# one batch of a thousand is up to 66 MB until admitted, and batches decoded in slices
# take turns: together they may hold this much, and a batch that would take more is
# answered 429 `decoding_full` as it comes to it. A thousand transfers hold 0.4 MB.
DECODED_BUDGET = 128 * 1024 * 1024


class Gates:
    """The RPC application's slots, and the one thread that reads history for streams.

    Replaying history (reading and rendering stored blocks) runs on a single worker
    thread: however many streams replay, they take turns there, and the event loop,
    which runs consensus, stays free between blocks.
    """

    def __init__(self, limits: ServiceLimits, open_files: int | None = None) -> None:
        """`open_files`: the open-file limit the slots must fit in (see
        `fit_to_open_files`); None for no such limit."""
        self.limits = limits = fit_to_open_files(limits, open_files)
        self.event_streams = Gate(
            "event_streams", limits.event_streams, limits.event_streams_per_client
        )
        self.long_polls = Gate("long_polls", limits.long_polls)
        # What the transactions of client batches being decoded and admitted hold,
        # decoded (`held_bytes`), all batches together: see `DECODED_BUDGET`.
        self.decoded = 0
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rpc-read")

    def close(self) -> None:
        # wait: the store must not be closed under a read in progress
        self.reader.shutdown(wait=True, cancel_futures=True)


GATES_KEY = web.AppKey("pasar_rpc_gates", Gates)


def install(app: web.Application, limits: ServiceLimits | None = None) -> None:
    """Give `app` its slots (called by every route group that needs them; the
    node calls it again with its configured limits before the app starts)."""
    if limits is None and GATES_KEY in app:
        return
    old = app.get(GATES_KEY)
    if old is not None:
        old.close()
    else:

        async def close_gates(app: web.Application) -> None:
            app[GATES_KEY].close()

        app.on_cleanup.append(close_gates)
    configured = limits or ServiceLimits()
    gates = Gates(configured, open_files_limit())
    fitted = gates.limits
    if limits is not None and fitted != configured:  # the node's own limits, cut down
        log(
            "rpc_slots_limited",
            "warning",
            long_polls=fitted.long_polls,
            configured_long_polls=configured.long_polls,
            event_streams=fitted.event_streams,
            configured_event_streams=configured.event_streams,
            open_files_limit=open_files_limit(),
            remedy="raise the node's open-file limit (ulimit -n, LimitNOFILE) for more",
        )
    app[GATES_KEY] = gates


def gates_of(request: web.Request) -> Gates:
    return request.app[GATES_KEY]


# Set on the node's application when its RPC is served only through its front
# process (node/rpc_front.py), which names the client in CLIENT_HEADER and drops any
# copy a client sent: only then is the header the client's address.
TRUST_CLIENT_HEADER = web.AppKey("pasar_rpc_trust_client_header", bool)


def client_of(request: web.Request) -> str:
    """The client's address as the node sees it (another proxy in front shares one)."""
    if request.config_dict.get(TRUST_CLIENT_HEADER, False):
        named = request.headers.get(CLIENT_HEADER)
        if named:
            return named
    return request.remote or "unknown"
