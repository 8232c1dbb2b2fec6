"""RPC: status, blocks, accounts, assets, validators, the event stream and OpenAPI."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from rpc_fake_node import CHAIN_ID, FakeNode
from rpc_helpers import served, transfer

from cli.client import NodeClient, NodeReplyError
from ledger.chainstore import read_genesis
from ledger.genesis import Genesis
from ledger.keys import PrivateKey, address_to_text
from node.home import ServiceLimits
from node.rpc.app import build_rpc_app
from node.rpc.limits import install
from node.service import PeerStatus
from node.storage import LevelDBStore


async def test_status_reports_the_head() -> None:
    node = FakeNode()
    async with served(node) as client:
        status = await (await client.get("/v1/status")).json()
    head = node.head()
    assert status["chain_id"] == CHAIN_ID
    assert status["height"] == 0
    assert status["state_root"] == head.state_root.hex()
    assert status["node_id"] == address_to_text(node.node_id)
    assert status["validator_count"] == 1 and status["catching_up"] is False


async def test_peers_lists_each_link_and_announced_height() -> None:
    node = FakeNode()
    up, down = PrivateKey.generate().public_key, PrivateKey.generate().public_key
    node.peers = (
        PeerStatus(
            up, "v1", outbound=True, inbound=False, frames_dropped=3, height=7, validator=True
        ),
        PeerStatus(
            down, "v2", outbound=False, inbound=False, frames_dropped=0, height=None, validator=True
        ),
    )
    async with served(node) as client:
        response = await client.get("/v1/peers")
        body = await response.json()
    assert response.status == 200
    assert body["height"] == 0
    assert body["peers"] == [
        {
            "node_id": address_to_text(up),
            "name": "v1",
            "connected": True,
            "outbound": True,
            "inbound": False,
            "height": 7,
            "validator": True,
            "frames_dropped": 3,
        },
        {
            "node_id": address_to_text(down),
            "name": "v2",
            "connected": False,
            "outbound": False,
            "inbound": False,
            "height": None,
            "validator": True,
            "frames_dropped": 0,
        },
    ]


async def test_blocks_accounts_on_leveldb(tmp_path: Path) -> None:
    with LevelDBStore(tmp_path / "db") as store:
        node = FakeNode(store)
        a = node.accounts
        stx = transfer(a.alice, a.bob.public_key, 300)
        async with served(node) as client:
            await client.post("/v1/txs", json={"tx": stx.encode().hex()})
            node.commit_pending()
            node.commit_pending()  # an empty block that carries block 1's certificate
            latest = await (await client.get("/v1/blocks/latest")).json()
            first = await (await client.get("/v1/blocks/1")).json()
            bob = await (
                await client.get(f"/v1/accounts/{address_to_text(a.bob.public_key)}")
            ).json()
            alice = await (await client.get(f"/v1/accounts/{a.alice.public_key.hex()}")).json()
    assert latest["height"] == 2
    assert latest["last_certificate"]["block_hash"] == first["hash"]
    assert first["transactions"][0]["hash"] == stx.hash.hex()
    assert first["transactions"][0]["result"]["code"] == "ok"
    assert first["transactions"][0]["args"][1] == {"hex": a.bob.public_key.hex()}
    assert first["certificate"]["height"] == 1
    assert first["header"]["tx_root"]
    assert bob["balances"] == {"IDRA": 5_300, "PTS": 100}
    assert bob["nonce"] == 0
    assert alice["balances"] == {"IDRA": 999_700}
    assert alice["nonce"] == 1


async def test_block_summary_gives_each_transaction_identity_and_result() -> None:
    node = FakeNode()
    a = node.accounts
    ok = transfer(a.alice, a.bob.public_key, 3)
    failed = transfer(a.bob, a.alice.public_key, 10**9)  # more than bob holds
    node.mempool.append(ok)
    node.mempool.append(failed)
    node.commit_pending()
    async with served(node) as client:
        full = await (await client.get("/v1/blocks/1")).json()
        summary = await (await client.get("/v1/blocks/1?transactions=summary")).json()
        latest = await (await client.get("/v1/blocks/latest?transactions=summary")).json()
        bad = await client.get("/v1/blocks/1?transactions=hashes")
        bad_body = await bad.json()
    assert summary["transactions"] == [
        {
            "hash": stx.hash.hex(),
            "sender": address_to_text(stx.tx.sender),
            "nonce": stx.tx.nonce,
            "method": stx.tx.method,
            "ok": expected_ok,
            "code": full_item["result"]["code"],
        }
        for stx, expected_ok, full_item in zip(
            (ok, failed), (True, False), full["transactions"], strict=True
        )
    ]
    assert summary["transactions"][1]["code"] != "ok"
    # everything but the transactions is the full block's
    assert {k: v for k, v in summary.items() if k != "transactions"} == {
        k: v for k, v in full.items() if k != "transactions"
    }
    assert latest == summary
    assert bad.status == 400
    assert bad_body["error"]["code"] == "bad_parameter"
    assert bad_body["error"]["field"] == "transactions"


async def test_assets_page_with_cursor() -> None:
    node = FakeNode()
    async with served(node) as client:
        first = await (await client.get("/v1/assets?limit=1")).json()
        second = await (
            await client.get(f"/v1/assets?limit=1&cursor={first['next_cursor']}")
        ).json()
        everything = await (await client.get("/v1/assets")).json()
    assert [x["symbol"] for x in first["assets"]] == ["IDRA"]
    assert first["next_cursor"] == "IDRA"
    assert [x["symbol"] for x in second["assets"]] == ["PTS"]
    assert second["next_cursor"] is None
    idra = everything["assets"][0]
    assert idra["supply"] == 1_005_000 and idra["policy"] == "platform"
    assert idra["issuer"] == address_to_text(node.accounts.alice.public_key)


async def test_validators_have_names_and_quorum() -> None:
    node = FakeNode()
    async with served(node) as client:
        body = await (await client.get("/v1/validators")).json()
    assert body["validators"] == [
        {"address": address_to_text(node.node_id), "public_key": node.node_id.hex(), "name": "v0"}
    ]
    assert body["quorum"] == 1 and body["max_faulty"] == 0


async def read_events(client: TestClient[Any, Any], query: str, count: int) -> list[dict[str, Any]]:
    """Read `count` SSE events (skipping keepalives), then hang up."""
    events: list[dict[str, Any]] = []
    async with client.get(f"/v1/events{query}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        while len(events) < count:
            line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
            if line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and current:
                events.append(current)
                current = {}
    return events


async def test_event_stream_replays_and_resumes_by_cursor() -> None:
    node = FakeNode()
    a = node.accounts
    async with served(node) as client:
        for nonce in range(2):
            stx = transfer(a.alice, a.bob.public_key, 1 + nonce, nonce=nonce)
            await client.post("/v1/txs", json={"tx": stx.encode().hex()})
        node.commit_pending()
        points = transfer(a.bob, a.alice.public_key, 1, symbol="PTS")
        await client.post("/v1/txs", json={"tx": points.encode().hex()})
        node.commit_pending()
        everything = await read_events(client, "?cursor=0", 5)
        assert [e["id"] for e in everything] == ["1", "1/0", "1/1", "2", "2/0"]
        assert [e["event"] for e in everything] == ["block", "tx", "tx", "block", "tx"]
        assert everything[1]["data"]["status"] == "committed"
        assert everything[3]["data"]["tx_count"] == 1
        # A client that saw up to 1/0 reconnects and gets exactly what follows.
        resumed = await read_events(client, "?cursor=1/0", 3)
        assert [e["id"] for e in resumed] == ["1/1", "2", "2/0"]
        async with client.get("/v1/events", headers={"Last-Event-ID": "1"}) as response:
            line = await asyncio.wait_for(response.content.readline(), 5)
            assert line == b"event: tx\n"


async def test_event_stream_is_live_and_filters_by_account() -> None:
    node = FakeNode()
    a = node.accounts
    outsider = bytes(range(32))
    async with served(node) as client:
        reader = asyncio.ensure_future(
            read_events(client, f"?account={address_to_text(outsider)}", 2)
        )
        for _ in range(500):  # until the stream handler is parked waiting for block 1
            if node.waiting:
                break
            await asyncio.sleep(0.01)
        assert node.waiting
        await client.post(
            "/v1/txs", json={"tx": transfer(a.alice, a.bob.public_key, 1).encode().hex()}
        )
        node.commit_pending()
        await client.post("/v1/txs", json={"tx": transfer(a.bob, outsider, 1).encode().hex()})
        node.commit_pending()
        events = await asyncio.wait_for(reader, 5)
    # Block 1 does not involve the outsider: only its block event is sent.
    assert [e["id"] for e in events] == ["1", "2"]
    async with served(node) as client:
        filtered = await read_events(client, f"?cursor=0&account={outsider.hex()}", 3)
    assert [e["id"] for e in filtered] == ["1", "2", "2/0"]


def test_openapi_document_matches_the_router() -> None:
    app = build_rpc_app(FakeNode())
    served_routes = {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    from node.rpc.app import default_route_groups, openapi_document

    document = openapi_document(default_route_groups())
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served_routes
    assert document["openapi"].startswith("3.")
    for path, item in document["paths"].items():
        for operation in item.values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}


async def test_openapi_is_served() -> None:
    async with served(FakeNode()) as client:
        response = await client.get("/openapi.json")
        assert response.status == 200
        assert "/v1/txs/{hash}" in (await response.json())["paths"]


def test_every_openapi_reference_resolves() -> None:
    from node.rpc.app import default_route_groups, openapi_document

    document = openapi_document(default_route_groups())
    schemas = document["components"]["schemas"]
    references: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "$ref" and isinstance(item, str):
                    references.append(item)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(document)
    assert references
    missing = [r for r in references if r.removeprefix("#/components/schemas/") not in schemas]
    assert missing == []


def test_docs_api_names_every_route() -> None:
    """docs/api.md promises every route: a route added without its doc line fails here."""
    from node.rpc.app import default_route_groups, openapi_document

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    missing = [
        path
        for path in openapi_document(default_route_groups())["paths"]
        if f"`{path}" not in text and f" {path}`" not in text and f" {path}?" not in text
    ]
    assert missing == []


async def parked(node: FakeNode) -> None:
    """Until a request waits in the node's wait_for_height (at most 200 turns)."""
    for _ in range(200):
        if node.waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no request waited for a height")


async def test_a_block_not_committed_yet_is_long_polled_for_with_wait() -> None:
    node = FakeNode()
    a = node.accounts
    async with served(node) as client:
        # the next height: answered when it commits, not before
        request = asyncio.ensure_future(client.get("/v1/blocks/1?transactions=summary&wait=10"))
        await parked(node)
        assert not request.done()
        node.mempool.append(transfer(a.alice, a.bob.public_key, 3))
        node.commit_pending()
        response = await request
        block = await response.json()
        # a committed height is answered at once, wait or not
        again = await client.get("/v1/blocks/1?wait=10")
        again_body = await again.json()
        # one that does not commit in time: the usual 404 when the wait ends
        late = await client.get("/v1/blocks/3?wait=0.05")
        late_body = await late.json()
        # without wait, a height not committed yet is a 404 at once, as before
        now = await client.get("/v1/blocks/2")
    assert response.status == 200 and block["height"] == 1
    senders = [item["sender"] for item in block["transactions"]]
    assert senders == [address_to_text(a.alice.public_key)]
    assert again.status == 200 and again_body["height"] == 1
    assert late.status == 404 and late_body["error"]["code"] == "block_not_found"
    assert now.status == 404


async def test_the_client_library_waits_for_a_block() -> None:
    node = FakeNode()
    a = node.accounts
    async with served(node) as client:
        url = str(client.make_url("")).rstrip("/")
        waiting = asyncio.ensure_future(
            asyncio.to_thread(NodeClient(url).block, 1, wait=10, summary=True)
        )
        await parked(node)
        node.mempool.append(transfer(a.alice, a.bob.public_key, 3))
        node.commit_pending()
        block = await waiting
        with pytest.raises(NodeReplyError) as missing:
            await asyncio.to_thread(NodeClient(url).block, 2, wait=0.05)
    assert block["height"] == 1 and set(block["transactions"][0]) == {
        "hash",
        "sender",
        "nonce",
        "method",
        "ok",
        "code",
    }
    assert missing.value.code == "block_not_found"


async def test_block_long_polls_share_the_long_poll_slots() -> None:
    node = FakeNode()
    app = build_rpc_app(node)
    install(app, ServiceLimits(long_polls=1))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        first = asyncio.ensure_future(client.get("/v1/blocks/1?wait=10"))
        await parked(node)
        refused = await client.get("/v1/blocks/1?wait=10")
        refused_body = await refused.json()
        node.commit_pending()
        assert (await first).status == 200
    finally:
        await client.close()
    assert refused.status == 503 and refused_body["error"]["code"] == "long_polls_full"


async def test_genesis_is_served_and_its_hash_is_block_one_prev_hash() -> None:
    node = FakeNode()
    node.commit_pending()
    async with served(node) as client:
        genesis = await (await client.get("/v1/genesis")).json()
        block = await (await client.get("/v1/blocks/1")).json()
    stored = read_genesis(node.store)
    assert stored is not None
    assert genesis["hash"] == block["header"]["prev_hash"] == stored.hash.hex()
    # A client can check the hash from the served bytes alone.
    encoded = bytes.fromhex(genesis["encoded"])
    assert Genesis.decode(encoded) == stored
    tag = b"pasar/genesis"
    assert hashlib.sha256(bytes([len(tag)]) + tag + encoded).hexdigest() == genesis["hash"]
    assert genesis["chain_id"] == CHAIN_ID
    assert genesis["validators"] == [
        {"address": address_to_text(node.node_id), "public_key": node.node_id.hex(), "name": "v0"}
    ]
    assets, balances = genesis["app_state"][0][1]
    assert assets[0][:3] == ["IDRA", "Rupiah A", 2]
    assert balances[0] == [{"hex": node.accounts.alice.public_key.hex()}, "IDRA", 1_000_000]


def test_operational_routes_are_documented_when_served() -> None:
    """The node adds /metrics, /health and /ready next to the RPC (node/http.py)."""
    from node.rpc.app import default_route_groups, openapi_document

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = build_rpc_app(FakeNode())
    for path in ("/metrics", "/health", "/ready"):
        app.router.add_get(path, handler)
    served_paths = [resource.canonical for resource in app.router.resources()]
    document = openapi_document(default_route_groups(), served_paths)
    assert set(document["paths"]) == set(served_paths)
    ready = document["paths"]["/ready"]["get"]["responses"]
    assert set(ready) == {"200", "503"}


async def test_block_one_has_no_last_certificate_and_the_schema_says_so() -> None:
    from node.rpc.app import default_route_groups, openapi_document

    node = FakeNode()
    node.commit_pending()
    async with served(node) as client:
        block = await (await client.get("/v1/blocks/1")).json()
    assert block["last_certificate"] is None
    schemas = openapi_document(default_route_groups())["components"]["schemas"]
    assert schemas["Block"]["properties"]["last_certificate"]["nullable"] is True


async def test_address_case_rule_lowercase_prefix_body_either_case() -> None:
    node = FakeNode()
    text = address_to_text(node.accounts.bob.public_key)
    body = text.removeprefix("pasar1")
    async with served(node) as client:
        upper_body = await client.get(f"/v1/accounts/pasar1{body.upper()}")
        upper_prefix = await client.get(f"/v1/accounts/PASAR1{body}")
        assert upper_body.status == 200
        assert (await upper_body.json())["address"] == text
        assert upper_prefix.status == 400
        assert (await upper_prefix.json())["error"]["code"] == "bad_address"


def _canonical(value: Any) -> Any:
    """The JSON form of contract values mapped back, as docs/api.md says."""
    if isinstance(value, dict):
        return bytes.fromhex(value["hex"])
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


async def test_a_client_rebuilds_header_hash_and_receipts_root_from_the_json_alone() -> None:
    """docs/api.md 'Block header (JSON)' and 'Events and receipts (JSON)', followed
    literally: only hashlib, the codec and the Merkle root, no ledger objects."""
    from ledger import codec
    from ledger.keys import address_from_text
    from ledger.merkle import merkle_root

    node = FakeNode()
    a = node.accounts
    node.mempool.append(transfer(a.alice, a.bob.public_key, 3))
    node.mempool.append(transfer(a.bob, a.alice.public_key, 10**9))  # rejected
    node.commit_pending()
    async with served(node) as client:
        block = await (await client.get("/v1/blocks/1")).json()
    header = block["header"]
    fields = [3, 1, header["chain_id"], header["height"], bytes.fromhex(header["prev_hash"])]
    fields += [header["timestamp_ms"], address_from_text(header["proposer"])]
    fields += [header["tx_count"], bytes.fromhex(header["tx_root"]), header["receipts_count"]]
    fields += [bytes.fromhex(header[name]) for name in ("receipts_root", "state_root")]
    fields += [bytes.fromhex(header[n]) for n in ("validator_set_hash", "last_certificate_hash")]
    tag = b"pasar/block"
    digest = hashlib.sha256(bytes([len(tag)]) + tag + codec.encode(fields)).hexdigest()
    assert digest == block["hash"]

    def event(item: dict[str, Any]) -> list[Any]:
        return [item["name"], [[key, _canonical(value)] for key, value in item["attribute_list"]]]

    leaves = []
    for tx in block["transactions"]:
        result = tx["result"]
        receipt = [6, 1, bytes.fromhex(tx["hash"]), result["ok"], result["code"]]
        receipt += [result["message"], [event(item) for item in result["events"]]]
        leaves.append(codec.encode(receipt))
    if block["end_block_events"]:
        events = [event(item) for item in block["end_block_events"]]
        leaves.append(codec.encode([6, 1, bytes(32), True, "end_block", "", events]))
    assert len(leaves) == header["receipts_count"]
    assert merkle_root(leaves).hex() == header["receipts_root"]
    assert [tx["result"]["ok"] for tx in block["transactions"]] == [True, False]


async def test_a_block_is_read_and_rendered_off_the_event_loop() -> None:
    # tens of milliseconds for a full block: on the loop, consensus and admission
    # (and every other request) would wait for it
    import threading

    from node.rpc import routes_chain

    node = FakeNode()
    node.commit_pending()
    threads: list[str] = []
    read = routes_chain.block_at

    def recording(service: Any, height: int, view: str = "full") -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return read(service, height, view)

    routes_chain.block_at = recording  # type: ignore[assignment]
    try:
        async with served(node) as client:
            assert (await client.get("/v1/blocks/1")).status == 200
            assert (await client.get("/v1/blocks/latest")).status == 200
            assert (await client.get("/v1/blocks/1?transactions=summary")).status == 200
            missing = await client.get("/v1/blocks/9")
            assert missing.status == 404
            assert (await missing.json())["error"]["code"] == "block_not_found"
    finally:
        routes_chain.block_at = read  # type: ignore[assignment]
    assert len(threads) == 4 and threading.main_thread().name not in threads
