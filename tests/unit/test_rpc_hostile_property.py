"""RPC property: hostile requests to every route get a 4xx (or a 2xx), never a 5xx.

The routes come from the application's own route table, so a route added later is
attacked too without editing this file. Requests go over a real loopback socket
(http.client), which lets the test send what a well-behaved client library would
refuse to build: percent-encoded invalid UTF-8 and lone surrogates in paths and
queries, bodies that are not JSON, huge integers, deep nesting, "\\ud800" escapes,
NaN, duplicate keys, wrong content types.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rpc_fake_node import FakeNode
from rpc_helpers import ThreadedServer, transfer

from node.rpc.app import build_rpc_app, default_route_groups, openapi_document

# (method, path template) for every route the router serves, from the router itself.
ROUTES = sorted(
    {
        (route.method, route.resource.canonical)
        for route in build_rpc_app(FakeNode()).router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
)
DOCUMENT = openapi_document(default_route_groups())
# Query parameter names each path declares, so generated queries hit real parsing.
QUERY_NAMES = {
    path: sorted(
        {
            parameter["name"]
            for operation in item.values()
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
        }
    )
    for path, item in DOCUMENT["paths"].items()
}
# Field names of request bodies, so generated objects get past "unknown field".
BODY_FIELDS = sorted(
    {
        name
        for schema in DOCUMENT["components"]["schemas"].values()
        for name in schema.get("properties", {})
    }
)
PARAMETER = re.compile(r"\{([^}]+)\}")


def hostile_text() -> st.SearchStrategy[str]:
    """Short strings, including lone surrogates and the values parsers care about."""
    return st.one_of(
        st.text(st.characters(codec=None), max_size=12),
        st.sampled_from(
            [
                "",
                "0",
                "-1",
                "1" * 5000,
                "ab" * 32,
                "AB" * 32,
                "ab" * 31,
                "zz" * 32,
                "pasar1",
                "PASAR1" + "a" * 58,
                "pasar1" + "a" * 58,
                "IDRA",
                "PTS",
                "nan",
                "inf",
                "1e9",
                "0/0",
                "1/0",
                "0x10",
                "\ud800",
                "\x00",
                " 5",
                "latest",
                "../..",
            ]
        ),
    )


def quote(text: str) -> str:
    # surrogatepass: a lone surrogate becomes its (invalid) UTF-8 bytes, percent-encoded.
    return urllib.parse.quote(text, safe="", errors="surrogatepass")


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(1 << 80), max_value=1 << 80),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text(),
        st.fixed_dictionaries({"hex": hostile_text()}),
        st.fixed_dictionaries({"address": hostile_text()}),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(BODY_FIELDS) | hostile_text(), inner, max_size=4),
        ),
        max_leaves=12,
    )


def encode_json(value: Any) -> bytes:
    # ensure_ascii writes lone surrogates as \\udxxx escapes, as an attacker would.
    return json.dumps(value).encode()


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """JSON a client might send, plus JSON Python's decoder takes and must not pass on."""
    shaped = st.dictionaries(st.sampled_from(BODY_FIELDS), json_values(), max_size=6)
    choice = draw(st.integers(0, 9))
    if choice <= 4:
        return encode_json(draw(shaped))
    if choice == 5:
        return encode_json(draw(json_values()))
    if choice == 6:
        depth = draw(st.sampled_from([33, 100, 2_000, 60_000]))
        return b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    if choice == 7:
        field = draw(st.sampled_from(BODY_FIELDS))
        number = draw(st.sampled_from([b"1" * 5000, b"-" + b"9" * 41, b"1e99999", b"NaN"]))
        return b'{"' + field.encode() + b'": ' + number + b"}"
    if choice == 8:
        field = draw(st.sampled_from(BODY_FIELDS))
        return b'{"%s": "\\ud800", "%s": [1]}' % (field.encode(), field.encode())
    return draw(st.binary(max_size=64))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes | None, dict[str, str]]:
    method, template = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    path = PARAMETER.sub(lambda _: quote(draw(hostile_text())) or "x", template)
    names = QUERY_NAMES.get(template, [])
    query = draw(
        st.lists(
            st.tuples(st.sampled_from(names) if names else hostile_text(), hostile_text()),
            max_size=3,
        )
    )
    if template == "/v1/txs/{hash}":
        # A valid wait would long-poll for real; parsing of wait is still exercised.
        query = [(k, "0" if _is_wait(k, v) else v) for k, v in query]
    if query:
        path += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    # Longer request lines are refused by the HTTP parser (400) before the application.
    assume(len(path) < 8000)
    headers: dict[str, str] = {}
    body = None
    if method in ("POST", "PUT", "PATCH"):
        body = draw(raw_bodies())
        headers["Content-Type"] = draw(
            st.sampled_from(["application/json", "application/msgpack", "text/plain"])
        )
    if template == "/v1/events" and draw(st.booleans()):
        headers["Last-Event-ID"] = quote(draw(hostile_text()))
    return method, path, body, headers


def _is_wait(name: str, value: str) -> bool:
    if name != "wait":
        return False
    try:
        return float(value) > 0
    except ValueError:
        return False


@contextmanager
def running_node() -> Iterator[ThreadedServer]:
    node = FakeNode()
    a = node.accounts
    node.mempool.append(transfer(a.alice, a.bob.public_key, 5))
    node.commit_pending()  # a real block, so block and tx routes have something to find
    with ThreadedServer(node) as server:
        yield server


def send(server: ThreadedServer, method: str, path: str, body: bytes | None, headers: Any) -> int:
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        if response.getheader("Content-Type", "").startswith("text/event-stream"):
            return response.status  # a live stream: the status is what matters
        raw = response.read()
        if response.status >= 400 and method != "HEAD":
            error = json.loads(raw)["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
        return response.status
    finally:
        connection.close()


def test_every_route_is_in_the_attack() -> None:
    templates = {template for _, template in ROUTES}
    assert {"/v1/txs", "/v1/txs/{hash}", "/v1/events", "/v1/blocks/{height}"} <= templates
    assert len(templates) == len(DOCUMENT["paths"])


def test_hostile_requests_never_get_a_server_error() -> None:
    with running_node() as server:

        @settings(
            max_examples=400,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(requests())
        def attack(request: tuple[str, str, bytes | None, dict[str, str]]) -> None:
            method, path, body, headers = request
            status = send(server, method, path, body, headers)
            assert status < 500, (method, path, body and body[:200], status)
            if path.startswith("/v1/events") and status == 200:
                server.commit()  # wakes the parked stream, which sees the hang-up and ends

        attack()
        # The node still answers normally afterwards.
        assert send(server, "GET", "/v1/status", None, {}) == 200
