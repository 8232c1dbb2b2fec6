"""The OpenAPI 3 document served at /openapi.json.

Route groups describe their own paths with the helpers here; `document` merges
them with the shared component schemas. Schemas are kept to the fields a client
relies on; docs/api.md has the prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.rpc.app import RouteGroup

ERROR_DESCRIPTIONS = {
    "400": "Malformed input: bad JSON, wrong types, bad hex, bad parameter",
    "404": "Unknown route or object",
    "405": "Method not allowed on this route",
    "413": "Request body or transaction too large",
    "422": "Well-formed but invalid (bad signature, nonce, unknown method, ...)",
    "408": "The request body did not arrive in time (request_timeout); connection closed",
    "429": "Mempool full, or this client's share of event streams taken; retry after Retry-After",
    "503": "The node serves as many streams or long-polls as it allows; retry after Retry-After",
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


def _errors(codes: Sequence[str]) -> dict[str, Any]:
    return {
        code: {"description": ERROR_DESCRIPTIONS[code], "content": _json("Error")} for code in codes
    }


def path_param(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": kind},
    }


def query_param(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": kind},
    }


def get_operation(
    summary: str,
    schema: str,
    parameters: list[dict[str, Any]] | None = None,
    extra_errors: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": parameters or [],
        "responses": {
            "200": {"description": "OK", "content": _json(schema)},
            **_errors(("400", "404", *extra_errors)),
        },
    }


def post_operation(
    summary: str,
    request: str,
    response: str,
    status: str = "200",
    msgpack: bool = False,
    extra_errors: Sequence[str] = (),
) -> dict[str, Any]:
    content = _json(request)
    if msgpack:
        content["application/msgpack"] = {"schema": {"type": "string", "format": "binary"}}
    return {
        "summary": summary,
        "requestBody": {"required": True, "content": content},
        "responses": {
            status: {"description": "OK", "content": _json(response)},
            **_errors(("400", "408", *extra_errors)),
        },
    }


def stream_operation(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "text/event-stream of `block` and `tx` events; id is the cursor",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **_errors(("400", "429", "503")),
        },
    }


def _object(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_ANY: dict[str, Any] = {}
_NULLABLE_S = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {"error": _object({"code": _S, "message": _S, "field": _S}, ("code", "message"))},
        ("error",),
    ),
    "Status": _object(
        {
            "chain_id": _S,
            "node_id": _S,
            "height": _I,
            "last_block_hash": _S,
            "state_root": _S,
            "view": _I,
            "primary": _NULLABLE_S,
            "validator_count": _I,
            "peers_connected": _I,
            "catching_up": _B,
            "mempool_size": _I,
        }
    ),
    "SubmitTx": _object({"tx": _S, "unsigned_tx": _S, "signature": _S}),
    "SubmitBatch": _object({"txs": {"type": "array", "items": _S, "maxItems": 1000}}, ("txs",)),
    "Admission": _object(
        {"hash": _NULLABLE_S, "accepted": _B, "code": _S, "message": _S},
        ("hash", "accepted", "code"),
    ),
    "BatchAdmission": _object({"results": {"type": "array", "items": _ref("Admission")}}),
    "EncodeTx": _object(
        {
            "sender": _S,
            "method": _S,
            "args": {"type": "array", "items": _ANY},
            "nonce": _I,
            "chain_id": _S,
            "expiry_ms": _I,
        },
        ("sender", "method"),
    ),
    "EncodedTx": _object(
        {"unsigned_tx": _S, "hash": _S, "signing_message": _S, "chain_id": _S, "nonce": _I}
    ),
    "Event": _object({"name": _S, "attributes": {"type": "object"}}),
    "Receipt": _object(
        {"ok": _B, "code": _S, "message": _S, "events": {"type": "array", "items": _ref("Event")}}
    ),
    "Certificate": _object(
        {
            "height": _I,
            "view": _I,
            "block_hash": _S,
            "signatures": {
                "type": "array",
                "items": _object({"validator": _S, "signature": _S}),
            },
            "encoded": _S,
        }
    ),
    "TxOutcome": _object(
        {
            "hash": _S,
            "status": {"type": "string", "enum": ["pending", "committed", "rejected", "unknown"]},
            "height": _I,
            "index": _I,
            "tx": {"type": "object"},
            "receipt": _ref("Receipt"),
            "proof": _object(
                {
                    "leaf": _S,
                    "index": _I,
                    "count": _I,
                    "siblings": {"type": "array", "items": _S},
                    "tx_root": _S,
                    "block_hash": _S,
                }
            ),
            "certificate": _ref("Certificate"),
        },
        ("hash", "status"),
    ),
    "Block": _object(
        {
            "height": _I,
            "hash": _S,
            "header": {"type": "object"},
            "transactions": {"type": "array", "items": {"type": "object"}},
            "end_block_events": {"type": "array", "items": _ref("Event")},
            "last_certificate": _ref("Certificate"),
            "certificate": _ref("Certificate"),
        }
    ),
    "Account": _object(
        {
            "address": _S,
            "public_key": _S,
            "nonce": _I,
            "balances": {"type": "object", "additionalProperties": _I},
            "height": _I,
        }
    ),
    "AssetPage": _object(
        {
            "assets": {
                "type": "array",
                "items": _object(
                    {
                        "symbol": _S,
                        "name": _S,
                        "decimals": _I,
                        "issuer": _S,
                        "cap": _I,
                        "supply": _I,
                        "policy": _S,
                    }
                ),
            },
            "next_cursor": _NULLABLE_S,
        }
    ),
    "Validators": _object(
        {
            "height": _I,
            "validators": {
                "type": "array",
                "items": _object({"address": _S, "public_key": _S, "name": _NULLABLE_S}),
            },
            "quorum": _I,
            "max_faulty": _I,
        }
    ),
}


def document(groups: Sequence[RouteGroup]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document"}},
            }
        }
    }
    schemas = dict(SCHEMAS)
    for group in groups:
        for path, item in group.paths.items():
            paths.setdefault(path, {}).update(item)
        schemas.update(group.schemas)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "pasar node RPC",
            "version": "1",
            "description": "JSON over HTTP; errors are {error: {code, message, field?}}.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
