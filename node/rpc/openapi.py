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
    "417": "An Expect header other than 100-continue (expectation_failed); connection closed",
    "422": "Well-formed but invalid (bad signature, nonce, unknown method, ...)",
    "408": "The request body did not arrive in time (request_timeout); connection closed",
    "429": "Mempool full, or this client's share of event streams taken; retry after "
    "Retry-After (whole seconds), or after Retry-After-Ms (milliseconds) when the 429 "
    "is for the mempool's room",
    "503": "The node serves as many streams or long-polls as it allows, or (from its RPC "
    "front) the node is not answering: node_unavailable; retry after Retry-After",
    "504": "From the node's RPC front: the node did not begin its answer in time "
    "(node_timeout); retry after Retry-After",
    "431": "From the node's RPC front: a header line over 8,190 bytes, more than 100 "
    "header lines, or a head over 64 KiB (headers_too_large); connection closed",
}
# What any operation can get from the RPC front the node serves behind (node/rpc_front.py)
FRONT_ERRORS = ("431", "503", "504")
OPERATIONS = ("get", "put", "post", "delete", "patch", "head", "options")

# What the server accepts, exactly (node.rpc.params checks the same patterns), and
# what it renders (lowercase hex). Addresses also carry a checksum, which a pattern
# cannot express: the `pasar-address` format names that rule.
HEX_PATTERN = "^(?:[0-9a-fA-F]{2})*$"
HASH_PATTERN = "^[0-9a-fA-F]{64}$"
# 36 bytes in base32 is 58 characters; the last one's two spare bits are zero. The
# prefix is lowercase, the body either case (docs/protocol.md §4); no whitespace.
ADDRESS_PATTERN = "^(?:[0-9a-fA-F]{64}|pasar1[a-zA-Z2-7]{57}[aeimquyAEIMQUY4])$"
SYMBOL_PATTERN = "^[A-Z][A-Z0-9]{1,11}$"
MAX_HEIGHT = (1 << 63) - 1

HEX: dict[str, Any] = {"type": "string", "pattern": HEX_PATTERN}
HASH: dict[str, Any] = {"type": "string", "pattern": HASH_PATTERN}
ADDRESS: dict[str, Any] = {"type": "string", "format": "pasar-address", "pattern": ADDRESS_PATTERN}
SYMBOL: dict[str, Any] = {"type": "string", "pattern": SYMBOL_PATTERN}
SIGNATURE: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"}
# Rendered forms: lowercase hex, canonical address text.
OUT_HEX: dict[str, Any] = {"type": "string", "pattern": "^(?:[0-9a-f]{2})*$"}
OUT_HASH: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
OUT_SIGNATURE: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-f]{128}$"}
OUT_ADDRESS: dict[str, Any] = {"type": "string", "pattern": "^pasar1[a-z2-7]{57}[aeimquy4]$"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:  # OpenAPI 3.0 ignores siblings of $ref
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def integer(low: int = 0, high: int = MAX_HEIGHT) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


# The headers a 429 carries (Retry-After-Ms only when it refuses for the mempool's room)
RETRY_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again (whole seconds, at least 1)",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Retry-After-Ms": {
        "description": "The same wait in milliseconds, when the refusal is for the "
        "mempool's room: the node's estimate of when there is room again",
        "schema": {"type": "integer", "minimum": 1},
    },
}


def _errors(codes: Sequence[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for code in codes:
        answers[code] = {"description": ERROR_DESCRIPTIONS[code], "content": _json("Error")}
        if code == "429":
            answers[code]["headers"] = RETRY_HEADERS
    return answers


def _schema(kind: str | dict[str, Any]) -> dict[str, Any]:
    return {"type": kind} if isinstance(kind, str) else dict(kind)


def path_param(name: str, kind: str | dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": _schema(kind),
    }


def query_param(
    name: str, kind: str | dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": _schema(kind),
    }


def page_params(maximum: int, default: int, cursor: dict[str, Any]) -> list[dict[str, Any]]:
    """`limit` and `cursor` of a paged list (`next_cursor` goes back as `cursor`)."""
    return [
        query_param("limit", integer(1, maximum), f"page size, 1..{maximum} (default {default})"),
        query_param("cursor", cursor, "next_cursor of the previous page (empty: from the start)"),
    ]


def get_operation(
    summary: str,
    schema: str,
    parameters: list[dict[str, Any]] | None = None,
    extra_errors: Sequence[str] = (),
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK", "content": _json(schema)}
    if links:
        ok["links"] = links
    return {
        "summary": summary,
        "parameters": parameters or [],
        "responses": {"200": ok, **_errors(("400", "404", *extra_errors))},
    }


def post_operation(
    summary: str,
    request: str,
    response: str,
    status: str = "200",
    msgpack: bool = False,
    extra_errors: Sequence[str] = (),
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content = _json(request)
    if msgpack:
        content["application/msgpack"] = {"schema": {"type": "string", "format": "binary"}}
    ok: dict[str, Any] = {"description": "OK", "content": _json(response)}
    if links:
        ok["links"] = links
    return {
        "summary": summary,
        "requestBody": {"required": True, "content": content},
        "responses": {status: ok, **_errors(("400", "408", *extra_errors))},
    }


def stream_operation(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "text/event-stream of `block` and `tx` events; id is the cursor",
                # One schema per event (as SSE tools read them); `data` is one line of
                # JSON, described in docs/api.md.
                "content": {
                    "text/event-stream": {
                        "schema": _object(
                            {
                                "event": {"type": "string", "enum": ["block", "tx"]},
                                "id": {"type": "string", "pattern": "^[0-9]+(?:/[0-9]+)?$"},
                                "data": {"type": "string", "pattern": "^\\{.*\\}$"},
                            }
                        )
                    }
                },
            },
            **_errors(("400", "429", "503")),
        },
    }


def _object(
    properties: dict[str, Any], required: Sequence[str] | None = None, closed: bool = False
) -> dict[str, Any]:
    """An object schema; `required` defaults to every property (answers are complete)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    names = list(properties) if required is None else list(required)
    if names:
        schema["required"] = names
    if closed:
        schema["additionalProperties"] = False
    return schema


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_N = integer()
_ANY: dict[str, Any] = {}

# A canonical value in JSON (node.rpc.values): what `args` may hold.
_VALUE = {
    "nullable": True,
    "oneOf": [
        {"type": "integer", "minimum": -(1 << 63), "maximum": (1 << 64) - 1},
        {"type": "string", "maxLength": 256},
        {"type": "boolean"},
        {"type": "array", "items": _ref("Value"), "maxItems": 16},
        _object({"hex": {**HEX, "maxLength": 512}}, closed=True),
        _object({"address": ADDRESS}, closed=True),
    ],
}
# Rendered values: bytes are always {"hex": ...}; accounts too.
_OUT_VALUE: dict[str, Any] = {
    "nullable": True,
    "oneOf": [
        {"type": "integer"},
        {"type": "string"},
        {"type": "boolean"},
        {"type": "array", "items": _ref("OutValue")},
        _object({"hex": OUT_HEX}, closed=True),
    ],
}
_EVENT = _object(
    {
        "name": _S,
        "attributes": {"type": "object", "additionalProperties": _ref("OutValue")},
        "attribute_list": {
            "type": "array",
            "items": {
                "type": "array",
                "items": {"anyOf": [_S, _ref("OutValue")]},
                "minItems": 2,
                "maxItems": 2,
            },
        },
    }
)
_CERTIFICATE = _object(
    {
        "height": _N,
        "view": _N,
        "block_hash": OUT_HASH,
        "signatures": {
            "type": "array",
            "items": _object({"validator": OUT_ADDRESS, "signature": OUT_SIGNATURE}),
        },
        "encoded": OUT_HEX,
    }
)
_TX = _object(
    {
        "hash": OUT_HASH,
        "chain_id": _S,
        "sender": OUT_ADDRESS,
        "nonce": _N,
        "method": _S,
        "args": {"type": "array", "items": _ref("OutValue")},
        "expiry_ms": _N,
        "version": {"type": "integer", "enum": [1, 2]},
        # The sender's own signature in a version 1 envelope; null in version 2.
        "signature": nullable(OUT_SIGNATURE),
        "signatures": {
            "type": "array",
            "items": _object({"signer": OUT_ADDRESS, "signature": OUT_SIGNATURE}),
        },
    },
    required=("hash", "chain_id", "sender", "nonce", "method", "args", "expiry_ms"),
)
_HEADER = _object(
    {
        "chain_id": _S,
        "height": _N,
        "prev_hash": OUT_HASH,
        "timestamp_ms": _N,
        "proposer": OUT_ADDRESS,
        "tx_count": _N,
        "tx_root": OUT_HASH,
        "receipts_count": _N,
        "receipts_root": OUT_HASH,
        "state_root": OUT_HASH,
        "validator_set_hash": OUT_HASH,
        "last_certificate_hash": OUT_HASH,
    }
)

SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {"error": _object({"code": _S, "message": _S, "field": _S}, required=("code", "message"))}
    ),
    "Value": _VALUE,
    "OutValue": _OUT_VALUE,
    "Status": _object(
        {
            "chain_id": _S,
            "node_id": OUT_ADDRESS,
            "height": _N,
            "last_block_hash": OUT_HASH,
            "state_root": OUT_HASH,
            "view": _N,
            "primary": nullable(OUT_ADDRESS),
            "validator_count": _N,
            "peers_connected": _N,
            "catching_up": _B,
            "mempool_size": _N,
            "extra": {"type": "object", "additionalProperties": _I},
        }
    ),
    "Peers": _object(
        {
            "height": _N,
            "peers": {
                "type": "array",
                "items": _object(
                    {
                        "node_id": OUT_ADDRESS,
                        "name": _S,
                        "connected": _B,
                        "outbound": _B,
                        "inbound": _B,
                        "height": nullable(_N),
                        "validator": _B,
                        "frames_dropped": _N,
                    }
                ),
            },
        }
    ),
    "SubmitTx": {
        "oneOf": [
            _object({"tx": HEX}, closed=True),
            _object(
                {"unsigned_tx": HEX, "signature": SIGNATURE},
                closed=True,
            ),
        ]
    },
    "SubmitBatch": _object(
        {"txs": {"type": "array", "items": HEX, "minItems": 1, "maxItems": 1000}}, closed=True
    ),
    "Admission": _object({"hash": nullable(OUT_HASH), "accepted": _B, "code": _S, "message": _S}),
    "BatchAdmission": _object(
        {
            "results": {"type": "array", "items": _ref("Admission")},
            # present when an item was refused for room (mempool_full,
            # sender_backlog_full, nonce_gap_full): when to send those items again, as a 429's
            # Retry-After-Ms would say
            "retry_after_ms": {"type": "integer", "minimum": 1},
        },
        required=["results"],
    ),
    "EncodeTx": _object(
        {
            "sender": ADDRESS,
            "method": {"type": "string", "minLength": 1, "maxLength": 64},
            "args": {"type": "array", "items": _ref("Value"), "maxItems": 256},
            "nonce": integer(),
            "chain_id": {"type": "string", "minLength": 1, "maxLength": 64},
            "expiry_ms": integer(),
        },
        required=("sender", "method"),
        closed=True,
    ),
    "EncodedTx": _object(
        {
            "unsigned_tx": OUT_HEX,
            "hash": OUT_HASH,
            "signing_message": OUT_HEX,
            "chain_id": _S,
            "nonce": _N,
        }
    ),
    "Event": _EVENT,
    "Receipt": _object(
        {"ok": _B, "code": _S, "message": _S, "events": {"type": "array", "items": _EVENT}}
    ),
    "Certificate": _CERTIFICATE,
    "Transaction": _TX,
    "TxOutcome": _object(
        {
            "hash": OUT_HASH,
            "status": {"type": "string", "enum": ["pending", "committed", "rejected", "unknown"]},
            "height": _N,
            "index": _N,
            "tx": _TX,
            "receipt": _ref("Receipt"),
            "proof": _object(
                {
                    "leaf": OUT_HASH,
                    "index": _N,
                    "count": _N,
                    "siblings": {"type": "array", "items": OUT_HASH},
                    "tx_root": OUT_HASH,
                    "block_hash": OUT_HASH,
                }
            ),
            "certificate": nullable(_ref("Certificate")),
        },
        required=("hash", "status"),
    ),
    "BlockHeader": _HEADER,
    "Block": _object(
        {
            "height": _N,
            "hash": OUT_HASH,
            "header": _ref("BlockHeader"),
            "transactions": {
                "type": "array",
                "items": {
                    "anyOf": [
                        # transactions=full (the default)
                        {"allOf": [_TX, _object({"result": _ref("Receipt")}, required=())]},
                        # transactions=summary
                        _object(
                            {
                                "hash": OUT_HASH,
                                "sender": OUT_ADDRESS,
                                "nonce": _N,
                                "method": _S,
                                "ok": _B,
                                "code": _S,
                            },
                            required=("hash", "sender", "nonce", "method"),
                            closed=True,
                        ),
                    ]
                },
            },
            "end_block_events": {"type": "array", "items": _EVENT},
            # Block 1 carries no certificate of a previous block.
            "last_certificate": nullable(_ref("Certificate")),
            "certificate": nullable(_ref("Certificate")),
        }
    ),
    "Genesis": _object(
        {
            "hash": OUT_HASH,
            "chain_id": _S,
            "genesis_time_ms": _N,
            "validators": {
                "type": "array",
                "items": _object({"address": OUT_ADDRESS, "public_key": OUT_HASH, "name": _S}),
            },
            "app_state": _ref("OutValue"),
            "encoded": OUT_HEX,
        }
    ),
    "Account": _object(
        {
            "address": OUT_ADDRESS,
            "public_key": OUT_HASH,
            "nonce": _N,
            "balances": {"type": "object", "additionalProperties": _N},
            "policy": _ref("AccountPolicy"),
            "height": _N,
        }
    ),
    "AccountOrProof": {"anyOf": [_ref("Account"), _ref("ProofBundle")]},
    "AccountPolicy": _object(
        {
            "default": _B,
            "keys": {"type": "array", "items": _ref("WeightedKey")},
            "thresholds": _object({"low": _N, "medium": _N, "high": _N}),
            "large_amount": _N,
            "scoped_keys": {
                "type": "array",
                "items": _object(
                    {
                        "key": OUT_ADDRESS,
                        "methods": {"type": "array", "items": _S},
                        "allowance": nullable(_N),
                    }
                ),
            },
            "recovery": nullable(
                _object(
                    {
                        "keys": {"type": "array", "items": _ref("WeightedKey")},
                        "threshold": _N,
                        "delay_ms": _N,
                    }
                )
            ),
            "pending_recovery": nullable(
                _object({"effective_ms": _N, "policy": {"type": "object"}})
            ),
        }
    ),
    "WeightedKey": _object({"key": OUT_ADDRESS, "weight": _N}),
    "AssetPage": _object(
        {
            "assets": {
                "type": "array",
                "items": _object(
                    {
                        "symbol": SYMBOL,
                        "name": _S,
                        "decimals": _N,
                        "issuer": OUT_ADDRESS,
                        "cap": _N,
                        "supply": _N,
                        "policy": _S,
                    }
                ),
            },
            "next_cursor": nullable(SYMBOL),
        }
    ),
    "Validators": _object(
        {
            "height": _N,
            "validators": {
                "type": "array",
                "items": _object(
                    {"address": OUT_ADDRESS, "public_key": OUT_HASH, "name": nullable(_S)}
                ),
            },
            "quorum": _N,
            "max_faulty": _N,
        }
    ),
}

# The validator process serves these next to the RPC (node/http.py); they are in the
# document when the application has them.
OPERATIONAL_PATHS: dict[str, dict[str, Any]] = {
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {
                "200": {
                    "description": "Metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/health": {
        "get": {
            "summary": "Liveness: 200 while the process serves requests",
            "responses": {
                "200": {
                    "description": "Alive",
                    "content": {
                        "application/json": {
                            "schema": _object({"ok": {"type": "boolean"}, "height": _N})
                        }
                    },
                }
            },
        }
    },
    "/ready": {
        "get": {
            "summary": "Readiness: 200 once started and not catching up, 503 otherwise",
            "responses": {
                status: {
                    "description": description,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                {
                                    "ready": {"type": "boolean", "enum": [status == "200"]},
                                    "catching_up": _B,
                                    "height": _N,
                                }
                            )
                        }
                    },
                }
                for status, description in (("200", "Ready"), ("503", "Not ready"))
            },
        }
    },
}


def document(
    groups: Sequence[RouteGroup], served: Sequence[str] = (), behind_front: bool = False
) -> dict[str, Any]:
    """The document for `groups`, plus the operational routes among the `served` paths;
    `behind_front`: every operation can also get the front's own 503 and 504."""
    paths: dict[str, dict[str, Any]] = {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document"}},
            }
        }
    }
    paths.update({path: item for path, item in OPERATIONAL_PATHS.items() if path in served})
    schemas = dict(SCHEMAS)
    for group in groups:
        for path, item in group.paths.items():
            paths.setdefault(path, {}).update(item)
        schemas.update(group.schemas)
    if behind_front:
        paths = {path: _with_front_errors(item) for path, item in paths.items()}
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


def _with_front_errors(item: dict[str, Any]) -> dict[str, Any]:
    """A path item whose operations also list the front's answers (a route's own 503,
    the readiness probe's for one, keeps its description)."""
    result = dict(item)
    extra = _errors(FRONT_ERRORS)
    for method, operation in item.items():
        if method in OPERATIONS:
            result[method] = {**operation, "responses": {**extra, **operation["responses"]}}
    return result
