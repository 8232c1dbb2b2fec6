"""Schemathesis hooks for the API test: rules of the API that a JSON schema cannot state.

Loaded by schemathesis through SCHEMATHESIS_HOOKS. Each hook narrows generation to
what the server documents as valid (so "schema-valid data is accepted" is checked
for real) or bounds the run; none of them changes what is checked.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from hypothesis import strategies as st

from ledger.keys import PUBLIC_KEY_SIZE, address_to_text
from node.rpc.routes_events import CURSOR_SCHEMA_PATTERN

# `pasar-address`: the pattern allows any base32 text, but the last 4 bytes are a
# checksum of the key. Real addresses of random keys, in both accepted forms.
_keys = st.binary(min_size=PUBLIC_KEY_SIZE, max_size=PUBLIC_KEY_SIZE)
schemathesis.openapi.format(
    "pasar-address",
    st.one_of(_keys.map(address_to_text), _keys.map(bytes.hex)),
)

MAX_TEST_WAIT = 0.2
CURSOR = re.compile(CURSOR_SCHEMA_PATTERN)


@schemathesis.hook
def map_query(ctx: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    # `wait` long-polls up to 60 s for a transaction or block that never comes: keep runs
    # short.
    if query and isinstance(query.get("wait"), int | float) and query["wait"] > MAX_TEST_WAIT:
        query["wait"] = MAX_TEST_WAIT
    # A valid cursor past the head (or none) waits for blocks an idle chain never makes:
    # replay from the start instead, so the stream has events to read.
    if ctx.operation.path == "/v1/events":
        query = dict(query or {})
        cursor = query.get("cursor")
        if cursor is None or (isinstance(cursor, str) and CURSOR.fullmatch(cursor)):
            query["cursor"] = "0"
    return query


@schemathesis.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    # GET /v1/orders takes exactly one of buyer, seller and arbiter (OpenAPI 3.0 cannot
    # say so).
    query = query or {}
    if ctx.operation.path == "/v1/orders":
        return sum(name in query for name in ("buyer", "seller", "arbiter")) == 1
    # GET /v1/exchange/quote: exactly one of pay_amount and receive_amount.
    if ctx.operation.path == "/v1/exchange/quote":
        return ("pay_amount" in query) != ("receive_amount" in query)
    return True
