"""Reads of the exchange, invoices, governance proposals and platforms.

    GET /v1/exchange/books/{base}/{quote}[?levels=]   aggregated depth, best prices first
    GET /v1/exchange/quote?pay=&receive=&pay_amount=|receive_amount=  a swap's outcome now
    GET /v1/exchange/orders?owner=ADDR[&cursor=&limit=] an account's resting orders
    GET /v1/exchange/orders/{id}                      one resting order
    GET /v1/invoices?merchant=ADDR[&cursor=&limit=]   a merchant's invoices, oldest first
    GET /v1/invoices/{id}
    GET /v1/governance/proposals[?cursor=&limit=]
    GET /v1/governance/proposals/{id}
    GET /v1/platforms                                 every platform with its commission
                                                      and refund share

Accounts are pasar1 addresses, ids and hashes hex. A book may be asked for in
either coin order; the answer names the market's real base and quote. "expired"
statuses are computed against the time of the latest committed block. Pages
carry `next_cursor` (null at the end) to send back as `cursor`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contracts import exchange, governance, roles
from contracts import invoice as invoices
from contracts.amounts import MAX_AMOUNT, MAX_COMMISSION_BPS
from contracts.coin import SYMBOL_PATTERN
from ledger.chainstore import read_block, read_genesis
from ledger.errors import InvalidTransaction
from ledger.execution import BlockInfo
from ledger.keys import address_to_text
from ledger.kv import KVReader
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
from node.rpc.params import parse_address, parse_hash, parse_int
from node.service import NodeService

MAX_PAGE = 200
MAX_LEVELS = 200


def _address(value: bytes | None) -> str | None:
    return None if value is None else address_to_text(value)


def order_json(order: exchange.Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "owner": address_to_text(order.owner),
        "base": order.base,
        "quote": order.quote,
        "side": order.side,
        "price": order.price,
        "quantity": order.quantity,
        "remaining": order.remaining,
        "locked": order.locked,
        "locked_symbol": order.locked_symbol,
        "height": order.height,
        "time_ms": order.time_ms,
    }


def invoice_json(item: invoices.Invoice, now_ms: int) -> dict[str, Any]:
    return {
        "id": item.id.hex(),
        "number": item.number,
        "merchant": address_to_text(item.merchant),
        "symbol": item.symbol,
        "amount": item.amount,
        "expiry_ms": item.expiry_ms,
        "reference": item.reference,
        "metadata": item.metadata.hex(),
        "platform": _address(item.platform),
        "commission_bps": item.commission_bps,
        "created_ms": item.created_ms,
        "status": item.status_at(now_ms),
        "payer": _address(item.payer),
        "paid_ms": item.paid_ms,
        "pay_symbol": item.pay_symbol,
        "pay_amount": item.pay_amount,
        "commission": item.commission,
        "refunded": item.refunded,
        "refund_share_bps": item.refund_share_bps,
        "commission_returned": item.commission_returned,
    }


def _param_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return address_to_text(value) if len(value) == 32 else value.hex()
    return value


def proposal_json(item: governance.Proposal, now_ms: int) -> dict[str, Any]:
    return {
        "id": item.id,
        "action": item.action,
        "params": [_param_json(value) for value in item.params],
        "proposer": address_to_text(item.proposer),
        "created_height": item.created_height,
        "expiry_ms": item.expiry_ms,
        "approvals": [address_to_text(account) for account in item.approvals],
        "status": item.status_at(now_ms),
        "executed_height": item.executed_height,
    }


def latest_time_ms(service: NodeService) -> int:
    """Block time of the newest committed block (genesis time before the first)."""
    store = service.store
    head = service.head()
    block = read_block(store, head.height) if head.height > 0 else None
    if block is not None:
        return block.header.timestamp_ms
    genesis = read_genesis(store)
    return 0 if genesis is None else genesis.genesis_time_ms


def _symbol(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not SYMBOL_PATTERN.fullmatch(value):
        raise bad_request("bad_symbol", f"{name} is not a coin symbol", name)
    return value


def _limit(request: web.Request) -> int:
    return parse_int(request.query.get("limit", "50"), "limit", 1, MAX_PAGE)


def _int_cursor(request: web.Request) -> int:
    text = request.query.get("cursor", "")
    return parse_int(text, "cursor") if text else 0


def _required_address(request: web.Request, name: str, hint: str) -> bytes:
    text = request.query.get(name)
    if not text:
        raise bad_request("missing_parameter", hint, name)
    return parse_address(text, name)


async def get_book(request: web.Request) -> web.Response:
    base, quote = exchange.market_of(_symbol(request, "base"), _symbol(request, "quote"))
    levels = parse_int(request.query.get("levels", "20"), "levels", 1, MAX_LEVELS)
    store: KVReader = service_of(request).store

    def side(which: str) -> list[dict[str, int]]:
        return [
            {"price": price, "quantity": quantity, "orders": count}
            for price, quantity, count in exchange.depth(store, base, quote, which, levels)
        ]

    return json_response(
        {
            "base": base,
            "quote": quote,
            "price_scale": exchange.PRICE_SCALE,
            "bids": side(exchange.BUY),
            "asks": side(exchange.SELL),
        }
    )


def _quote_symbol(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not SYMBOL_PATTERN.fullmatch(value):
        raise bad_request("bad_symbol", f"{name} must be a coin symbol", name)
    return value


async def get_quote(request: web.Request) -> web.Response:
    pay = _quote_symbol(request, "pay")
    receive = _quote_symbol(request, "receive")
    pay_text = request.query.get("pay_amount")
    receive_text = request.query.get("receive_amount")
    if (pay_text is None) == (receive_text is None):
        raise bad_request(
            "bad_args", "give exactly one of pay_amount (exact in) or receive_amount (exact out)"
        )
    service = service_of(request)
    head = service.head()
    block = BlockInfo(service.chain_id, head.height + 1, latest_time_ms(service), bytes(32))
    try:
        if pay_text is not None:
            amount = parse_int(pay_text, "pay_amount", 1, MAX_AMOUNT)
            result = exchange.quote(service.store, block, pay, receive, pay_amount=amount)
        else:
            amount = parse_int(receive_text or "", "receive_amount", 1, MAX_AMOUNT)
            result = exchange.quote(service.store, block, pay, receive, receive_amount=amount)
    except InvalidTransaction as exc:
        # The swap would be refused: say why, with the code the transaction would get.
        raise bad_request(exc.code, exc.message) from None
    return json_response(
        {
            "pay_symbol": pay,
            "receive_symbol": receive,
            "mode": "exact_in" if pay_text is not None else "exact_out",
            "paid": result.paid,
            "received": result.received,
            "fills": result.fills,
            "height": head.height,
        }
    )


async def get_exchange_orders(request: web.Request) -> web.Response:
    owner = _required_address(request, "owner", "say whose orders: ?owner=ADDRESS")
    limit = _limit(request)
    page = exchange.orders_of(service_of(request).store, owner, _int_cursor(request), limit)
    next_cursor = str(page[-1].id) if len(page) == limit else None
    return json_response(
        {"orders": [order_json(item) for item in page], "next_cursor": next_cursor}
    )


async def get_exchange_order(request: web.Request) -> web.Response:
    order_id = parse_int(request.match_info["id"], "id", 1)
    found = exchange.load_order(service_of(request).store, order_id)
    if found is None:
        raise not_found("exchange_order_not_found", "no resting exchange order with this id")
    return json_response(order_json(found))


async def get_invoices(request: web.Request) -> web.Response:
    merchant = _required_address(request, "merchant", "say whose invoices: ?merchant=ADDRESS")
    limit = _limit(request)
    service = service_of(request)
    page = invoices.invoices_of(service.store, merchant, _int_cursor(request), limit)
    now_ms = latest_time_ms(service)
    next_cursor = str(page[-1].number) if len(page) == limit else None
    return json_response(
        {"invoices": [invoice_json(item, now_ms) for item in page], "next_cursor": next_cursor}
    )


async def get_invoice(request: web.Request) -> web.Response:
    invoice_id = parse_hash(request.match_info["id"], "id")
    service = service_of(request)
    found = invoices.load_invoice(service.store, invoice_id)
    if found is None:
        raise not_found("invoice_not_found", "no invoice with this id")
    return json_response(invoice_json(found, latest_time_ms(service)))


async def get_proposals(request: web.Request) -> web.Response:
    limit = _limit(request)
    service = service_of(request)
    page = governance.proposals(service.store, _int_cursor(request), limit)
    now_ms = latest_time_ms(service)
    next_cursor = str(page[-1].id) if len(page) == limit else None
    return json_response(
        {"proposals": [proposal_json(item, now_ms) for item in page], "next_cursor": next_cursor}
    )


async def get_proposal(request: web.Request) -> web.Response:
    proposal_id = parse_int(request.match_info["id"], "id", 1)
    service = service_of(request)
    found = governance.load_proposal(service.store, proposal_id)
    if found is None:
        raise not_found("proposal_not_found", "no governance proposal with this id")
    return json_response(proposal_json(found, latest_time_ms(service)))


async def get_platforms(request: web.Request) -> web.Response:
    store = service_of(request).store
    return json_response(
        {
            "platforms": [
                {
                    "account": address_to_text(account),
                    "name": name,
                    "commission_bps": bps,
                    "refund_share_bps": roles.refund_share_bps(store, account),
                }
                for account, name, bps in roles.platforms(store)
            ],
            "max_commission_bps": MAX_COMMISSION_BPS,
        }
    )


def register(app: web.Application) -> None:
    app.router.add_get("/v1/exchange/books/{base}/{quote}", get_book)
    app.router.add_get("/v1/exchange/quote", get_quote)
    app.router.add_get("/v1/exchange/orders", get_exchange_orders)
    app.router.add_get("/v1/exchange/orders/{id}", get_exchange_order)
    app.router.add_get("/v1/invoices", get_invoices)
    app.router.add_get("/v1/invoices/{id}", get_invoice)
    app.router.add_get("/v1/governance/proposals", get_proposals)
    app.router.add_get("/v1/governance/proposals/{id}", get_proposal)
    app.router.add_get("/v1/platforms", get_platforms)


_S = {"type": "string"}
_I = {"type": "integer"}
_NS = {"type": "string", "nullable": True}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _page(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return _object({name: {"type": "array", "items": item}, "next_cursor": _NS})


_LEVEL = _object({"price": _I, "quantity": _I, "orders": _I})
_ORDER = _object(
    {
        **{name: _S for name in ("owner", "base", "quote", "side", "locked_symbol")},
        **{
            name: _I
            for name in ("id", "price", "quantity", "remaining", "locked", "height", "time_ms")
        },
    }
)
_INVOICE = _object(
    {
        **{
            name: _S
            for name in (
                "id",
                "merchant",
                "symbol",
                "reference",
                "metadata",
                "status",
                "pay_symbol",
            )
        },
        **{name: _NS for name in ("platform", "payer")},
        **{
            name: _I
            for name in (
                "number",
                "amount",
                "expiry_ms",
                "commission_bps",
                "created_ms",
                "paid_ms",
                "pay_amount",
                "commission",
                "refunded",
                "refund_share_bps",
                "commission_returned",
            )
        },
    }
)
_PROPOSAL = _object(
    {
        "id": _I,
        "action": _S,
        "params": {"type": "array", "items": {}},
        "proposer": _S,
        "created_height": _I,
        "expiry_ms": _I,
        "approvals": {"type": "array", "items": _S},
        "status": {"type": "string", "enum": ["open", "executed", "expired"]},
        "executed_height": _I,
    }
)
SCHEMAS: dict[str, Any] = {
    "OrderBook": _object(
        {
            "base": _S,
            "quote": _S,
            "price_scale": _I,
            "bids": {"type": "array", "items": _LEVEL},
            "asks": {"type": "array", "items": _LEVEL},
        }
    ),
    "ExchangeOrder": _ORDER,
    "ExchangeOrderPage": _page("orders", _ORDER),
    "Invoice": _INVOICE,
    "InvoicePage": _page("invoices", _INVOICE),
    "Proposal": _PROPOSAL,
    "ProposalPage": _page("proposals", _PROPOSAL),
    "Quote": _object(
        {
            "pay_symbol": _S,
            "receive_symbol": _S,
            "mode": _S,
            "paid": _I,
            "received": _I,
            "fills": _I,
            "height": _I,
        }
    ),
    "Platforms": _object(
        {
            "platforms": {
                "type": "array",
                "items": _object(
                    {"account": _S, "name": _S, "commission_bps": _I, "refund_share_bps": _I}
                ),
            },
            "max_commission_bps": _I,
        }
    ),
}
_PAGE_PARAMS = page_params(MAX_PAGE, 50, {"type": "string", "pattern": "^[0-9]{0,19}$"})


def _paths() -> dict[str, dict[str, Any]]:
    return {
        "/v1/exchange/books/{base}/{quote}": {
            "get": get_operation(
                "Order book depth of a coin pair, best prices first (either coin order)",
                "OrderBook",
                [
                    path_param("base", SYMBOL, "coin symbol"),
                    path_param("quote", SYMBOL, "coin symbol"),
                    query_param(
                        "levels", integer(1, MAX_LEVELS), f"price levels per side, 1..{MAX_LEVELS}"
                    ),
                ],
            )
        },
        "/v1/exchange/quote": {
            "get": get_operation(
                "What a swap would pay and receive against the book now (400 with the "
                "swap's own code if it would be refused)",
                "Quote",
                [
                    query_param("pay", SYMBOL, "coin given", required=True),
                    query_param("receive", SYMBOL, "coin received", required=True),
                    query_param("pay_amount", integer(1, MAX_AMOUNT), "exact in: pay exactly this"),
                    query_param(
                        "receive_amount", integer(1, MAX_AMOUNT), "exact out: receive this"
                    ),
                ],
            )
        },
        "/v1/exchange/orders": {
            "get": get_operation(
                "An account's resting exchange orders, by id",
                "ExchangeOrderPage",
                [query_param("owner", ADDRESS, "owner address", required=True), *_PAGE_PARAMS],
            )
        },
        "/v1/exchange/orders/{id}": {
            "get": get_operation(
                "One resting exchange order",
                "ExchangeOrder",
                [path_param("id", integer(1), "order id")],
            )
        },
        "/v1/invoices": {
            "get": get_operation(
                "A merchant's invoices, oldest first (cursor pagination)",
                "InvoicePage",
                [
                    query_param("merchant", ADDRESS, "the merchant's address", required=True),
                    *_PAGE_PARAMS,
                ],
            )
        },
        "/v1/invoices/{id}": {
            "get": get_operation(
                "One invoice", "Invoice", [path_param("id", HASH, "64 hex digits")]
            )
        },
        "/v1/governance/proposals": {
            "get": get_operation("Governance proposals by id", "ProposalPage", _PAGE_PARAMS)
        },
        "/v1/governance/proposals/{id}": {
            "get": get_operation(
                "One governance proposal", "Proposal", [path_param("id", integer(1), "proposal id")]
            )
        },
        "/v1/platforms": {
            "get": get_operation("Every platform and its commission rate", "Platforms")
        },
    }


GROUP = RouteGroup("exchange", register, _paths(), SCHEMAS)
