"""Reads of listings, orders (with their escrow state, evidence and sealed notes) and
arbiter fee schedules, straight from the committed store.

    GET /v1/listings?seller=ADDR[&cursor=&limit=]     a seller's listings, oldest first
    GET /v1/listings/{id}
    GET /v1/catalog[?cursor=&limit=]                  every listing, in id order (shop pages)
    GET /v1/orders?buyer=ADDR | seller=ADDR[&cursor=&limit=]
    GET /v1/orders/{id}                               the order/escrow, evidence, notes
    GET /v1/escrows/{id}                              the same document (an order is its escrow)
    GET /v1/arbiters/{address}                        a platform's published fee schedule
    GET /v1/sellers/{address}/record                  a seller's record and average rating
    GET /v1/redemptions?requester=ADDR[&cursor=&limit=] an account's redemption requests
    GET /v1/redemptions/{id}
    GET /v1/platforms/{address}/redemptions           how a platform pays out: terms, stats
    GET /v1/issuance/{symbol}[?after_period=]         supply, burned, outstanding, attestations

Accounts are rendered as pasar1 addresses, ids and hashes as hex. Pages carry
`next_cursor` (null at the end) to send back as `cursor`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from contracts import arbiter, escrow, listing, redemption, reputation
from contracts.coin import SYMBOL_PATTERN
from ledger.keys import address_to_text
from node.rpc.app import RouteGroup, service_of
from node.rpc.errors import bad_request, not_found
from node.rpc.jsonbody import json_response
from node.rpc.openapi import (
    ADDRESS,
    HASH,
    SYMBOL,
    get_operation,
    integer,
    page_params,
    path_param,
    query_param,
)
from node.rpc.params import parse_address, parse_hash, parse_hex, parse_int

MAX_PAGE = 200
CURSOR_BYTES = 8 + 32  # created_ms ‖ id: the position of an entry in its index

LISTING_ACCOUNTS = ("seller", "platform")
ORDER_ACCOUNTS = ("buyer", "seller", "platform", "arbiter", "disputed_by")


def _addresses(data: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Replace hex account fields with their address text, for people and clients."""
    for name in fields:
        value = data.get(name)
        if isinstance(value, str):
            data[name] = address_to_text(bytes.fromhex(value))
    return data


def listing_json(item: listing.Listing) -> dict[str, Any]:
    data = _addresses(item.to_json(), LISTING_ACCOUNTS)
    data["arbiters"] = [address_to_text(a) for a in item.arbiters]
    return data


def order_json(item: escrow.Order) -> dict[str, Any]:
    return _addresses(item.to_json(), ORDER_ACCOUNTS)


def _page_args(request: web.Request) -> tuple[bytes | None, int]:
    limit = parse_int(request.query.get("limit", "50"), "limit", 1, MAX_PAGE)
    text = request.query.get("cursor", "")
    cursor = parse_hex(text, "cursor", CURSOR_BYTES) if text else None
    return cursor, limit


def _cursor_text(cursor: bytes | None) -> str | None:
    return None if cursor is None else cursor.hex()


async def get_listings(request: web.Request) -> web.Response:
    seller_text = request.query.get("seller")
    if not seller_text:
        raise bad_request("missing_parameter", "say whose listings: ?seller=ADDRESS", "seller")
    seller = parse_address(seller_text, "seller")
    cursor, limit = _page_args(request)
    store = service_of(request).store
    page, next_cursor = listing.listings_by_seller(store, seller, cursor, limit)
    return json_response(
        {
            "listings": [listing_json(item) for item in page],
            "next_cursor": _cursor_text(next_cursor),
        }
    )


async def get_catalog(request: web.Request) -> web.Response:
    limit = parse_int(request.query.get("limit", "50"), "limit", 1, MAX_PAGE)
    text = request.query.get("cursor", "")
    cursor = parse_hex(text, "cursor", listing.LISTING_ID_SIZE) if text else None
    page, next_cursor = listing.all_listings(service_of(request).store, cursor, limit)
    return json_response(
        {
            "listings": [listing_json(item) for item in page],
            "next_cursor": _cursor_text(next_cursor),
        }
    )


async def get_listing(request: web.Request) -> web.Response:
    listing_id = parse_hash(request.match_info["id"], "id")
    found = listing.load_listing(service_of(request).store, listing_id)
    if found is None:
        raise not_found("listing_not_found", "no listing with this id")
    return json_response(listing_json(found))


ORDER_PARTIES = {
    "buyer": escrow.orders_by_buyer,
    "seller": escrow.orders_by_seller,
    "arbiter": escrow.orders_by_arbiter,
}


async def get_orders(request: web.Request) -> web.Response:
    given = [name for name in ORDER_PARTIES if request.query.get(name)]
    if len(given) != 1:
        raise bad_request(
            "missing_parameter",
            "say whose orders: exactly one of ?buyer=, ?seller= or ?arbiter=",
            "buyer",
        )
    (party,) = given
    account = parse_address(str(request.query[party]), party)
    cursor, limit = _page_args(request)
    page, next_cursor = ORDER_PARTIES[party](service_of(request).store, account, cursor, limit)
    return json_response(
        {"orders": [order_json(item) for item in page], "next_cursor": _cursor_text(next_cursor)}
    )


async def get_order(request: web.Request) -> web.Response:
    order_id = parse_hash(request.match_info["id"], "id")
    store = service_of(request).store
    found = escrow.load_order(store, order_id)
    if found is None:
        raise not_found("order_not_found", "no order with this id")
    data = order_json(found)
    data["evidence"] = [
        _addresses(record.to_json(), ("author",))
        for record in escrow.order_evidence(store, order_id)
    ]
    for_seller, for_arbiter = escrow.order_note(store, order_id)
    data["note"] = {
        "for_seller": None if for_seller is None else for_seller.hex(),
        "for_arbiter": None if for_arbiter is None else for_arbiter.hex(),
    }
    for_buyer, for_arbiter = escrow.shipping_note(store, order_id)
    data["shipping_note"] = {
        "for_buyer": None if for_buyer is None else for_buyer.hex(),
        "for_arbiter": None if for_arbiter is None else for_arbiter.hex(),
    }
    data["lines"] = [
        _addresses(line.to_json(), ("platform",)) for line in escrow.order_lines(store, found)
    ]
    rated = reputation.rating(store, order_id)
    data["rating"] = (
        None
        if rated is None
        else {"stars": rated[0], "review_hash": rated[1].hex(), "time_ms": rated[2]}
    )
    return json_response(data)


async def get_seller_record(request: web.Request) -> web.Response:
    seller = parse_address(request.match_info["address"])
    record = reputation.seller_record(service_of(request).store, seller)
    return json_response({"seller": address_to_text(seller), **record.to_json()})


async def get_arbiter(request: web.Request) -> web.Response:
    account = parse_address(request.match_info["address"])
    schedule = arbiter.load_schedule(service_of(request).store, account)
    if schedule is None:
        raise not_found("schedule_not_found", "this account has no published fee schedule")
    return json_response(_addresses(schedule.to_json(), ("arbiter",)))


REDEMPTION_ACCOUNTS = ("requester", "platform")


async def get_redemptions(request: web.Request) -> web.Response:
    requester_text = request.query.get("requester")
    if not requester_text:
        raise bad_request("missing_parameter", "say whose: ?requester=ADDRESS", "requester")
    requester = parse_address(requester_text, "requester")
    cursor, limit = _page_args(request)
    page, next_cursor = redemption.redemptions_of(
        service_of(request).store, requester, cursor, limit
    )
    return json_response(
        {
            "redemptions": [_addresses(item.to_json(), REDEMPTION_ACCOUNTS) for item in page],
            "next_cursor": _cursor_text(next_cursor),
        }
    )


async def get_redemption(request: web.Request) -> web.Response:
    redemption_id = parse_hash(request.match_info["id"], "id")
    found = redemption.load_redemption(service_of(request).store, redemption_id)
    if found is None:
        raise not_found("redemption_not_found", "no redemption with this id")
    return json_response(_addresses(found.to_json(), REDEMPTION_ACCOUNTS))


async def get_platform_redemptions(request: web.Request) -> web.Response:
    platform = parse_address(request.match_info["address"])
    summary = redemption.redemption_summary(service_of(request).store, platform)
    return json_response(_addresses(summary, ("platform",)))


async def get_issuance(request: web.Request) -> web.Response:
    symbol = request.match_info["symbol"]
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise bad_request("bad_symbol", "not a coin symbol", "symbol")
    after = parse_int(request.query.get("after_period", "0"), "after_period")
    store = service_of(request).store
    found = redemption.issuance(store, symbol)
    if found is None:
        raise not_found("asset_not_found", f"no coin {symbol}")
    found["attestations"] = redemption.attestations(store, symbol, after, MAX_PAGE)
    return json_response(_addresses(found, ("issuer",)))


def register(app: web.Application) -> None:
    app.router.add_get("/v1/listings", get_listings)
    app.router.add_get("/v1/listings/{id}", get_listing)
    app.router.add_get("/v1/catalog", get_catalog)
    app.router.add_get("/v1/orders", get_orders)
    app.router.add_get("/v1/orders/{id}", get_order)
    app.router.add_get("/v1/escrows/{id}", get_order)
    app.router.add_get("/v1/arbiters/{address}", get_arbiter)
    app.router.add_get("/v1/sellers/{address}/record", get_seller_record)
    app.router.add_get("/v1/redemptions", get_redemptions)
    app.router.add_get("/v1/redemptions/{id}", get_redemption)
    app.router.add_get("/v1/platforms/{address}/redemptions", get_platform_redemptions)
    app.router.add_get("/v1/issuance/{symbol}", get_issuance)


_PAGE_PARAMS = page_params(
    MAX_PAGE, 50, {"type": "string", "pattern": f"^(?:[0-9a-fA-F]{{{2 * CURSOR_BYTES}}})?$"}
)
_ID = [path_param("id", HASH, "64 hex digits")]
_S = {"type": "string"}
_I = {"type": "integer"}
_NS = {"type": "string", "nullable": True}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


_LISTING = _object(
    {
        "id": _S,
        "seller": _S,
        "title": _S,
        "sku": _S,
        "price": _I,
        "symbol": _S,
        "stock": _I,
        "platform": _NS,
        "arbiters": {"type": "array", "items": _S},
        "shipping_ms": _I,
        "protection_ms": _I,
        "franchise_program": _NS,
        "status": _S,
        "created_ms": _I,
        "updated_ms": _I,
        "sold": _I,
    }
)
_ORDER_FIELDS: dict[str, Any] = {
    name: _I
    for name in (
        "quantity",
        "unit_price",
        "amount",
        "held",
        "refunded",
        "released",
        "commission",
        "arbiter_fee",
        "commission_bps",
        "fee_bps",
        "min_fee",
        "max_fee",
        "ruling_ms",
        "protection_ms",
        "created_ms",
        "ship_by_ms",
        "shipped_ms",
        "release_at_ms",
        "disputed_ms",
        "rule_by_ms",
        "evidence_count",
    )
}
_ORDER_FIELDS.update(
    {
        "id": _S,
        "listing": _S,
        "buyer": _S,
        "seller": _S,
        "symbol": _S,
        "state": {"type": "string", "enum": list(escrow.OPEN_STATES + escrow.CLOSED_STATES)},
        "outcome": _S,
        "platform": _NS,
        "arbiter": _S,
        "tracking": _NS,
        "disputed_by": _NS,
        "franchise_program": _NS,
    }
)
_ORDER = _object(_ORDER_FIELDS)
_REDEMPTION = _object(
    {
        name: _I if name in ("amount", "created_ms", "due_ms", "closed_ms") else _S
        for name in (
            "id",
            "requester",
            "symbol",
            "platform",
            "amount",
            "payout_ref",
            "state",
            "created_ms",
            "due_ms",
            "closed_ms",
            "bank_ref",
            "reason",
        )
    }  # fmt: skip
)
_STATS_FIELDS = (
    "deadline_ms", "outstanding_count", "outstanding_amount", "settled_count",
    "settled_volume", "rejected_count", "returned_count", "median_settle_ms",
)  # fmt: skip

_RECORD_FIELDS = (
    "completed", "refunded", "cancelled", "disputes_won", "disputes_lost", "ratings", "stars",
)  # fmt: skip

SCHEMAS: dict[str, Any] = {
    "SellerRecord": _object(
        {
            "seller": _S,
            **{name: _I for name in _RECORD_FIELDS},
            "average_rating": {
                "type": "object",
                "nullable": True,
                "properties": {"numerator": _I, "denominator": _I},
            },
        }
    ),
    "Redemption": _REDEMPTION,
    "RedemptionPage": _object(
        {"redemptions": {"type": "array", "items": _REDEMPTION}, "next_cursor": _NS}
    ),
    "RedemptionStats": _object(
        {
            "platform": _S,
            **{name: _I for name in _STATS_FIELDS},
            # No deadline set, no settlement yet: null.
            "deadline_ms": {"type": "integer", "nullable": True},
            "median_settle_ms": {"type": "integer", "nullable": True},
        }
    ),
    "Issuance": _object(
        {
            "symbol": _S,
            "issuer": _S,
            "supply": _I,
            "burned_by_redemption": _I,
            "outstanding_redemptions": _I,
            "attestations": {"type": "array", "items": {"type": "object"}},
        }
    ),
    "Listing": _LISTING,
    "ListingPage": _object({"listings": {"type": "array", "items": _LISTING}, "next_cursor": _NS}),
    "Order": _ORDER,
    "OrderPage": _object({"orders": {"type": "array", "items": _ORDER}, "next_cursor": _NS}),
    "OrderDetail": _object(
        {
            **_ORDER_FIELDS,
            "evidence": {
                "type": "array",
                "items": _object({"author": _S, "time_ms": _I, "hash": _S, "uri": _S}),
            },
            "note": _object({"for_seller": _NS, "for_arbiter": _NS}),
            "rating": _object({"stars": _I, "review_hash": _S, "time_ms": _I}),
            "shipping_note": _object({"for_buyer": _NS, "for_arbiter": _NS}),
            "lines": {"type": "array", "items": {"type": "object"}},
        }
    ),
    "ArbiterSchedule": _object(
        {
            "arbiter": _S,
            "fee_bps": _I,
            "ruling_ms": _I,
            "coin_bounds": {
                "type": "array",
                "items": _object({"symbol": _S, "min_fee": _I, "max_fee": _I}),
            },
            "updated_ms": _I,
        }
    ),
}


def _paths() -> dict[str, dict[str, Any]]:
    return {
        "/v1/listings": {
            "get": get_operation(
                "A seller's listings, oldest first (cursor pagination)",
                "ListingPage",
                [query_param("seller", ADDRESS, "seller address", required=True), *_PAGE_PARAMS],
            )
        },
        "/v1/listings/{id}": {"get": get_operation("One listing", "Listing", _ID)},
        "/v1/catalog": {
            "get": get_operation(
                "Every listing (withdrawn ones too), in listing-id order (cursor pagination)",
                "ListingPage",
                page_params(MAX_PAGE, 50, {"type": "string", "pattern": "^(?:[0-9a-fA-F]{64})?$"}),
            )
        },
        "/v1/orders": {
            "get": get_operation(
                "A buyer's, a seller's or an arbiter's orders, oldest first (cursor pagination)",
                "OrderPage",
                [
                    query_param("buyer", ADDRESS, "the buyer's address (or seller, or arbiter)"),
                    query_param("seller", ADDRESS, "the seller's address (or buyer, or arbiter)"),
                    query_param("arbiter", ADDRESS, "the arbiter's address (or buyer, or seller)"),
                    *_PAGE_PARAMS,
                ],
            )
        },
        "/v1/orders/{id}": {
            "get": get_operation(
                "An order with its escrow state, evidence and sealed notes", "OrderDetail", _ID
            )
        },
        "/v1/escrows/{id}": {
            "get": get_operation("The escrow of an order (same as the order)", "OrderDetail", _ID)
        },
        "/v1/sellers/{address}/record": {
            "get": get_operation(
                "A seller's record from the chain: completed, refunded, cancelled, disputes"
                " won and lost, ratings (average as an exact fraction)",
                "SellerRecord",
                [path_param("address", ADDRESS, "pasar1... address or 64 hex digits")],
            )
        },
        "/v1/redemptions": {
            "get": get_operation(
                "An account's redemption requests, oldest first (cursor pagination)",
                "RedemptionPage",
                [query_param("requester", ADDRESS, "the requester's address", True), *_PAGE_PARAMS],
            )
        },
        "/v1/redemptions/{id}": {"get": get_operation("One redemption", "Redemption", _ID)},
        "/v1/platforms/{address}/redemptions": {
            "get": get_operation(
                "A platform's redemption terms and record (outstanding, settled, median time)",
                "RedemptionStats",
                [path_param("address", ADDRESS, "pasar1... address or 64 hex digits")],
            )
        },
        "/v1/issuance/{symbol}": {
            "get": get_operation(
                "A coin's supply, burned by redemption, outstanding, reserve attestations",
                "Issuance",
                [
                    path_param("symbol", SYMBOL, "coin symbol"),
                    query_param("after_period", integer(), "attestations after this period"),
                ],
            )
        },
        "/v1/arbiters/{address}": {
            "get": get_operation(
                "A platform's published arbiter fee schedule",
                "ArbiterSchedule",
                [path_param("address", ADDRESS, "pasar1... address or 64 hex digits")],
            )
        },
    }


GROUP = RouteGroup("commerce", register, _paths(), SCHEMAS)
