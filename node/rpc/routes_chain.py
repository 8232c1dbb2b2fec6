"""Reads of committed data: status, blocks, accounts, assets and validators.

Everything but `/v1/status` comes straight from the committed store, so these
answers are the same on every validator at the same height. A block (read,
decoded and rendered: tens of milliseconds for 2,000 transfers with their
receipts) is made on a thread, not on the event loop that also runs consensus
and admission; a committed block does not change under it.

`?transactions=summary` renders each transaction as its hash, sender, nonce,
method and result code only: what a client following the chain to match its own
submissions needs (a wallet, a merchant's reconciler, the load generator),
without the arguments, signatures and events that make up most of a full
block's bytes and of the node's time rendering it. `?wait=S` on a height not
committed yet long-polls for it (up to MAX_WAIT_SECONDS, in the same slots as
`GET /v1/txs/{hash}?wait=`): a client following the chain asks for the next
height and gets the block as it commits, without polling the status.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from contracts.coin import ASSET_PREFIX, Asset, balances_of
from ledger import codec
from ledger.block import max_faulty, quorum_size
from ledger.chainstore import (
    read_block,
    read_certificate,
    read_genesis,
    read_outcomes,
    read_receipts,
)
from ledger.execution import account_nonce
from ledger.genesis import Genesis
from ledger.keys import address_to_text
from ledger.validators import validators_at
from node.rpc import routes_proofs
from node.rpc.account_policy import account_policy_json
from node.rpc.app import RouteGroup, service_of
from node.rpc.errors import bad_request, not_found
from node.rpc.jsonbody import json_response
from node.rpc.limits import MAX_WAIT_SECONDS, WAIT_SCHEMA, client_of, gates_of, install
from node.rpc.openapi import (
    ADDRESS,
    get_operation,
    integer,
    page_params,
    path_param,
    query_param,
)
from node.rpc.params import parse_address, parse_int, parse_seconds
from node.rpc.render import block_json, block_summary_json
from node.rpc.values import to_json
from node.service import NodeService

MAX_PAGE = 500
MAX_CURSOR = 64


def status_json(service: NodeService) -> dict[str, Any]:
    status = service.status()
    return {
        "chain_id": status.chain_id,
        "node_id": address_to_text(status.node_id),
        "height": status.height,
        "last_block_hash": status.last_block_hash.hex(),
        "state_root": status.state_root.hex(),
        "view": status.view,
        "primary": None if status.primary is None else address_to_text(status.primary),
        "validator_count": len(status.validators),
        "peers_connected": status.peers_connected,
        "catching_up": status.catching_up,
        "mempool_size": status.mempool_size,
        "extra": dict(status.extra),
    }


async def get_status(request: web.Request) -> web.Response:
    return json_response(status_json(service_of(request)))


async def get_peers(request: web.Request) -> web.Response:
    status = service_of(request).status()
    return json_response(
        {
            "height": status.height,
            "peers": [
                {
                    "node_id": address_to_text(peer.node_id),
                    "name": peer.name,
                    "connected": peer.outbound or peer.inbound,
                    "outbound": peer.outbound,
                    "inbound": peer.inbound,
                    "height": peer.height,
                    "validator": peer.validator,
                    "frames_dropped": peer.frames_dropped,
                }
                for peer in status.peers
            ],
        }
    )


TRANSACTION_VIEWS = ("full", "summary")


def block_at(service: NodeService, height: int, view: str = "full") -> dict[str, Any]:
    block = read_block(service.store, height)
    if block is None:
        raise not_found("block_not_found", f"no committed block at height {height}")
    certificate = read_certificate(service.store, height)
    if view == "summary":
        outcomes, end_block = read_outcomes(service.store, height, len(block.transactions))
        return block_summary_json(block, outcomes, end_block, certificate)
    return block_json(block, read_receipts(service.store, height), certificate)


def block_answer(service: NodeService, height: int, view: str) -> web.Response:
    return json_response(block_at(service, height, view))


def transactions_view(request: web.Request) -> str:
    view = request.query.get("transactions", "full")
    if view not in TRANSACTION_VIEWS:
        raise bad_request(
            "bad_parameter", "transactions must be 'full' or 'summary'", "transactions"
        )
    return view


async def get_block(request: web.Request) -> web.Response:
    # Height 0 is the genesis state, which has no block: 404 like any height not committed.
    service = service_of(request)
    height = parse_int(request.match_info["height"], "height")
    view = transactions_view(request)
    wait = parse_seconds(request.query.get("wait"), "wait", MAX_WAIT_SECONDS)
    if wait > 0 and height > service.head().height:
        # A client following the chain asks for the next block and gets it as it
        # commits, instead of polling the height (GET /v1/txs/{hash}?wait= likewise)
        with gates_of(request).long_polls.slot(client_of(request)):
            await service.wait_for_height(height, wait)
    return await asyncio.to_thread(block_answer, service, height, view)


async def get_latest_block(request: web.Request) -> web.Response:
    service = service_of(request)
    view = transactions_view(request)
    height = service.head().height
    if height == 0:
        raise not_found("block_not_found", "no block has been committed yet")
    return await asyncio.to_thread(block_answer, service, height, view)


async def get_account(request: web.Request) -> web.Response:
    service = service_of(request)
    account = parse_address(request.match_info["address"])
    if routes_proofs.wants_proof(request):
        symbols, trusted = (
            routes_proofs.parse_symbols(request),
            routes_proofs.trust_of(request),
        )
        return json_response(routes_proofs.account_proof_json(service, account, symbols, trusted))
    store = service.store
    return json_response(
        {
            "address": address_to_text(account),
            "public_key": account.hex(),
            "nonce": account_nonce(store, account),
            "balances": {symbol: amount for symbol, amount in balances_of(store, account)},
            "policy": account_policy_json(store, account),
            "height": service.head().height,
        }
    )


def asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "symbol": asset.symbol,
        "name": asset.name,
        "decimals": asset.decimals,
        "issuer": address_to_text(asset.issuer),
        "cap": asset.cap,
        "supply": asset.supply,
        "policy": asset.policy,
    }


async def get_assets(request: web.Request) -> web.Response:
    """Assets in symbol order, a page at a time: pass `next_cursor` back as `cursor`."""
    service = service_of(request)
    limit = parse_int(request.query.get("limit", "100"), "limit", 1, MAX_PAGE)
    cursor = request.query.get("cursor", "")
    if len(cursor) > MAX_CURSOR:
        raise bad_request("bad_parameter", "cursor is too long", "cursor")
    assets: list[dict[str, Any]] = []
    next_cursor = None
    for key, value in service.store.iterate(ASSET_PREFIX):
        symbol = key[len(ASSET_PREFIX) :].decode()
        if cursor and symbol <= cursor:
            continue
        if len(assets) == limit:
            next_cursor = assets[-1]["symbol"]
            break
        assets.append(asset_json(Asset.from_list(codec.decode(value))))
    return json_response({"assets": assets, "next_cursor": next_cursor})


def genesis_json(genesis: Genesis) -> dict[str, Any]:
    """The genesis document: `hash` is block 1's `prev_hash`, over the `encoded` bytes."""
    return {
        "hash": genesis.hash.hex(),
        "chain_id": genesis.chain_id,
        "genesis_time_ms": genesis.genesis_time_ms,
        "validators": [
            {"address": address_to_text(key), "public_key": key.hex(), "name": name}
            for key, name in genesis.validators
        ],
        "app_state": to_json(genesis.app_state),
        "encoded": genesis.encode().hex(),
    }


async def get_genesis(request: web.Request) -> web.Response:
    genesis = read_genesis(service_of(request).store)
    if genesis is None:
        raise RuntimeError("the store has a head but no genesis")
    return json_response(genesis_json(genesis))


async def get_validators(request: web.Request) -> web.Response:
    service = service_of(request)
    store = service.store
    height = service.head().height + 1
    genesis = read_genesis(store)
    names = {} if genesis is None else dict(genesis.validators)
    validators = validators_at(store, height)
    return json_response(
        {
            "height": height,
            "validators": [
                {"address": address_to_text(key), "public_key": key.hex(), "name": names.get(key)}
                for key in validators
            ],
            "quorum": quorum_size(len(validators)),
            "max_faulty": max_faulty(len(validators)),
        }
    )


def register(app: web.Application) -> None:
    install(app)  # the long-poll slots of GET /v1/blocks/{height}?wait=
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/peers", get_peers)
    app.router.add_get("/v1/genesis", get_genesis)
    app.router.add_get("/v1/blocks/latest", get_latest_block)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/accounts/{address}", get_account)
    app.router.add_get("/v1/assets", get_assets)
    app.router.add_get("/v1/validators", get_validators)


def _get(
    summary: str, schema: str, parameters: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"get": get_operation(summary, schema, parameters or [])}


TRANSACTIONS_PARAM = query_param(
    "transactions",
    {"type": "string", "enum": list(TRANSACTION_VIEWS)},
    "full (default): each transaction with its arguments, signatures and receipt;"
    " summary: hash, sender, nonce, method, ok and code only",
)


WAIT_PARAM = query_param(
    "wait",
    WAIT_SCHEMA,
    f"long-poll: a block not committed yet is waited for up to this many seconds"
    f" (max {MAX_WAIT_SECONDS:g}), then 404 if it still is not",
)


def _paths() -> dict[str, dict[str, Any]]:
    block_by_height = {
        "operationId": "getBlock",
        "parameters": {"height": "$response.body#/height"},
    }
    return {
        "/v1/status": _get("Node and chain status", "Status"),
        "/v1/peers": _get("The other validators as this node sees them: links, heights", "Peers"),
        "/v1/genesis": _get("The genesis document; its hash is block 1's prev_hash", "Genesis"),
        "/v1/blocks/latest": {
            "get": get_operation(
                "The newest committed block",
                "Block",
                [TRANSACTIONS_PARAM],
                links={"SameBlock": block_by_height},
            )
        },
        "/v1/blocks/{height}": {
            "get": {
                **get_operation(
                    "A committed block with results and certificate",
                    "Block",
                    [
                        path_param("height", integer(), "block height, from 1"),
                        TRANSACTIONS_PARAM,
                        WAIT_PARAM,
                    ],
                    extra_errors=("503",),
                ),
                "operationId": "getBlock",
            }
        },
        "/v1/accounts/{address}": _get(
            "Balances per asset, the next nonce and the signing policy"
            " (with prove=true: a ProofBundle)",
            "AccountOrProof",
            [
                path_param("address", ADDRESS, "pasar1... address or 64 hex digits"),
                *routes_proofs.ACCOUNT_PARAMS,
            ],
        ),
        "/v1/assets": _get(
            "Assets in symbol order (cursor pagination)",
            "AssetPage",
            page_params(MAX_PAGE, 100, {"type": "string", "maxLength": MAX_CURSOR}),
        ),
        "/v1/validators": _get("The validator set for the next block", "Validators"),
    }


GROUP = RouteGroup("chain", register, _paths())
