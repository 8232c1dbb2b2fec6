"""The webhook relay's pieces: signatures, backoff, kinds and ids, outbox transitions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.client import StreamQuiet
from cli.common import CliError
from cli.webhooks.config import RetryPolicy, parse_config
from cli.webhooks.kinds import events_of_frame, kind_of
from cli.webhooks.relay import Deliverer, Follower, backoff_delay, messages_for
from cli.webhooks.signing import (
    WebhookVerificationError,
    sign_headers,
    signature,
    verify,
)
from cli.webhooks.store import DELIVERED, FAILED, PENDING, NewMessage, RelayStore
from ledger.keys import PrivateKey, address_to_text

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER = "whsec_" + base64.b64encode(b"\x07" * 32).decode()
BODY = b'{"type":"invoice.paid","data":{"id":"evt_5_0_1"}}'


def expected(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    content = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def test_signature_matches_an_independent_hmac() -> None:
    assert signature(SECRET, "evt_5_0_1", 1_700_000_000, BODY) == expected(
        KEY, "evt_5_0_1", 1_700_000_000, BODY
    )
    # The spec's own example secret form: whsec_ + base64 key, prefix optional.
    assert signature(SECRET[6:], "m", 1, b"x") == expected(KEY, "m", 1, b"x")


def test_rotation_signs_with_both_secrets_and_each_verifies() -> None:
    headers = sign_headers([SECRET, OTHER], "evt_1_0_0", 1000, BODY)
    assert headers["webhook-id"] == "evt_1_0_0"
    assert headers["webhook-timestamp"] == "1000"
    parts = headers["webhook-signature"].split(" ")
    assert parts == [
        expected(KEY, "evt_1_0_0", 1000, BODY),
        expected(b"\x07" * 32, "evt_1_0_0", 1000, BODY),
    ]
    upper = {key.upper(): value for key, value in headers.items()}
    assert verify(SECRET, upper, BODY, now=1000) == "evt_1_0_0"
    assert verify(OTHER, headers, BODY, now=1100) == "evt_1_0_0"


@pytest.mark.parametrize(
    ("change", "now"),
    [
        ({"body": BODY + b" "}, 1000),
        ({"webhook-id": "evt_1_0_1"}, 1000),
        ({"webhook-timestamp": "1001"}, 1001),
        ({}, 1000 + 301),
        ({}, 1000 - 301),
        ({"webhook-signature": "v2," + expected(KEY, "evt_1_0_0", 1000, BODY)[3:]}, 1000),
        ({"webhook-timestamp": "1e3"}, 1000),
        ({"webhook-signature": ""}, 1000),
    ],
)
def test_verify_refuses_tampering_and_stale_timestamps(change: dict[str, object], now: int) -> None:
    headers = sign_headers([SECRET], "evt_1_0_0", 1000, BODY)
    body = change.pop("body", BODY)
    headers.update({k: str(v) for k, v in change.items()})
    assert isinstance(body, bytes)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, headers, body, now=now)
    with pytest.raises(WebhookVerificationError):
        verify(OTHER, sign_headers([SECRET], "evt_1_0_0", 1000, BODY), BODY, now=1000)


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() -> None:
    policy = RetryPolicy(first_delay_s=5, max_delay_s=60)
    top = [backoff_delay(n, policy, FixedRandom(0.999999)) for n in range(1, 7)]
    assert [round(d) for d in top] == [5, 10, 20, 40, 60, 60]
    low = [backoff_delay(n, policy, FixedRandom(0.0)) for n in range(1, 7)]
    assert low == [2.5, 5, 10, 20, 30, 30]
    assert backoff_delay(500, policy, FixedRandom(0.5)) == 45


HEX_A = PrivateKey.from_seed(b"\x01" * 32).public_key.hex()
HEX_B = PrivateKey.from_seed(b"\x02" * 32).public_key.hex()


def tx_frame(height: int, index: int, events: list[dict[str, object]]) -> dict[str, object]:
    return {
        "event": "tx",
        "id": f"{height}/{index}",
        "data": {
            "height": height,
            "index": index,
            "hash": "ab" * 32,
            "sender": address_to_text(bytes.fromhex(HEX_B)),
            "method": "m",
            "status": "committed",
            "receipt": {"events": events},
        },
    }


def test_kinds_and_ids_come_from_the_chain_position() -> None:
    assert kind_of({"name": "escrow.completed", "attributes": {"outcome": "confirmed"}}) == (
        "order.confirmed"
    )
    assert kind_of({"name": "escrow.completed", "attributes": {"outcome": "auto_released"}}) == (
        "order.auto_released"
    )
    assert kind_of({"name": "escrow.refunded", "attributes": {"outcome": "auto_refunded"}}) == (
        "order.auto_refunded"
    )
    assert kind_of({"name": "escrow.resolved", "attributes": {}}) == "order.ruled"
    assert kind_of({"name": "listing.created", "attributes": {}}) is None
    frame = tx_frame(
        7,
        2,
        [
            {"name": "listing.created", "attributes": {}},
            {"name": "invoice.paid", "attributes": {"merchant": {"hex": HEX_A}}},
        ],
    )
    events = events_of_frame(frame, 123)
    assert [(e.event_id, e.kind) for e in events] == [("evt_7_2_1", "invoice.paid")]
    block = {
        "event": "block",
        "id": "8",
        "data": {
            "height": 8,
            "tx_count": 3,
            "timestamp_ms": 5,
            "end_block_events": [{"name": "escrow.completed", "attributes": {}}],
        },
    }
    assert [e.event_id for e in events_of_frame(block, 5)] == ["evt_8_3_0"]
    rejected = tx_frame(7, 3, [{"name": "invoice.paid", "attributes": {}}])
    rejected["data"]["status"] = "rejected"  # type: ignore[index]
    assert events_of_frame(rejected, 1) == []


def config_with(tmp_path: Path, **endpoint: object) -> object:
    raw = {"url": "http://127.0.0.1:9/h", "secrets": [SECRET], "name": "shop", **endpoint}
    return parse_config(
        {
            "endpoints": [raw],
            "retry": {"first_delay_s": 1, "max_delay_s": 4, "horizon_s": 10, "disable_after": 3},
        },
        tmp_path,
    )


def test_endpoints_get_only_their_accounts_and_kinds(tmp_path: Path) -> None:
    frame = tx_frame(
        3,
        0,
        [
            {"name": "invoice.paid", "attributes": {"merchant": {"hex": HEX_A}}},
            {"name": "coin.transfer", "attributes": {"to": {"hex": HEX_A}}},
        ],
    )
    events = events_of_frame(frame, 1)
    a = address_to_text(bytes.fromhex(HEX_A))
    mine = config_with(tmp_path, accounts=[a], kinds=["invoice.paid"])
    other = config_with(tmp_path, accounts=["c" * 64], kinds=["*"])
    sender = config_with(tmp_path, accounts=[HEX_B])  # the tx sender, hex form accepted
    assert [m.kind for m in messages_for(events, mine.endpoints, "n")] == ["invoice.paid"]  # type: ignore[attr-defined]
    assert messages_for(events, other.endpoints, "n") == []  # type: ignore[attr-defined]
    assert len(messages_for(events, sender.endpoints, "n")) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "endpoint",
    [
        {"secrets": []},
        {"secrets": ["whsec_***"]},
        {"secrets": [SECRET, SECRET, SECRET]},
        {"url": "ftp://x"},
        {"kinds": ["invoice.lost"]},
        {"accounts": ["nobody"]},
    ],
)
def test_bad_endpoint_configuration_is_one_clear_error(
    tmp_path: Path, endpoint: dict[str, object]
) -> None:
    with pytest.raises(CliError):
        config_with(tmp_path, **endpoint)


def test_outbox_retries_gives_up_at_the_horizon_and_disables_after_a_run(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    store = RelayStore(tmp_path / "relay.sqlite")
    message = NewMessage("evt_1_0_0", "shop", "invoice.paid", "{}")
    store.record_frame("1/0", 5, [message], now=time.time())
    store.record_frame("1/0", 5, [message], now=time.time())  # a replayed frame adds nothing
    assert store.cursor() == ("1/0", 5)
    assert store.outbox_states() == {PENDING: 1}
    answers = iter([(500, "boom", False), (None, "refused", False), (200, "ok", True)])
    deliverer = Deliverer(
        config,
        None,
        None,
        FixedRandom(0.0),
        lambda *_: next(answers),  # type: ignore[arg-type]
    )
    row = store.due(10**10)[0]
    assert deliverer.attempt(store, row) == PENDING
    assert deliverer.attempt(store, store.due(10**10)[0]) == PENDING
    assert store.endpoint_state("shop") == (False, 2)
    assert deliverer.attempt(store, store.due(10**10)[0]) == DELIVERED
    assert store.endpoint_state("shop") == (False, 0)  # a success ends the run
    assert store.due(10**10) == []
    log = store.log("evt_1_0_0", None, 10)
    assert [(e["attempt"], e["status"], e["outcome"]) for e in log] == [
        (3, 200, "ok"),
        (2, None, "failed"),
        (1, 500, "failed"),
    ]
    # Redelivery queues the same event again; three failures in a row disable the endpoint.
    assert store.redeliver("evt_1_0_0", None, now=time.time()) == 1
    failing = Deliverer(config, None, None, FixedRandom(0.0), lambda *_: (503, "", False))  # type: ignore[arg-type]
    for _ in range(3):
        failing.attempt(store, store.due(10**10)[0])
    assert store.endpoint_state("shop") == (True, 3)
    assert store.due(10**10) == []  # disabled: nothing is sent
    assert store.enable("shop", now=time.time()) == 1
    assert store.endpoint_state("shop") == (False, 0)
    # Past the 10 s horizon the message is given up, and logged as failed.
    assert failing.attempt(store, store.due(10**10)[0]) == PENDING  # still within it
    store.record_frame("2", 6, [NewMessage("evt_2_0_0", "shop", "k", "{}")], now=time.time() - 100)
    stale = [r for r in store.due(10**10) if r.event_id == "evt_2_0_0"][0]
    assert failing.attempt(store, stale) == FAILED


def test_retention_forgets_finished_messages_and_old_attempts_but_never_pending(
    tmp_path: Path,
) -> None:
    day = 86_400.0
    now = time.time()
    config = parse_config(
        {
            "endpoints": [{"url": "http://127.0.0.1:9/h", "secrets": [SECRET], "name": "shop"}],
            "retention_days": 7,
        },
        tmp_path,
    )
    store = RelayStore(config.database)
    sent = iter([(200, "", True), (500, "", False), (500, "", False), (200, "", True)])
    deliverer = Deliverer(config, None, None, FixedRandom(0.0), lambda *_: next(sent))  # type: ignore[arg-type]

    def deliver(event_id: str, created: float) -> str:
        store.record_frame(event_id, 0, [NewMessage(event_id, "shop", "k", "{}")], now=created)
        row = next(r for r in store.due(10**10) if r.event_id == event_id)
        return deliverer.attempt(store, row)

    def age(event_id: str, finished: float) -> None:
        store.db.execute("UPDATE outbox SET next_at = ? WHERE event_id = ?", (finished, event_id))
        store.db.execute("UPDATE deliveries SET at = ? WHERE event_id = ?", (finished, event_id))

    assert deliver("old_delivered", now - 9 * day) == DELIVERED
    age("old_delivered", now - 9 * day)
    assert deliver("old_failed", now - 9 * day) == FAILED  # past the 3-day retry horizon
    age("old_failed", now - 8 * day)
    assert deliver("pending", now - 2 * day) == PENDING  # retried later: never forgotten
    store.db.execute("UPDATE deliveries SET at = ? WHERE event_id = 'pending'", (now - 8 * day,))
    assert deliver("recent", now - day) == DELIVERED

    assert deliverer.prune(store, now) == 3  # two old messages, three old attempts: max(2, 3)
    assert store.outbox_states() == {DELIVERED: 1, PENDING: 1}
    assert store.redeliver("old_delivered", None, now) == 0  # forgotten
    assert store.redeliver("recent", None, now) == 1  # kept, so it can be sent again
    assert [e["event_id"] for e in store.log(None, None, 10)] == ["recent"]
    assert deliverer.prune(store, now) == 0  # nothing more to forget

    # Batches: a backlog larger than one delete is removed over several.
    rows = [
        (f"e{i}", "shop", "k", "{}", now - 9 * day, now - 9 * day, 1, DELIVERED) for i in range(5)
    ]
    store.db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    assert store.prune(now - 7 * day, limit=2) == 2
    assert store.prune(now - 7 * day, limit=2) == 2
    assert store.prune(now - 7 * day, limit=2) == 1

    # 0 keeps everything.
    keep = parse_config({"endpoints": [], "retention_days": 0}, tmp_path)
    assert Deliverer(keep, None, None).prune(store, now + 1000 * day) == 0


@pytest.mark.parametrize("value", [-1, "soon", 1])
def test_retention_must_be_sane_and_outlive_the_retry_horizon(
    tmp_path: Path, value: object
) -> None:
    with pytest.raises(CliError, match="retention_days"):
        parse_config(
            {"endpoints": [], "retention_days": value, "retry": {"horizon_s": 3 * 86_400}}, tmp_path
        )


def block(height: int, time_ms: int, tx_count: int = 0) -> dict[str, object]:
    data = {"height": height, "tx_count": tx_count, "timestamp_ms": time_ms}
    return {"event": "block", "id": str(height), "data": {**data, "end_block_events": []}}


def created(height: int, invoice: str, expiry_ms: int) -> dict[str, object]:
    attributes = {"id": {"hex": invoice}, "merchant": {"hex": HEX_A}, "expiry_ms": expiry_ms}
    return tx_frame(height, 0, [{"name": "invoice.created", "attributes": attributes}])


def test_invoice_expired_at_the_first_block_past_expiry_unless_paid(tmp_path: Path) -> None:
    config = config_with(tmp_path, accounts=[HEX_A], kinds=["invoice.expired"])
    store = RelayStore(tmp_path / "relay.sqlite")
    follower = Follower(config, None, threading.Event())  # type: ignore[arg-type]
    paid = tx_frame(6, 0, [{"name": "invoice.paid", "attributes": {"id": {"hex": "bb" * 32}}}])
    frames = [
        block(5, 1000, 1),
        created(5, "aa" * 32, 2000),
        block(6, 1500, 1),
        created(6, "bb" * 32, 2000),
        paid,
        block(7, 2000),  # not after expiry yet
        block(8, 2001),
        block(9, 9000),
    ]
    for frame in frames:
        follower.record(store, frame, None)
        if frame["id"] == "7":
            assert store.due(10**10) == []
    rows = store.due(10**10)
    assert [(r.event_id, r.kind) for r in rows] == [("evt_8_x_0", "invoice.expired")]
    body = json.loads(rows[0].body)
    assert body["data"]["attributes"]["id"] == {"hex": "aa" * 32}
    assert body["timestamp_ms"] == 2001
    assert store.cursor() == ("9", 9000)


class FakeNode:
    """A node for the follower: a scripted event stream and a head height.

    `script` items are frames to yield, or an exception to raise at that point."""

    def __init__(self, url: str, head: int, script: list[object]) -> None:
        self.base_url = url
        self.timeout = 15.0
        self.head = head
        self.script = script
        self.queries: list[dict[str, str]] = []

    def status(self) -> dict[str, int]:
        if self.head < 0:
            raise CliError(f"cannot reach node at {self.base_url}")
        return {"height": self.head}

    def events(
        self, query: dict[str, str], read_timeout: float, keepalives: bool
    ) -> Iterator[dict[str, object]]:
        self.queries.append(query)
        script, self.script = self.script, []
        for item in script:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
        raise CliError("the node closed the event stream")


def follower_over(tmp_path: Path, nodes: list[FakeNode]) -> tuple[Follower, RelayStore]:
    config = parse_config(
        {
            "nodes": [node.base_url for node in nodes],
            "endpoints": [{"url": "http://127.0.0.1:9/h", "secrets": [SECRET], "name": "shop"}],
        },
        tmp_path,
    )
    by_url = {node.base_url: node for node in nodes}
    lines: list[str] = []
    follower = Follower(
        config,
        threading.Event(),
        threading.Event(),
        client_for=lambda url: by_url[url],  # type: ignore[arg-type,return-value]
        log=lines.append,
    )
    return follower, RelayStore(config.database)


def test_a_keepalive_while_another_node_is_ahead_switches_to_the_furthest(tmp_path: Path) -> None:
    behind = FakeNode("http://127.0.0.1:1", 5, [block(5, 1000), {"event": "keepalive"}])
    down = FakeNode("http://127.0.0.1:2", -1, [])
    ahead = FakeNode("http://127.0.0.1:3", 9, [])
    near = FakeNode("http://127.0.0.1:4", 6, [])
    follower, store = follower_over(tmp_path, [behind, down, ahead, near])
    assert follower.follow(store) == 2  # node 2 has the highest head past block 5
    assert store.cursor() == ("5", 1000)
    # the next node resumes from the chain position, not from its own offset
    follower.current = 2
    ahead.script = [tx_frame(5, 0, [])]
    with pytest.raises(CliError):
        follower.follow(store)
    assert ahead.queries == [{"cursor": "5"}]
    assert store.cursor()[0] == "5/0"


def test_a_keepalive_with_nobody_ahead_keeps_reading_and_silence_reconnects(
    tmp_path: Path,
) -> None:
    idle = FakeNode(
        "http://127.0.0.1:1",
        5,
        [block(5, 1000), {"event": "keepalive"}, block(6, 1100), StreamQuiet("quiet")],
    )
    other = FakeNode("http://127.0.0.1:2", 5, [])
    follower, store = follower_over(tmp_path, [idle, other])
    assert follower.follow(store) == 0  # nobody past the cursor: same node again
    assert store.cursor() == ("6", 1100)
    idle.script = [StreamQuiet("quiet")]
    other.head = 7
    assert follower.follow(store) == 1  # quiet while the other node is past the cursor


def test_a_dead_node_hands_over_to_the_next_which_resumes_at_the_cursor(tmp_path: Path) -> None:
    first = FakeNode("http://127.0.0.1:1", 3, [block(3, 10), CliError("reset")])
    second = FakeNode("http://127.0.0.1:2", 3, [tx_frame(3, 0, [])])
    follower, store = follower_over(tmp_path, [first, second])
    stop = follower.stop
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while store.cursor()[0] != "3/0" and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(10)
    assert second.queries[0] == {"cursor": "3"}
    assert store.cursor()[0] == "3/0"


@pytest.mark.parametrize(
    "raw",
    [
        {"node": "http://127.0.0.1:1", "nodes": ["http://127.0.0.1:2"]},
        {"nodes": []},
        {"nodes": "http://127.0.0.1:1"},
        {"nodes": ["127.0.0.1:1"]},
        {"stall_s": 0},
        {"stall_s": "soon"},
    ],
)
def test_bad_node_lists_are_one_clear_error(tmp_path: Path, raw: dict[str, object]) -> None:
    with pytest.raises(CliError):
        parse_config(raw, tmp_path)


def test_one_node_or_several_and_payload_urls_name_the_first(tmp_path: Path) -> None:
    assert parse_config({"node": "http://127.0.0.1:1/"}, tmp_path).nodes == ("http://127.0.0.1:1",)
    config = parse_config(
        {"nodes": ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:1"]}, tmp_path
    )
    assert config.nodes == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert config.node == "http://127.0.0.1:1"
