"""The relay loop: follow the event stream into the outbox, deliver the outbox.

Threads, each with its own SQLite connection. The follower reads
`GET /v1/events` from the stored cursor and records every frame (its matching
messages plus the new cursor) in one transaction; when the stream breaks or the
node stalls it resumes from the stored cursor on another node of the list. One
deliverer per endpoint (a lane) posts that endpoint's due messages, logs each
attempt and schedules retries with exponential backoff and jitter until the retry
horizon has passed; a slow endpoint therefore delays only its own messages.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from cli.client import NodeClient, StreamQuiet
from cli.common import CliError
from cli.webhooks.config import Endpoint, RelayConfig, RetryPolicy
from cli.webhooks.kinds import ChainEvent, events_of_frame, mentions
from cli.webhooks.signing import sign_headers
from cli.webhooks.store import PRUNE_BATCH, Lane, NewMessage, OutboxRow, RelayStore

RECONNECT_PAUSE_S = 1.0
IDLE_POLL_S = 0.5
PRUNE_EVERY_S = 60.0  # how often the deliverer forgets what is past the retention
PRUNE_ROUNDS = 10  # batches per pass; the rest waits for the next pass
STATUS_TIMEOUT_S = 2.0  # asking another node for its head while the current one is quiet


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds before attempt `attempt + 1`, after `attempt` failures (1, 2, ...).

    The base doubles from `first_delay_s` up to `max_delay_s`; "equal jitter" then
    picks uniformly in [base/2, base], so endpoints that failed together do not
    all come back at the same instant, and no retry comes sooner than half the base.
    """
    base: float = min(policy.max_delay_s, policy.first_delay_s * 2 ** min(attempt - 1, 62))
    return base / 2 + rng.random() * base / 2


def messages_for(
    events: list[ChainEvent], endpoints: tuple[Endpoint, ...], node_url: str
) -> list[NewMessage]:
    messages: list[NewMessage] = []
    for event in events:
        for endpoint in endpoints:
            named = bool(endpoint.account_keys) and mentions(
                event.event.get("attributes"), endpoint.account_keys
            )
            if endpoint.wants(event.kind, event.sender, named):
                messages.append(
                    NewMessage(event.event_id, endpoint.name, event.kind, event.body(node_url))
                )
    return messages


def expired_events(
    store: RelayStore, height: int, block_time_ms: int
) -> tuple[list[ChainEvent], list[str]]:
    """Synthetic invoice.expired events for open invoices this block's time has passed.

    The chain needs no transaction for expiry, so the relay derives it: the first
    block whose time is after `expiry_ms` expires the invoice. Its id uses
    receipt index -1 plus the invoice's rank, a position no chain event has."""
    found: list[ChainEvent] = []
    closed: list[str] = []
    for rank, (invoice_id, created_json) in enumerate(store.expiring_invoices(block_time_ms)):
        created = json.loads(created_json)
        event = {
            "name": "invoice.expired",
            "attributes": created.get("attributes"),
            "attribute_list": created.get("attribute_list"),
        }
        found.append(
            ChainEvent(
                f"evt_{height}_x_{rank}",
                "invoice.expired",
                height,
                -1,
                rank,
                None,
                None,
                None,
                block_time_ms,
                event,
            )
        )
        closed.append(invoice_id)
    return found, closed


def invoice_changes(events: list[ChainEvent]) -> tuple[list[tuple[str, int, str]], list[str]]:
    """Invoices a frame opens (to watch for expiry) and closes (paid or cancelled)."""
    opened: list[tuple[str, int, str]] = []
    closed: list[str] = []
    for event in events:
        attributes = event.event.get("attributes") or {}
        invoice_id = (attributes.get("id") or {}).get("hex")
        if not isinstance(invoice_id, str):
            continue
        if event.kind == "invoice.created":
            opened.append((invoice_id, int(attributes["expiry_ms"]), json.dumps(event.event)))
        elif event.kind in ("invoice.paid", "invoice.cancelled"):
            closed.append(invoice_id)
    return opened, closed


def say(message: str) -> None:
    """One line on stderr, the relay's log."""
    print(f"pasar webhooks: {message}", file=sys.stderr, flush=True)


class Bell:
    """Wakes every delivery lane at once when the follower queues messages."""

    def __init__(self) -> None:
        self.events: list[threading.Event] = []

    def event(self) -> threading.Event:
        event = threading.Event()
        self.events.append(event)
        return event

    def set(self) -> None:
        for event in self.events:
            event.set()


class Follower:
    """Reads the stream and fills the outbox; the cursor moves with the outbox.

    It reads one node of the list at a time. When that node goes away (refused or
    reset connection) it moves on to the next; when the node falls silent (`stall_s`
    without a byte) or stops advancing (a keepalive: the node saw no new block for
    15 s) while another node is past the cursor, it moves to the node furthest
    ahead. The cursor is a chain position ("h" or "h/i", see node/rpc/routes_events.py),
    the same on every validator of the chain because committed blocks are final,
    so the next node resumes exactly after the last recorded event.
    """

    def __init__(
        self,
        config: RelayConfig,
        stop: threading.Event,
        wake: Bell | threading.Event,
        client_for: Callable[[str], NodeClient] = NodeClient,
        log: Callable[[str], None] = say,
    ) -> None:
        self.config = config
        self.stop = stop
        self.wake = wake
        self.client_for = client_for
        self.log = log
        self.current = 0  # index in config.nodes of the node being read
        self.recorded = 0  # frames recorded so far: tells a failed session from a useful one

    def run(self) -> None:
        store = RelayStore(self.config.database)
        nodes = self.config.nodes
        fruitless = 0  # sessions in a row that recorded nothing
        try:
            while not self.stop.is_set():
                before = self.recorded
                try:
                    following = self.follow(store)
                except CliError as exc:
                    # Down, reset or closed: the next node resumes from the stored cursor.
                    self.log(f"event stream from {nodes[self.current]}: {exc}")
                    following = (self.current + 1) % len(nodes)
                if following != self.current:
                    self.log(f"following {nodes[following]} from cursor {store.cursor()[0]}")
                self.current = following
                fruitless = 0 if self.recorded > before else fruitless + 1
                if fruitless >= len(nodes):
                    # Every node failed in turn: pause before the next round.
                    fruitless = 0
                    self.stop.wait(RECONNECT_PAUSE_S)
        finally:
            store.close()

    def follow(self, store: RelayStore) -> int:
        """Read the current node until the stream breaks (CliError) or the node
        stalls; answer the index of the node to read next."""
        cursor, block_time_ms = store.cursor()
        start = cursor if cursor is not None else self.config.start
        query = {"cursor": start} if start else {}
        client = self.client_for(self.config.nodes[self.current])
        stream = client.events(query, read_timeout=self.config.stall_s, keepalives=True)
        try:
            for frame in stream:
                if self.stop.is_set():
                    return self.current
                if frame.get("event") == "keepalive":
                    ahead = self.node_ahead(store)
                    if ahead is not None:
                        self.log(f"{client.base_url} saw no new block for a while; others did")
                        return ahead
                    continue
                self.record(store, frame, block_time_ms)
                self.recorded += 1
                if frame.get("event") == "block":
                    block_time_ms = int(frame["data"]["timestamp_ms"])
        except StreamQuiet as exc:
            ahead = self.node_ahead(store)
            if ahead is not None:
                self.log(str(exc))
            return self.current if ahead is None else ahead
        finally:
            stream.close()
        raise CliError("the node closed the event stream")

    def node_ahead(self, store: RelayStore) -> int | None:
        """The other node with the highest head past the cursor's block, if any."""
        cursor, _ = store.cursor()
        if cursor is None:
            return None
        height = int(cursor.split("/")[0])
        best: tuple[int, int] | None = None
        for index, url in enumerate(self.config.nodes):
            if index == self.current:
                continue
            client = self.client_for(url)
            client.timeout = min(STATUS_TIMEOUT_S, self.config.stall_s)
            try:
                head = int(client.status()["height"])
            except (CliError, KeyError, TypeError, ValueError):
                continue  # down or not answering: not a candidate
            if head > height and (best is None or head > best[0]):
                best = (head, index)
        return None if best is None else best[1]

    def record(self, store: RelayStore, frame: dict[str, Any], block_time_ms: int | None) -> None:
        data = frame.get("data") or {}
        if frame.get("event") == "block":
            block_time_ms = int(data["timestamp_ms"])
        events = events_of_frame(frame, block_time_ms)
        opened, closed = invoice_changes(events)
        if frame.get("event") == "block" and block_time_ms is not None:
            expired, gone = expired_events(store, int(data["height"]), block_time_ms)
            events = expired + events
            closed = closed + gone
        messages = messages_for(events, self.config.endpoints, self.config.node)
        store.record_frame(str(frame["id"]), block_time_ms, messages, time.time(), opened, closed)
        if messages:
            self.wake.set()


def post(
    endpoint: Endpoint, event_id: str, body: str, timeout: float
) -> tuple[int | None, str, bool]:
    """POST one signed message: (HTTP status or None, response excerpt, delivered)."""
    data = body.encode()
    headers = sign_headers(endpoint.secrets, event_id, int(time.time()), data)
    request = urllib.request.Request(endpoint.url, data=data, method="POST", headers=headers)
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "pasar-webhooks")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            excerpt = response.read(512).decode("utf-8", "replace")
            return response.status, excerpt, 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(512).decode("utf-8", "replace"), False
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc)), False


class Deliverer:
    """Posts due messages and records every attempt.

    The relay runs one per endpoint (its `lane`), each in its own thread with its own
    database connection, so an endpoint that answers slowly or times out delays only
    its own messages; a last one handles messages of endpoints no longer configured
    and forgets what is past the retention. Within a lane, messages go one at a time
    in the order they became due.
    """

    def __init__(
        self,
        config: RelayConfig,
        stop: threading.Event,
        wake: threading.Event,
        rng: random.Random | None = None,
        send: Callable[[Endpoint, str, str, float], tuple[int | None, str, bool]] = post,
        lane: Lane | None = None,
    ) -> None:
        self.config = config
        self.stop = stop
        self.wake = wake
        self.rng = rng or random.Random()
        self.send = send
        self.lane = lane
        self.endpoints = {e.name: e for e in config.endpoints}
        # The lane without an endpoint (or a deliverer for everything) keeps retention.
        self.prunes = lane is None or lane.endpoint is None

    def run(self) -> None:
        store = RelayStore(self.config.database)
        pruned_at = 0.0
        try:
            while not self.stop.is_set():
                if self.prunes and time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                    self.prune(store, time.time())
                    pruned_at = time.monotonic()
                if not self.deliver_due(store):
                    next_at = store.next_due_at(self.lane)
                    pause = IDLE_POLL_S if next_at is None else next_at - time.time()
                    self.wake.wait(max(0.0, min(IDLE_POLL_S, pause)))
                    self.wake.clear()
        finally:
            store.close()

    def prune(self, store: RelayStore, now: float) -> int:
        """Drop finished messages and log rows older than the retention; bounded, so
        delivery never waits long on a large backlog of old rows."""
        if self.config.retention_s <= 0:
            return 0
        removed = 0
        for _ in range(PRUNE_ROUNDS):
            count = store.prune(now - self.config.retention_s)
            removed += count
            if count < PRUNE_BATCH:
                break
        return removed

    def deliver_due(self, store: RelayStore) -> int:
        rows = store.due(time.time(), lane=self.lane)
        for row in rows:
            if self.stop.is_set():
                break
            self.attempt(store, row)
        return len(rows)

    def attempt(self, store: RelayStore, row: OutboxRow) -> str:
        endpoint = self.endpoints.get(row.endpoint)
        policy = self.config.retry
        started = time.monotonic()
        if endpoint is None:
            status, excerpt, ok = None, "endpoint no longer configured", False
        else:
            status, excerpt, ok = self.send(endpoint, row.event_id, row.body, policy.timeout_s)
        latency_ms = int((time.monotonic() - started) * 1000)
        now = time.time()
        next_at: float | None = None
        if not ok:
            candidate = now + backoff_delay(row.attempts + 1, policy, self.rng)
            if candidate <= row.created_at + policy.horizon_s:
                next_at = candidate
        return store.record_attempt(
            row, now, status, latency_ms, excerpt, ok, next_at, policy.disable_after
        )


def run_relay(config: RelayConfig, stop: threading.Event) -> None:
    """Run the follower and one delivery lane per endpoint until `stop` is set (or the
    process is killed)."""
    RelayStore(config.database).close()  # create the schema before the threads start
    bell = Bell()
    names = tuple(endpoint.name for endpoint in config.endpoints)
    lanes = [Lane(name) for name in names] + [Lane(None, names)]
    threads = [threading.Thread(target=Follower(config, stop, bell).run, name="follower")]
    for lane in lanes:
        deliverer = Deliverer(config, stop, bell.event(), lane=lane)
        threads.append(threading.Thread(target=deliverer.run, name=f"deliver:{lane.endpoint}"))
    for thread in threads:
        thread.daemon = True
    for thread in threads:
        thread.start()
    while not stop.is_set() and all(thread.is_alive() for thread in threads):
        stop.wait(0.5)
    stop.set()
