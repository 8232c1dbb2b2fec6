"""Proof bundles over HTTP: a transaction, an account or any state key, provable offline.

`GET /v1/txs/{hash}?prove=true` and `GET /v1/accounts/{address}?prove=true` are
answered here (their plain forms live in routes_txs / routes_chain, which hand
over when `prove` is set); `GET /v1/state/{key}` is this module's own. Every
answer carries `bundle`: the hex of a canonical TxBundle or StateBundle
(docs/protocol.md §10) that `pasar verify` or any client checks against the
genesis validator set, or against a set it trusts from `trusted_height` on;
with `skip=true` the set changes since then are crossed by skipping where the
trusted set allows it (ledger.prover.validator_changes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from aiohttp import web

from contracts.coin import balance_key, balances_of
from ledger.block import BlockHeader
from ledger.bundle import StateBundle, TrustStep, TxBundle, ValidatorSkip
from ledger.chainstore import read_head
from ledger.execution import nonce_key
from ledger.keys import address_to_text
from ledger.prover import ProofUnavailable, state_bundle, tx_bundle
from node.rpc.app import RouteGroup, service_of
from node.rpc.errors import ApiError, bad_request
from node.rpc.jsonbody import json_response
from node.rpc.openapi import (
    SYMBOL_PATTERN,
    _object,
    get_operation,
    integer,
    nullable,
    path_param,
    query_param,
)
from node.rpc.params import parse_hex, parse_int
from node.rpc.render import receipt_json
from node.service import NodeService

MAX_KEY_BYTES = 1024
MAX_SYMBOLS = 32
_SYMBOL = SYMBOL_PATTERN.strip("^$")
_SYMBOL_TEXT = re.compile(_SYMBOL)
_KEY_PATTERN = f"^(?:[0-9a-fA-F]{{2}}){{1,{MAX_KEY_BYTES}}}$"
PROVE_PARAM = query_param(
    "prove",
    {"type": "string", "enum": ["true", "false", "1", "0"]},
    "true: answer with a proof bundle (ProofBundle)",
)
TRUSTED_PARAM = query_param(
    "trusted_height",
    integer(1),
    "with prove: the height from which the client trusts a validator set "
    "(default 1, the genesis set); only later set changes are included",
)

SKIP_PARAM = query_param(
    "skip",
    {"type": "string", "enum": ["true", "false", "1", "0"]},
    "with prove: cross validator-set changes with one skip (a header signed by a quorum of "
    "its own set and by more than a third of the trusted set) where the trusted set "
    "allows, instead of one header per change (docs/protocol.md §10)",
)

ACCOUNT_PARAMS = [
    PROVE_PARAM,
    TRUSTED_PARAM,
    SKIP_PARAM,
    query_param(
        "symbols",
        {
            "type": "string",
            "pattern": f"^(?:{_SYMBOL}(?:,{_SYMBOL}){{0,{MAX_SYMBOLS - 1}}})?$",
        },
        "with prove: coins to prove even if not held (IDR,GOLD)",
    ),
]


class Trust(NamedTuple):
    """What the client trusts (a set from `height` on) and how it follows changes."""

    height: int = 1
    skip: bool = False


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    if value is None or value in ("false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise bad_request("bad_parameter", f"{name} must be true or false", name)


def wants_proof(request: web.Request) -> bool:
    # The proof parameters are checked even without prove=true: a request the
    # document calls invalid is refused, never silently half-read.
    trust_of(request)
    parse_symbols(request)
    return _flag(request, "prove")


def trust_of(request: web.Request) -> Trust:
    height = parse_int(request.query.get("trusted_height", "1"), "trusted_height", low=1)
    return Trust(height, _flag(request, "skip"))


def unavailable(exc: ProofUnavailable) -> ApiError:
    return ApiError(404, exc.code, exc.message)


def _envelope(
    service: NodeService,
    header: BlockHeader,
    raw: bytes,
    trusted: Trust,
    changes: Sequence[TrustStep],
) -> dict[str, Any]:
    head = read_head(service.store)
    return {
        "height": header.height,
        "block_hash": header.hash.hex(),
        "state_root": header.state_root.hex(),
        # The certificate of block h is final once h+1 carries it; before that it is
        # this node's own quorum (valid, but not the one history will record).
        "certificate": "next_block"
        if head is not None and head.height > header.height
        else "pending",
        "trusted_height": trusted.height,
        "validator_changes": len(changes),
        "validator_skips": sum(1 for step in changes if isinstance(step, ValidatorSkip)),
        "bundle": raw.hex(),
    }


def tx_proof_json(service: NodeService, tx_hash: bytes, trusted: Trust) -> dict[str, Any]:
    try:
        bundle: TxBundle = tx_bundle(service.store, tx_hash, trusted.height, trusted.skip)
    except ProofUnavailable as exc:
        raise unavailable(exc) from exc
    answer = _envelope(service, bundle.header, bundle.encode(), trusted, bundle.changes)
    answer.update(
        {
            "hash": tx_hash.hex(),
            "status": "committed" if bundle.receipt.ok else "rejected",
            "index": bundle.tx_proof.index,
            "receipt": receipt_json(bundle.receipt),
        }
    )
    return answer


def state_proof_json(service: NodeService, keys: list[bytes], trusted: Trust) -> dict[str, Any]:
    try:
        bundle: StateBundle = state_bundle(service.store, keys, trusted.height, trusted.skip)
    except ProofUnavailable as exc:
        raise unavailable(exc) from exc
    answer = _envelope(service, bundle.header, bundle.encode(), trusted, bundle.changes)
    answer["values"] = [
        {"key": proof.key.hex(), "value": None if proof.value is None else proof.value.hex()}
        for proof in bundle.proofs
    ]
    return answer


def account_proof_json(
    service: NodeService, account: bytes, symbols: list[str], trusted: Trust
) -> dict[str, Any]:
    """The account's nonce and balances, each proven; `symbols` adds coins to prove
    even if absent (a zero balance is an absent key), since a proof per key cannot
    show that no other coin is held."""
    held = [symbol for symbol, _ in balances_of(service.store, account)]
    wanted = sorted(set(held) | set(symbols))
    keys = [nonce_key(account), *(balance_key(account, symbol) for symbol in wanted)]
    answer = state_proof_json(service, keys, trusted)
    answer["address"] = address_to_text(account)
    answer["proven_symbols"] = wanted
    return answer


def parse_symbols(request: web.Request) -> list[str]:
    """Comma-separated coin symbols, exactly as the `symbols` parameter's pattern says."""
    text = request.query.get("symbols", "")
    symbols = text.split(",") if text else []
    if len(symbols) > MAX_SYMBOLS or not all(_SYMBOL_TEXT.fullmatch(item) for item in symbols):
        raise bad_request(
            "bad_parameter",
            f"symbols: at most {MAX_SYMBOLS} coin symbols, separated by commas",
            "symbols",
        )
    return symbols


async def get_state(request: web.Request) -> web.Response:
    """A raw state key's value; with prove=true, its value or absence, proven."""
    service = service_of(request)
    key = parse_hex(request.match_info["key"], "key")
    if not key or len(key) > MAX_KEY_BYTES:
        raise bad_request("bad_parameter", f"key must be 1..{MAX_KEY_BYTES} bytes", "key")
    if wants_proof(request):
        return json_response(state_proof_json(service, [key], trust_of(request)))
    value = service.store.get(key)
    return json_response(
        {
            "key": key.hex(),
            "value": None if value is None else value.hex(),
            "height": service.head().height,
        }
    )


def register(app: web.Application) -> None:
    app.router.add_get("/v1/state/{key}", get_state)


_BUNDLE_FIELDS = {
    "height": {"type": "integer"},
    "block_hash": {"type": "string"},
    "state_root": {"type": "string"},
    "certificate": {"type": "string", "enum": ["next_block", "pending"]},
    "trusted_height": {"type": "integer"},
    "validator_changes": {"type": "integer"},
    "validator_skips": {"type": "integer"},
    "bundle": {"type": "string", "description": "hex of a TxBundle or StateBundle"},
    "hash": {"type": "string"},
    "status": {"type": "string"},
    "index": {"type": "integer"},
    "receipt": {"type": "object"},
    "values": {"type": "array", "items": {"type": "object"}},
    "address": {"type": "string"},
    "proven_symbols": {"type": "array", "items": {"type": "string"}},
    "key": {"type": "string"},
    "value": nullable({"type": "string"}),
}

GROUP = RouteGroup(
    "proofs",
    register,
    {
        "/v1/state/{key}": {
            "get": get_operation(
                "A state key's value (hex); with prove=true, its value or absence, proven",
                "ProofBundle",
                [
                    path_param(
                        "key",
                        {"type": "string", "pattern": _KEY_PATTERN},
                        "the state key's bytes in hex",
                    ),
                    PROVE_PARAM,
                    TRUSTED_PARAM,
                    SKIP_PARAM,
                ],
            )
        }
    },
    {"ProofBundle": _object(_BUNDLE_FIELDS, ("height",))},
)
