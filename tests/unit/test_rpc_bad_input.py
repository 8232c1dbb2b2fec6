"""RPC: every route answers bad input with the documented 4xx and changes nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rpc_fake_node import FakeNode
from rpc_helpers import served, snapshot, transfer

from ledger.keys import address_to_text
from ledger.tx import MAX_TX_BYTES, SignedTransaction

HASH = "ab" * 32


def cases() -> list[tuple[str, str, dict[str, Any], int, str]]:
    """(method, path, request kwargs, status, error code)."""
    node = FakeNode()  # only to build valid-looking pieces
    a = node.accounts
    good = transfer(a.alice, a.bob.public_key, 1)
    forged = SignedTransaction.single(good.tx, bytes(64)).encode().hex()
    spaced = " ".join(good.encode().hex()[i : i + 2] for i in range(0, 2 * len(good.encode()), 2))
    alice = address_to_text(a.alice.public_key)
    json_headers = {"Content-Type": "application/json"}
    msgpack = {"Content-Type": "application/msgpack"}
    return [
        ("POST", "/v1/txs", {"data": b"{not json", "headers": json_headers}, 400, "malformed_json"),
        ("POST", "/v1/txs", {"json": [1, 2]}, 400, "invalid_request"),
        ("POST", "/v1/txs", {"json": {"tx": 5}}, 400, "invalid_request"),
        ("POST", "/v1/txs", {"json": {"tx": "zz"}}, 400, "bad_hex"),
        ("POST", "/v1/txs", {"json": {"tx": "00"}}, 400, "malformed_tx"),
        ("POST", "/v1/txs", {"json": {"tx": good.encode().hex(), "x": 1}}, 400, "invalid_request"),
        ("POST", "/v1/txs", {"json": {}}, 400, "invalid_request"),
        ("POST", "/v1/txs", {"json": {"unsigned_tx": "00", "signature": "00"}}, 400, "bad_hex"),
        ("POST", "/v1/txs", {"data": b"\xc1", "headers": msgpack}, 400, "malformed_tx"),
        (
            "POST",
            "/v1/txs",
            {"data": b"\x00" * (MAX_TX_BYTES + 1), "headers": msgpack},
            413,
            "body_too_large",
        ),
        ("POST", "/v1/txs", {"json": {"tx": "00" * (MAX_TX_BYTES + 1)}}, 413, "tx_too_large"),
        (
            "POST",
            "/v1/txs",
            {"data": b"x" * (9 << 20), "headers": json_headers},
            413,
            "body_too_large",
        ),
        ("POST", "/v1/txs", {"json": {"tx": forged}}, 422, "bad_signature"),
        ("POST", "/v1/txs/batch", {"json": {"txs": [good.encode().hex(), "zz"]}}, 400, "bad_hex"),
        # what bytes.fromhex alone would take or trip over: spaces and other ASCII
        # whitespace between bytes, an odd digit count, non-ASCII digits
        ("POST", "/v1/txs", {"json": {"tx": spaced}}, 400, "bad_hex"),
        ("POST", "/v1/txs", {"json": {"tx": good.encode().hex() + "\n"}}, 400, "bad_hex"),
        ("POST", "/v1/txs", {"json": {"tx": good.encode().hex()[:-1]}}, 400, "bad_hex"),
        ("POST", "/v1/txs/batch", {"json": {"txs": [spaced]}}, 400, "bad_hex"),
        ("POST", "/v1/txs/batch", {"json": {"txs": ["\u0661\u0662"]}}, 400, "bad_hex"),
        ("POST", "/v1/txs/batch", {"json": {"txs": []}}, 400, "invalid_request"),
        ("POST", "/v1/txs/batch", {"json": {"txs": ["00"] * 1001}}, 400, "invalid_request"),
        ("POST", "/v1/txs/batch", {"json": {"txs": "00"}}, 400, "invalid_request"),
        (
            "POST",
            "/v1/txs/encode",
            # 1 + 1,100 values: refused before any is converted
            {"json": {"sender": alice, "method": "coin.transfer", "args": [[[]] * 1_100]}},
            400,
            "too_many_values",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": "nobody", "method": "coin.transfer"}},
            400,
            "bad_address",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": alice, "method": "coin.steal"}},
            422,
            "unknown_method",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": alice, "method": "coin.transfer", "args": [1.5]}},
            400,
            "bad_value",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": alice, "method": "coin.transfer", "args": [{"hex": "q"}]}},
            400,
            "bad_value",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": alice, "method": "coin.transfer", "args": [1 << 70]}},
            400,
            "bad_value",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": alice, "method": "coin.transfer", "nonce": "1"}},
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/txs/encode",
            {"json": {"sender": alice, "method": "coin.transfer", "nonce": -1}},
            400,
            "invalid_request",
        ),
        ("GET", "/v1/txs/xyz", {}, 400, "bad_hex"),
        ("GET", "/v1/txs/batchx", {}, 400, "bad_hex"),
        ("GET", f"/v1/txs/{HASH}?wait=abc", {}, 400, "bad_parameter"),
        ("GET", f"/v1/txs/{HASH}?wait=61", {}, 400, "bad_parameter"),
        ("GET", f"/v1/txs/{HASH}?wait=nan", {}, 400, "bad_parameter"),
        ("GET", f"/v1/txs/{HASH}?wait=", {}, 400, "bad_parameter"),
        ("GET", f"/v1/txs/{HASH}?wait=0&wait=x", {}, 400, "bad_parameter"),
        ("GET", "/v1/blocks/5?wait=abc", {}, 400, "bad_parameter"),
        ("GET", "/v1/blocks/5?wait=61", {}, 400, "bad_parameter"),
        ("GET", "/v1/blocks/5?wait=-1", {}, 400, "bad_parameter"),
        ("GET", "/v1/assets?limit=1&limit=2", {}, 400, "bad_parameter"),
        ("GET", f"/v1/txs/{HASH}?trusted_height=0", {}, 400, "bad_parameter"),
        ("GET", f"/v1/accounts/{HASH}?symbols=idr", {}, 400, "bad_parameter"),
        ("GET", f"/v1/accounts/{HASH[:-2]}%20", {}, 400, "bad_address"),
        ("GET", f"/v1/accounts/%20{HASH}", {}, 400, "bad_address"),
        ("GET", "/v1/accounts/" + "PASAR1" + "a" * 58, {}, 400, "bad_address"),
        ("GET", f"/v1/txs/{HASH[:-2]}%20ab", {}, 400, "bad_hex"),
        ("GET", "/v1/blocks/abc", {}, 400, "bad_parameter"),
        ("GET", "/v1/blocks/0", {}, 404, "block_not_found"),
        ("GET", "/v1/blocks/-1", {}, 400, "bad_parameter"),
        ("GET", "/v1/blocks/99", {}, 404, "block_not_found"),
        ("GET", "/v1/blocks/latest", {}, 404, "block_not_found"),
        ("GET", "/v1/accounts/pasar1zzzz", {}, 400, "bad_address"),
        ("GET", "/v1/assets?limit=0", {}, 400, "bad_parameter"),
        ("GET", "/v1/assets?limit=x", {}, 400, "bad_parameter"),
        ("GET", "/v1/events?cursor=a/b", {}, 400, "bad_cursor"),
        ("GET", "/v1/events?cursor=0/0", {}, 400, "bad_cursor"),
        ("GET", "/v1/events?account=bad", {}, 400, "bad_address"),
        ("GET", "/v1/nothing", {}, 404, "not_found"),
        ("DELETE", "/v1/status", {}, 405, "method_not_allowed"),
        ("GET", "/v1/txs/batch", {}, 405, "method_not_allowed"),
        ("PUT", "/v1/txs", {}, 405, "method_not_allowed"),
    ]


@pytest.mark.parametrize("method, path, kwargs, status, code", cases(), ids=lambda v: str(v)[:40])
async def test_bad_input_gets_documented_error_and_changes_nothing(
    method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    node = FakeNode()
    before = snapshot(node)
    async with served(node) as client:
        response = await client.request(method, path, **kwargs)
        assert response.status == status
        body = await response.json()
        assert body["error"]["code"] == code
        assert body["error"]["message"]
        # The node keeps serving after the bad request.
        assert (await client.get("/v1/status")).status == 200
    after = snapshot(node)
    if code == "bad_signature":
        # The fake records what reached submit(); the mempool and store are what matter.
        assert (after[0], after[1], after[3]) == (before[0], before[1], before[3])
    else:
        assert after == before


async def test_full_mempool_is_429_with_retry_after() -> None:
    node = FakeNode(mempool_limit=1)
    a = node.accounts
    async with served(node) as client:
        first = transfer(a.alice, a.bob.public_key, 1)
        assert (await client.post("/v1/txs", json={"tx": first.encode().hex()})).status == 202
        before = snapshot(node)
        second = transfer(a.bob, a.alice.public_key, 1)
        response = await client.post("/v1/txs", json={"tx": second.encode().hex()})
        assert response.status == 429
        # whole seconds for HTTP (1.5 s rounds up), milliseconds for clients that read them
        assert response.headers["Retry-After"] == "2"
        assert response.headers["Retry-After-Ms"] == str(node.retry_after_ms()) == "1500"
        assert (await response.json())["error"]["code"] == "mempool_full"
        batch = await client.post("/v1/txs/batch", json={"txs": [second.encode().hex()]})
        assert batch.status == 429
        # both refused before submit(): told to the node, which counts toward overload
        assert node.refused_requests == 2
    assert snapshot(node) == before


async def test_sender_backlog_is_429_too() -> None:
    node = FakeNode(per_sender_limit=1)
    a = node.accounts
    async with served(node) as client:
        first = transfer(a.alice, a.bob.public_key, 1)
        assert (await client.post("/v1/txs", json={"tx": first.encode().hex()})).status == 202
        before = snapshot(node)
        second = transfer(a.alice, a.bob.public_key, 1, nonce=1)
        response = await client.post("/v1/txs", json={"tx": second.encode().hex()})
        assert response.status == 429 and response.headers["Retry-After"] == "2"
        assert response.headers["Retry-After-Ms"] == "1500"
        assert (await response.json())["error"]["code"] == "sender_backlog_full"
        assert snapshot(node)[:2] == before[:2]
        # in a batch the refused item is answered in place, and the answer says when
        # to send it again
        third = transfer(a.bob, a.alice.public_key, 1)
        batch = await client.post(
            "/v1/txs/batch", json={"txs": [second.encode().hex(), third.encode().hex()]}
        )
        assert batch.status == 200
        answer = await batch.json()
        assert [r["code"] for r in answer["results"]] == ["sender_backlog_full", "accepted"]
        assert answer["retry_after_ms"] == 1500
        # nothing refused for room (a duplicate and a bad signature): no retry time
        forged = SignedTransaction.single(
            transfer(a.alice, a.bob.public_key, 2, nonce=5).tx, bytes(64)
        )
        batch = await client.post(
            "/v1/txs/batch", json={"txs": [third.encode().hex(), forged.encode().hex()]}
        )
        answer = await batch.json()
        assert [r["code"] for r in answer["results"]] == ["duplicate", "bad_signature"]
        assert "retry_after_ms" not in answer


async def test_unexpected_failure_is_a_json_500_and_the_node_keeps_serving() -> None:
    node = FakeNode()

    def broken() -> None:
        raise RuntimeError("boom")

    node.status = broken  # type: ignore[assignment,method-assign]
    async with served(node) as client:
        response = await client.get("/v1/status")
        assert response.status == 500
        assert (await response.json())["error"]["code"] == "internal_error"
        assert (await client.get("/v1/assets")).status == 200


def hostile_bodies() -> list[tuple[str, bytes, str, str]]:
    """(path, raw JSON body, error code, field) for inputs that once escaped as 500s."""
    alice = address_to_text(FakeNode().accounts.alice.public_key)
    digits = b"1" * 5000
    deep = b"[" * 60_000 + b"]" * 60_000
    surrogate = b'{"sender": "%s", "method": "coin.transfer", "args": ["\\ud800"]}' % alice.encode()
    return [
        ("/v1/txs", b'{"tx": ' + digits + b"}", "number_too_large", "tx"),
        ("/v1/txs/batch", b'{"txs": ["00", ' + digits + b"]}", "number_too_large", "txs.1"),
        (
            "/v1/txs/encode",
            b'{"sender": "x", "method": "m", "nonce": -' + digits + b"}",
            "number_too_large",
            "nonce",
        ),
        ("/v1/txs", deep, "too_deep", "body"),
        ("/v1/txs/batch", b'{"txs": ' + deep + b"}", "too_deep", "body"),
        ("/v1/txs/encode", b"[" * 60_000, "too_deep", "body"),
        ("/v1/txs/encode", surrogate, "bad_string", "args.0"),
        ("/v1/txs", b'{"tx": "\\udc00"}', "bad_string", "tx"),
        ("/v1/txs", b'{"\\ud800": 1}', "bad_string", "body"),
        ("/v1/txs", b'{"tx": NaN}', "malformed_json", "tx"),
        ("/v1/txs", b'{"tx": "00", "tx": "01"}', "malformed_json", "body"),
        ("/v1/txs", b'{"tx": "\xff"}', "malformed_json", "body"),
    ]


@pytest.mark.parametrize("path, raw, code, field", hostile_bodies(), ids=lambda v: str(v)[:30])
async def test_hostile_json_is_a_400_with_a_field_and_one_log_line(
    path: str, raw: bytes, code: str, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    node = FakeNode()
    before = snapshot(node)
    caplog.set_level(logging.INFO, logger="pasar")
    async with served(node) as client:
        response = await client.post(path, data=raw, headers={"Content-Type": "application/json"})
        assert response.status == 400
        error = (await response.json())["error"]
        assert (error["code"], error["field"]) == (code, field)
    assert snapshot(node) == before
    lines = [r for r in caplog.records if r.name.startswith("pasar")]
    assert len(lines) == 1
    assert lines[0].exc_info is None and "\n" not in lines[0].getMessage()
    assert f"code={code}" in lines[0].getMessage()


async def test_replay_cursor_inside_block_zero_is_refused_before_streaming() -> None:
    node = FakeNode()
    node.commit_pending()
    async with served(node) as client:
        response = await client.get("/v1/events?cursor=0/0")
        assert response.status == 400
        assert response.headers["Content-Type"].startswith("application/json")
        assert (await response.json())["error"] == {
            "code": "bad_cursor",
            "message": "cursor 0 has no transactions; use 0 to replay",
            "field": "cursor",
        }


async def test_hash_route_does_not_shadow_batch_and_encode() -> None:
    async with served(FakeNode()) as client:
        for path in ("/v1/txs/batch", "/v1/txs/encode"):
            response = await client.options(path)
            assert response.status == 405
            assert response.headers["Allow"] == "POST"
        response = await client.options(f"/v1/txs/{HASH}")
        assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}
