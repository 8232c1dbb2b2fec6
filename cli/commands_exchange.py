"""`pasar tx exchange|invoice|payment|platform|governance|redeem ...` and their queries.

Amounts are integers in minor units. Exchange prices are given as decimals of
quote units per base unit (`--price 2.5`) and converted exactly, without floats,
to the on-chain integer price (quote minor units per 10^8 base minor units).
`tx invoice pay` without `--with` pays in the invoice's own coin; with another
coin it swaps in the same transaction, spending at most `--max-pay`.

Importing this module adds the commands to the shared `tx` and `query` groups.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import click

from cli.client import NodeClient
from cli.commands_commerce import parse_duration, parse_id
from cli.common import CliError, Output, json_option, keys_dir_option, node_url_option
from cli.display import Display, iso_time
from cli.query_commands import query
from cli.signing import resolve_account
from cli.tx_commands import SendOptions, send, send_options, tx
from contracts.exchange import PRICE_SCALE
from ledger.keys import address_to_text

PRICE_DECIMALS = len(str(PRICE_SCALE)) - 1
_DECIMAL = re.compile(r"(\d+)(?:\.(\d+))?")


def parse_price(text: str) -> int:
    """A decimal price such as `2.5` as the integer on-chain price (exact, no floats)."""
    match = _DECIMAL.fullmatch(text.strip())
    if match is None:
        raise CliError(f"price {text!r}: use a decimal number such as 2.5")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > PRICE_DECIMALS:
        raise CliError(f"price {text!r}: at most {PRICE_DECIMALS} decimal places")
    price = int(whole) * PRICE_SCALE + int(fraction.ljust(PRICE_DECIMALS, "0") or "0")
    if price <= 0:
        raise CliError("price must be positive")
    return price


def format_price(price: int) -> str:
    whole, fraction = divmod(price, PRICE_SCALE)
    digits = str(fraction).rjust(PRICE_DECIMALS, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def parse_int_id(text: str, what: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise CliError(f"{what} must be a positive integer")
    return int(text)


# --- pasar tx exchange ---------------------------------------------------------------------


@tx.group("exchange")
def exchange_tx() -> None:
    """Trade platform coins on the on-chain order book."""


@exchange_tx.command("order")
@send_options
@click.option("--base", required=True, help="the symbol that sorts first of the pair")
@click.option("--quote", required=True, help="the other symbol of the pair")
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True)
@click.option("--price", required=True, help="quote units per base unit, e.g. 2.5")
@click.option("--quantity", type=click.IntRange(1), required=True, help="base minor units")
def exchange_order(
    options: SendOptions, base: str, quote: str, side: str, price: str, quantity: int
) -> None:
    """Place a limit order (exchange.order); what does not fill at once rests, locked."""
    send(options, "exchange.order", (base, quote, side, parse_price(price), quantity))


@exchange_tx.command("cancel")
@send_options
@click.argument("order_id")
def exchange_cancel(options: SendOptions, order_id: str) -> None:
    """Cancel a resting order and get its locked funds back (exchange.cancel)."""
    send(options, "exchange.cancel", (parse_int_id(order_id, "ORDER_ID"),))


@exchange_tx.command("swap")
@send_options
@click.option("--pay", "pay_symbol", required=True, help="coin you give")
@click.option("--receive", "receive_symbol", required=True, help="coin you get")
@click.option("--amount", type=click.IntRange(1), help="exact out: how much to receive")
@click.option("--max-pay", type=click.IntRange(1), help="exact out: most you will give")
@click.option("--pay-amount", type=click.IntRange(1), help="exact in: how much to give")
@click.option("--min-receive", type=click.IntRange(0), help="exact in: least you will take")
def exchange_swap(
    options: SendOptions,
    pay_symbol: str,
    receive_symbol: str,
    amount: int | None,
    max_pay: int | None,
    pay_amount: int | None,
    min_receive: int | None,
) -> None:
    """Swap at the book's prices, all or nothing: receive exactly --amount for at most
    --max-pay (exchange.swap), or pay exactly --pay-amount for at least --min-receive
    (exchange.swap_exact_in)."""
    exact_out = amount is not None and max_pay is not None
    exact_in = pay_amount is not None and min_receive is not None
    if exact_out == exact_in or (exact_out and (pay_amount, min_receive) != (None, None)):
        raise CliError("give --amount with --max-pay, or --pay-amount with --min-receive")
    if exact_out:
        send(options, "exchange.swap", (pay_symbol, receive_symbol, amount, max_pay))
    else:
        args = (pay_symbol, receive_symbol, pay_amount, min_receive)
        send(options, "exchange.swap_exact_in", args)


# --- pasar tx invoice ----------------------------------------------------------------------


@tx.group("invoice")
def invoice_tx() -> None:
    """Invoices: exact amounts in a settlement coin, paid once."""


@invoice_tx.command("create")
@send_options
@click.option("--asset", required=True, help="settlement coin")
@click.option("--amount", type=click.IntRange(1), required=True)
@click.option("--expires-in", default="1h", show_default=True, help="e.g. 30m, 2h, 3d")
@click.option("--expiry-time-ms", type=click.IntRange(1), default=None, help="absolute expiry")
@click.option("--reference", default="", help="your order reference")
@click.option("--metadata", default="", help="free text stored with the invoice")
@click.option("--platform", default=None, help="platform whose commission applies")
def invoice_create(
    options: SendOptions,
    asset: str,
    amount: int,
    expires_in: str,
    expiry_time_ms: int | None,
    reference: str,
    metadata: str,
    platform: str | None,
) -> None:
    """Invoice an exact amount (invoice.create); the invoice id is the tx hash."""
    expiry = expiry_time_ms or int(time.time() * 1000) + parse_duration(expires_in)
    args: list[Any] = [asset, amount, expiry, reference, metadata.encode()]
    if platform is not None:
        args.append(options.account(platform, "--platform"))
    send(options, "invoice.create", tuple(args))


@invoice_tx.command("pay")
@send_options
@click.argument("invoice_id")
@click.option("--with", "pay_symbol", default=None, help="coin to pay in (default: invoice's)")
@click.option("--max-pay", type=click.IntRange(1), default=None, help="most you will spend")
def invoice_pay(
    options: SendOptions, invoice_id: str, pay_symbol: str | None, max_pay: int | None
) -> None:
    """Pay an invoice in full (invoice.pay), swapping from another coin if asked."""
    raw_id = parse_id(invoice_id, "INVOICE_ID")
    if pay_symbol is None or max_pay is None:
        invoice = options.client().request("GET", f"/v1/invoices/{raw_id.hex()}")
        if pay_symbol is None:
            pay_symbol = str(invoice["symbol"])
        if max_pay is None:
            if pay_symbol != invoice["symbol"]:
                raise CliError("paying in another coin needs --max-pay (the most you will spend)")
            max_pay = int(invoice["amount"])
    send(options, "invoice.pay", (raw_id, pay_symbol, max_pay))


@invoice_tx.command("refund")
@send_options
@click.argument("invoice_id")
@click.option("--amount", type=click.IntRange(1), required=True)
@click.option("--reason", default=None)
def invoice_refund(options: SendOptions, invoice_id: str, amount: int, reason: str | None) -> None:
    """Refund part or all of a paid invoice to its payer (invoice.refund)."""
    args: list[Any] = [parse_id(invoice_id, "INVOICE_ID"), amount]
    if reason is not None:
        args.append(reason)
    send(options, "invoice.refund", tuple(args))


@invoice_tx.command("cancel")
@send_options
@click.argument("invoice_id")
def invoice_cancel(options: SendOptions, invoice_id: str) -> None:
    """Withdraw an unpaid invoice (invoice.cancel)."""
    send(options, "invoice.cancel", (parse_id(invoice_id, "INVOICE_ID"),))


# --- pasar tx payment / platform / governance ----------------------------------------------


@tx.group("payment")
def payment_tx() -> None:
    """Payments through a platform, with its commission."""


@payment_tx.command("pay")
@send_options
@click.option("--platform", required=True, help="platform the sale goes through")
@click.option("--seller", required=True)
@click.option("--asset", required=True)
@click.option("--amount", type=click.IntRange(1), required=True, help="what the buyer pays")
@click.option("--reference", default="")
def payment_pay(
    options: SendOptions, platform: str, seller: str, asset: str, amount: int, reference: str
) -> None:
    """Pay a seller; the platform's commission comes out of the seller's part (payment.pay)."""
    args = (
        options.account(platform, "--platform"),
        options.account(seller, "--seller"),
        asset,
        amount,
        reference,
    )
    send(options, "payment.pay", args)


@tx.group("platform")
def platform_tx() -> None:
    """What a platform does: issue its coin, set its commission, refund share and name."""


@platform_tx.command("create-coin")
@send_options
@click.argument("symbol")
@click.option("--name", required=True)
@click.option("--decimals", type=click.IntRange(0, 18), default=2, show_default=True)
@click.option("--cap", type=click.IntRange(1), required=True)
def platform_create_coin(
    options: SendOptions, symbol: str, name: str, decimals: int, cap: int
) -> None:
    """Create the platform's coin (platform.create_coin); mint it with `tx mint`."""
    send(options, "platform.create_coin", (symbol, name, decimals, cap))


@platform_tx.command("set-commission")
@send_options
@click.argument("bps", type=click.IntRange(0))
def platform_set_commission(options: SendOptions, bps: int) -> None:
    """Set the commission in basis points (platform.set_commission)."""
    send(options, "platform.set_commission", (bps,))


@platform_tx.command("set-refund-share")
@send_options
@click.argument("bps", type=click.IntRange(0))
def platform_set_refund_share(options: SendOptions, bps: int) -> None:
    """Publish the share (basis points) of the commission returned on refunds
    (platform.set_refund_share)."""
    send(options, "platform.set_refund_share", (bps,))


@platform_tx.command("set-name")
@send_options
@click.argument("name")
def platform_set_name(options: SendOptions, name: str) -> None:
    """Rename the platform (platform.set_name)."""
    send(options, "platform.set_name", (name,))


@tx.group("governance")
def governance_tx() -> None:
    """Validators decide platform roles and the validator set by 2/3 vote."""


@governance_tx.command("propose")
@send_options
@click.argument(
    "action",
    type=click.Choice(["grant_platform", "revoke_platform", "add_validator", "remove_validator"]),
)
@click.option("--account", required=True, help="the platform or validator concerned")
@click.option("--name", default=None, help="grant_platform: the platform's name")
@click.option("--commission-bps", type=click.IntRange(0), default=0, show_default=True)
@click.option("--effective-height", type=click.IntRange(1), default=None, help="validator changes")
@click.option("--expires-in", default="7d", show_default=True)
@click.option("--expiry-time-ms", type=click.IntRange(1), default=None, help="absolute expiry")
def governance_propose(
    options: SendOptions,
    action: str,
    account: str,
    name: str | None,
    commission_bps: int,
    effective_height: int | None,
    expires_in: str,
    expiry_time_ms: int | None,
) -> None:
    """Propose ACTION (governance.propose); your approval counts at once."""
    target = options.account(account, "--account")
    params: list[Any]
    if action == "grant_platform":
        if not name:
            raise CliError("grant_platform needs --name")
        params = [target, name, commission_bps]
    elif action == "revoke_platform":
        params = [target]
    else:
        if effective_height is None:
            raise CliError(f"{action} needs --effective-height (a future block height)")
        params = [target, effective_height]
    expiry = expiry_time_ms or int(time.time() * 1000) + parse_duration(expires_in)
    send(options, "governance.propose", (action, params, expiry))


@governance_tx.command("approve")
@send_options
@click.argument("proposal_id")
def governance_approve(options: SendOptions, proposal_id: str) -> None:
    """Approve a proposal (governance.approve); the 2/3-th approval executes it."""
    send(options, "governance.approve", (parse_int_id(proposal_id, "PROPOSAL_ID"),))


# --- queries -------------------------------------------------------------------------------


def _page_query(cursor: str | None, limit: int, **extra: str) -> dict[str, str]:
    params = {"limit": str(limit), **extra}
    if cursor:
        params["cursor"] = cursor
    return params


def _human_book(data: Any) -> list[str]:
    lines = [f"market {data['base']}/{data['quote']} (price = {data['quote']} per {data['base']})"]
    for level in reversed(data["asks"]):
        lines.append(
            f"  ask {format_price(level['price']):>16} {level['quantity']:>14} ({level['orders']})"
        )
    lines.append("  " + "-" * 40)
    for level in data["bids"]:
        lines.append(
            f"  bid {format_price(level['price']):>16} {level['quantity']:>14} ({level['orders']})"
        )
    return lines


def _human_order(item: Any, display: Display) -> list[str]:
    remaining = display.amount(item["remaining"], item["base"])
    quantity = display.amount(item["quantity"], item["base"])
    return [
        f"order {item['id']} {item['side']} {remaining} of {quantity}"
        f" at {format_price(item['price'])} {item['quote']} per {item['base']}"
        f" (locked {display.amount(item['locked'], item['locked_symbol'])}) by {item['owner']}"
    ]


def invoice_status(item: Any, now_ms: int) -> str:
    """The node judges expiry by its latest block's time, which stands still while the
    chain is idle; any later block is later than this clock, so an open invoice past its
    expiry can no longer be paid and reads `expired` at once."""
    if item["status"] == "open" and now_ms > item["expiry_ms"]:
        return "expired"
    return str(item["status"])


def _human_invoice(item: Any, display: Display) -> list[str]:
    now_ms = int(time.time() * 1000)
    lines = [
        f"invoice {item['id']}: {invoice_status(item, now_ms)}",
        f"  {display.amount(item['amount'], item['symbol'])} to {item['merchant']},"
        f" expires {iso_time(item['expiry_ms'])}",
        f"  reference {item['reference']!r}",
    ]
    if item["payer"]:
        paid = display.amount(item["pay_amount"], item["pay_symbol"])
        lines.append(
            f"  paid by {item['payer']} with {paid} on {iso_time(item['paid_ms'])};"
            f" commission {display.amount(item['commission'], item['symbol'])},"
            f" refunded {display.amount(item['refunded'], item['symbol'])}"
        )
    return lines


def _human_proposal(item: Any) -> list[str]:
    return [
        f"proposal {item['id']} {item['action']} {item['params']}: {item['status']}",
        f"  approvals {len(item['approvals'])}, expires {iso_time(item['expiry_ms'])}",
    ]


def _with_more(lines: list[str], page: Any, empty: str) -> list[str]:
    if page["next_cursor"]:
        lines.append(f"more: --cursor {page['next_cursor']}")
    return lines or [empty]


@query.command("book")
@click.argument("base")
@click.argument("quote")
@click.option("--levels", type=click.IntRange(1, 200), default=10, show_default=True)
@node_url_option
@json_option
def query_book(base: str, quote: str, levels: int, node_url: str, json_mode: bool) -> None:
    """The order book of a coin pair (either order), best prices first."""
    data = NodeClient(node_url).request(
        "GET", f"/v1/exchange/books/{base}/{quote}", query={"levels": str(levels)}
    )
    Output(json_mode).emit(data, _human_book)


@query.command("quote")
@click.option("--pay", "pay_symbol", required=True, help="coin you would give")
@click.option("--receive", "receive_symbol", required=True, help="coin you would get")
@click.option("--pay-amount", type=click.IntRange(1), help="exact in: give exactly this")
@click.option("--receive-amount", type=click.IntRange(1), help="exact out: receive this")
@node_url_option
@json_option
def query_quote(
    pay_symbol: str,
    receive_symbol: str,
    pay_amount: int | None,
    receive_amount: int | None,
    node_url: str,
    json_mode: bool,
) -> None:
    """What a swap would pay and receive against the book now."""
    if (pay_amount is None) == (receive_amount is None):
        raise CliError("give exactly one of --pay-amount or --receive-amount")
    params = {"pay": pay_symbol, "receive": receive_symbol}
    if pay_amount is not None:
        params["pay_amount"] = str(pay_amount)
    else:
        params["receive_amount"] = str(receive_amount)
    data = NodeClient(node_url).request("GET", "/v1/exchange/quote", query=params)
    Output(json_mode).emit(
        data,
        lambda d: [
            f"pay {d['paid']} {d['pay_symbol']}, receive {d['received']} {d['receive_symbol']}"
            f" ({d['fills']} fills, at height {d['height']})"
        ],
    )


@query.command("exchange-order")
@click.argument("order_id")
@node_url_option
@json_option
def query_exchange_order(order_id: str, node_url: str, json_mode: bool) -> None:
    """One resting exchange order."""
    path = f"/v1/exchange/orders/{parse_int_id(order_id, 'ORDER_ID')}"
    client = NodeClient(node_url)
    display = Display(client)
    Output(json_mode).emit(client.request("GET", path), lambda d: _human_order(d, display))


@query.command("exchange-orders")
@click.option("--owner", required=True, help="address or key name")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None)
@keys_dir_option
@node_url_option
@json_option
def query_exchange_orders(
    owner: str, limit: int, cursor: str | None, keys_dir: Path, node_url: str, json_mode: bool
) -> None:
    """An account's resting exchange orders."""
    address = address_to_text(resolve_account(owner, keys_dir, "--owner"))
    client = NodeClient(node_url)
    display = Display(client)
    data = client.request(
        "GET", "/v1/exchange/orders", query=_page_query(cursor, limit, owner=address)
    )
    Output(json_mode).emit(
        data,
        lambda page: _with_more(
            [line for item in page["orders"] for line in _human_order(item, display)],
            page,
            "no orders",
        ),
    )


@query.command("invoice")
@click.argument("invoice_id")
@node_url_option
@json_option
def query_invoice(invoice_id: str, node_url: str, json_mode: bool) -> None:
    """One invoice and its payment."""
    path = f"/v1/invoices/{parse_id(invoice_id, 'INVOICE_ID').hex()}"
    client = NodeClient(node_url)
    display = Display(client)
    Output(json_mode).emit(client.request("GET", path), lambda d: _human_invoice(d, display))


@query.command("invoices")
@click.option("--merchant", required=True, help="address or key name")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None)
@keys_dir_option
@node_url_option
@json_option
def query_invoices(
    merchant: str, limit: int, cursor: str | None, keys_dir: Path, node_url: str, json_mode: bool
) -> None:
    """A merchant's invoices, oldest first."""
    address = address_to_text(resolve_account(merchant, keys_dir, "--merchant"))
    client = NodeClient(node_url)
    display = Display(client)
    data = client.request("GET", "/v1/invoices", query=_page_query(cursor, limit, merchant=address))
    Output(json_mode).emit(
        data,
        lambda page: _with_more(
            [line for item in page["invoices"] for line in _human_invoice(item, display)],
            page,
            "no invoices",
        ),
    )


@query.command("proposal")
@click.argument("proposal_id")
@node_url_option
@json_option
def query_proposal(proposal_id: str, node_url: str, json_mode: bool) -> None:
    """One governance proposal."""
    path = f"/v1/governance/proposals/{parse_int_id(proposal_id, 'PROPOSAL_ID')}"
    Output(json_mode).emit(NodeClient(node_url).request("GET", path), _human_proposal)


@query.command("proposals")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None)
@node_url_option
@json_option
def query_proposals(limit: int, cursor: str | None, node_url: str, json_mode: bool) -> None:
    """Governance proposals by id."""
    data = NodeClient(node_url).request(
        "GET", "/v1/governance/proposals", query=_page_query(cursor, limit)
    )
    Output(json_mode).emit(
        data,
        lambda page: _with_more(
            [line for item in page["proposals"] for line in _human_proposal(item)],
            page,
            "no proposals",
        ),
    )


@query.command("platforms")
@node_url_option
@json_option
def query_platforms(node_url: str, json_mode: bool) -> None:
    """Every platform, its commission rate and its refund share."""
    data = NodeClient(node_url).request("GET", "/v1/platforms")
    Output(json_mode).emit(
        data,
        lambda d: (
            [
                f"{p['account']} {p['name']!r} commission {p['commission_bps']} bps,"
                f" returns {p['refund_share_bps']} bps of it on refunds"
                for p in d["platforms"]
            ]
            or ["no platforms"]
        ),
    )


# --- pasar tx redeem / query redemption(s), redemption-stats, issuance ---------------------


def _sha256_of_text(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@tx.group("redeem")
def redeem_tx() -> None:
    """Cash platform coins out to fiat through the issuing platform."""


@redeem_tx.command("set-terms")
@send_options
@click.option("--deadline", required=True, help="how long you take at most to pay (e.g. 2d)")
def redeem_set_terms(options: SendOptions, deadline: str) -> None:
    """Publish your redemption deadline (platform) (redeem.set_terms)."""
    send(options, "redeem.set_terms", (parse_duration(deadline),))


@redeem_tx.command("request")
@send_options
@click.option("--asset", "symbol", required=True, help="the platform coin to cash out")
@click.option("--amount", type=click.IntRange(1), required=True, help="minor units")
@click.option("--payout", required=True, help="bank details; only their sha256 is sent")
def redeem_request(options: SendOptions, symbol: str, amount: int, payout: str) -> None:
    """Ask the coin's issuing platform to pay AMOUNT out in fiat (redeem.request)."""
    send(options, "redeem.request", (symbol, amount, _sha256_of_text(payout)))


@redeem_tx.command("settle")
@send_options
@click.argument("redemption_id")
@click.option("--bank-ref", required=True, help="your transfer reference; its sha256 is sent")
def redeem_settle(options: SendOptions, redemption_id: str, bank_ref: str) -> None:
    """Mark a request paid (issuing platform): its coins are burned (redeem.settle)."""
    args = (parse_id(redemption_id, "REDEMPTION_ID"), _sha256_of_text(bank_ref))
    send(options, "redeem.settle", args)


@redeem_tx.command("reject")
@send_options
@click.argument("redemption_id")
@click.option("--reason", required=True)
def redeem_reject(options: SendOptions, redemption_id: str, reason: str) -> None:
    """Refuse a request (issuing platform): the coins go back (redeem.reject)."""
    send(options, "redeem.reject", (parse_id(redemption_id, "REDEMPTION_ID"), reason))


@redeem_tx.command("attest")
@send_options
@click.option("--asset", "symbol", required=True)
@click.option("--period", type=click.IntRange(1), required=True, help="e.g. 202611")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--hash", "digest", default=None, help="sha256 of the attestation (hex)")
@click.option("--uri", required=True, help="where the attestation can be read")
def redeem_attest(
    options: SendOptions,
    symbol: str,
    period: int,
    path: Path | None,
    digest: str | None,
    uri: str,
) -> None:
    """Publish a reserve attestation for a period (issuer) (redeem.attest)."""
    if (path is None) == (digest is None):
        raise CliError("give exactly one of --file or --hash")
    reserve = (
        hashlib.sha256(path.read_bytes()).digest() if path else parse_id(digest or "", "--hash")
    )
    send(options, "redeem.attest", (symbol, period, reserve, uri))


def _human_redemption(item: Any) -> list[str]:
    return [
        f"{item['id']} {item['state']} {item['amount']} {item['symbol']}"
        f" from {item['requester']} via {item['platform']} due {item['due_ms']}"
        + (f" ({item['reason']})" if item["reason"] else "")
    ]


@query.command("redemption")
@click.argument("redemption_id")
@node_url_option
@json_option
def query_redemption(redemption_id: str, node_url: str, json_mode: bool) -> None:
    """One redemption request."""
    path = f"/v1/redemptions/{parse_id(redemption_id, 'REDEMPTION_ID').hex()}"
    Output(json_mode).emit(NodeClient(node_url).request("GET", path), _human_redemption)


@query.command("redemptions")
@click.option("--requester", required=True, help="address or key name")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None)
@keys_dir_option
@node_url_option
@json_option
def query_redemptions(
    requester: str, limit: int, cursor: str | None, keys_dir: Path, node_url: str, json_mode: bool
) -> None:
    """An account's redemption requests, oldest first."""
    address = address_to_text(resolve_account(requester, keys_dir, "--requester"))
    params = {"requester": address, "limit": str(limit)}
    if cursor:
        params["cursor"] = cursor
    data = NodeClient(node_url).request("GET", "/v1/redemptions", query=params)
    Output(json_mode).emit(
        data,
        lambda d: (
            [line for item in d["redemptions"] for line in _human_redemption(item)]
            or ["no redemptions"]
        ),
    )


@query.command("redemption-stats")
@click.argument("platform")
@keys_dir_option
@node_url_option
@json_option
def query_redemption_stats(platform: str, keys_dir: Path, node_url: str, json_mode: bool) -> None:
    """How a platform pays out: its deadline, outstanding, settled and median settle time."""
    address = address_to_text(resolve_account(platform, keys_dir, "PLATFORM"))
    data = NodeClient(node_url).request("GET", f"/v1/platforms/{address}/redemptions")
    Output(json_mode).emit(
        data,
        lambda d: [
            f"deadline {d['deadline_ms']} ms; outstanding {d['outstanding_count']}"
            f" ({d['outstanding_amount']}); settled {d['settled_count']}"
            f" ({d['settled_volume']}), median {d['median_settle_ms']} ms;"
            f" rejected {d['rejected_count']}; returned {d['returned_count']}"
        ],
    )


@query.command("issuance")
@click.argument("symbol")
@node_url_option
@json_option
def query_issuance(symbol: str, node_url: str, json_mode: bool) -> None:
    """A coin's supply, burned by redemption, outstanding, and reserve attestations."""
    data = NodeClient(node_url).request("GET", f"/v1/issuance/{symbol}")
    Output(json_mode).emit(
        data,
        lambda d: [
            f"{d['symbol']} supply {d['supply']} burned by redemption"
            f" {d['burned_by_redemption']} outstanding {d['outstanding_redemptions']}",
            *[f"  {a['period']} {a['reserve_hash']} {a['uri']}" for a in d["attestations"]],
        ],
    )
