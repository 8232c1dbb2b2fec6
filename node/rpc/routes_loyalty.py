"""Reads of exclusive-coin groups and franchise program trees, from the committed store.

    GET /v1/loyalty/{symbol}           the group: rules, admins, members, programs, supply
    GET /v1/loyalty/{symbol}/members   just the members
    GET /v1/franchise/{id}             a program's tree: franchisor, sub-franchises,
                                       franchisees, each with its status
    GET /v1/franchise/{id}/status/{address}  may this account sell the program's
                                       products now, and if not every reason why

Accounts are pasar1 addresses, program ids hex. A status is "active" or
"suspended": a franchisee below its program's T1, or a sub-franchise whose owner
fell below its parent's T2 (and everything under it), is suspended until it holds
enough again.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts import coin, franchise, loyalty
from ledger.keys import address_to_text
from node.rpc.app import RouteGroup, service_of
from node.rpc.errors import bad_request, not_found
from node.rpc.jsonbody import json_response
from node.rpc.openapi import ADDRESS, HASH, SYMBOL, get_operation, path_param
from node.rpc.params import parse_address, parse_hash


def _symbol(request: web.Request) -> str:
    text = request.match_info["symbol"]
    if not coin.SYMBOL_PATTERN.fullmatch(text):
        raise bad_request("bad_symbol", "symbol must be 2-12 characters A-Z and 0-9", "symbol")
    return text


def _status(active: bool) -> str:
    return "active" if active else "suspended"


def group_json(store: Any, asset: coin.Asset, group: loyalty.Group) -> dict[str, Any]:
    return {
        "symbol": asset.symbol,
        "name": asset.name,
        "decimals": asset.decimals,
        "cap": asset.cap,
        "supply": asset.supply,
        "creator": address_to_text(group.creator),
        "admins": [address_to_text(a) for a in group.admins],
        "transfer_mode": group.transfer_mode,
        "rules": [{"symbol": s, "rate_bps": rate} for s, rate in group.rules],
        "block_reward": group.block_reward,
        "members": [address_to_text(m) for m in loyalty.group_members(store, asset.symbol)],
        "programs": [p.hex() for p in franchise.programs_of_coin(store, asset.symbol)],
    }


def tree_json(tree: franchise.ProgramTree) -> dict[str, Any]:
    program = tree.program
    return {
        "id": program.program_id.hex(),
        "symbol": program.symbol,
        "owner": address_to_text(program.owner),
        "parent": program.parent.hex() if program.parent else None,
        "depth": program.depth,
        "products": list(program.products),
        "t1": program.t1,
        "t2": program.t2,
        "royalty_bps": program.royalty_bps,
        "status": _status(tree.active),
        "franchisees": [
            {
                "account": address_to_text(f.account),
                "balance": f.balance,
                "status": _status(f.active),
            }
            for f in tree.franchisees
        ],
        "sub_franchises": [tree_json(sub) for sub in tree.subs],
    }


def _require_group(request: web.Request) -> tuple[Any, coin.Asset, loyalty.Group]:
    store = service_of(request).store
    symbol = _symbol(request)
    asset = coin.load_asset(store, symbol)
    group = loyalty.load_group(store, symbol)
    if asset is None or group is None:
        raise not_found("group_not_found", f"{symbol} is not an exclusive coin")
    return store, asset, group


async def get_group(request: web.Request) -> web.Response:
    store, asset, group = _require_group(request)
    return json_response(group_json(store, asset, group))


async def get_members(request: web.Request) -> web.Response:
    store, asset, _ = _require_group(request)
    members = loyalty.group_members(store, asset.symbol)
    return json_response({"symbol": asset.symbol, "members": [address_to_text(m) for m in members]})


async def get_program(request: web.Request) -> web.Response:
    program_id = parse_hash(request.match_info["id"], "id")
    tree = franchise.program_tree(service_of(request).store, program_id)
    if tree is None:
        raise not_found("program_not_found", "no franchise program with this id")
    return json_response(tree_json(tree))


async def get_franchisee_status(request: web.Request) -> web.Response:
    program_id = parse_hash(request.match_info["id"], "id")
    account = parse_address(request.match_info["address"])
    found = franchise.franchisee_status(service_of(request).store, program_id, account)
    if found is None:
        raise not_found("program_not_found", "no franchise program with this id")
    found["account"] = address_to_text(account)
    return json_response(found)


def register(app: web.Application) -> None:
    app.router.add_get("/v1/loyalty/{symbol}", get_group)
    app.router.add_get("/v1/loyalty/{symbol}/members", get_members)
    app.router.add_get("/v1/franchise/{id}", get_program)
    app.router.add_get("/v1/franchise/{id}/status/{address}", get_franchisee_status)


_S = {"type": "string"}
_I = {"type": "integer"}
_STATUS = {"type": "string", "enum": ["active", "suspended"]}
_SYMBOL = [path_param("symbol", SYMBOL, "the exclusive coin's symbol")]


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


SCHEMAS: dict[str, Any] = {
    "LoyaltyGroup": _object(
        {
            "symbol": _S,
            "name": _S,
            "decimals": _I,
            "cap": _I,
            "supply": _I,
            "creator": _S,
            "admins": {"type": "array", "items": _S},
            "transfer_mode": {"type": "string", "enum": list(loyalty.TRANSFER_MODES)},
            "rules": {"type": "array", "items": _object({"symbol": _S, "rate_bps": _I})},
            "block_reward": _I,
            "members": {"type": "array", "items": _S},
            "programs": {"type": "array", "items": _S},
        }
    ),
    "FranchiseeStatus": _object(
        {
            "program": _S,
            "account": _S,
            "franchisee": {"type": "boolean"},
            "active": {"type": "boolean"},
            "reasons": {"type": "array", "items": _S},
            "balance": _I,
            "t1": _I,
            "symbol": _S,
            "expelled": {"type": "object", "nullable": True},
            "closed": {"type": "object", "nullable": True},
            "suspended_sub": {"type": "string", "nullable": True},
        }
    ),
    "LoyaltyMembers": _object({"symbol": _S, "members": {"type": "array", "items": _S}}),
    "FranchiseProgram": _object(
        {
            "id": _S,
            "symbol": _S,
            "owner": _S,
            "parent": {"type": "string", "nullable": True},
            "depth": _I,
            "products": {"type": "array", "items": _S},
            "t1": _I,
            "t2": _I,
            "royalty_bps": _I,
            "status": _STATUS,
            "franchisees": {
                "type": "array",
                "items": _object({"account": _S, "balance": _I, "status": _STATUS}),
            },
            "sub_franchises": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/FranchiseProgram"},
            },
        }
    ),
}

PATHS: dict[str, dict[str, Any]] = {
    "/v1/loyalty/{symbol}": {
        "get": get_operation(
            "An exclusive coin's group: rules, admins, members, franchise programs",
            "LoyaltyGroup",
            _SYMBOL,
        )
    },
    "/v1/loyalty/{symbol}/members": {
        "get": get_operation("An exclusive coin's group members", "LoyaltyMembers", _SYMBOL)
    },
    "/v1/franchise/{id}": {
        "get": get_operation(
            "A franchise program's tree with every franchisee's and sub-franchise's status",
            "FranchiseProgram",
            [path_param("id", HASH, "64 hex digits")],
        )
    },
    "/v1/franchise/{id}/status/{address}": {
        "get": get_operation(
            "Whether an account may sell a program's products now, and every reason why not"
            " (program_closed, franchisee_expelled, not_franchisee, below_threshold,"
            " sub_franchise_suspended)",
            "FranchiseeStatus",
            [
                path_param("id", HASH, "64 hex digits"),
                path_param("address", ADDRESS, "pasar1... address or 64 hex digits"),
            ],
        )
    },
}

GROUP = RouteGroup("loyalty", register, PATHS, SCHEMAS)
