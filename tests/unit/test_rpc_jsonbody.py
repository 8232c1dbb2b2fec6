"""RPC JSON bodies: orjson's rendering is the same JSON value json.dumps gave, over HTTP."""

from __future__ import annotations

import json
from typing import Any

from rpc_fake_node import FakeNode
from rpc_helpers import served

from ledger.codec import MAX_INT, MIN_INT
from node.rpc.jsonbody import dumps, json_response


def test_dumps_is_the_same_json_value_in_the_same_key_order() -> None:
    value: dict[str, Any] = {
        "z": [MAX_INT, MIN_INT, 0, True, None],
        "a": {"nested": "tokó ☕", "b": [], "a": {}},
        "quote": 'say "hi"\n\\',
    }
    rendered = dumps(value)
    assert json.loads(rendered) == value
    assert list(json.loads(rendered)) == ["z", "a", "quote"]
    assert list(json.loads(rendered)["a"]) == ["nested", "b", "a"]
    assert rendered == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_non_string_keys_render_as_strings_like_json_dumps() -> None:
    assert json.loads(dumps({1: "one"})) == json.loads(json.dumps({1: "one"}))


def test_json_response_keeps_status_headers_and_content_type() -> None:
    response = json_response({"ok": True}, status=429, headers={"Retry-After": "2"})
    assert response.status == 429
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.body == b'{"ok":true}'


async def test_answers_and_errors_over_http_are_utf8_json() -> None:
    async with served(FakeNode()) as client:
        status = await client.get("/v1/status")
        missing = await client.get("/v1/blocks/99")
        assert status.headers["Content-Type"] == "application/json; charset=utf-8"
        assert json.loads(await status.read())["height"] == 0
        assert missing.status == 404
        body = json.loads(await missing.read())
        assert body["error"]["code"] == "block_not_found"
