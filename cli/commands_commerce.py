"""`pasar tx listing|order|escrow|arbiter ...` and `pasar query listing(s)|order(s)|escrow|arbiter`.

Durations take a unit (`90s`, `15m`, `2h`, `3d`) or plain milliseconds. Amounts
are in minor units. `tx order place --note TEXT` seals the note on this machine
to the seller's and the arbiter's keys (cli/notes.py) before anything is sent;
`query order ID --decrypt --from NAME` opens it again for the seller or arbiter.
A tracking reference or an evidence file is sent as its sha256, never in clear.

Importing this module adds the commands to the shared `tx` and `query` groups.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import click

from cli.client import NodeClient
from cli.common import (
    CliError,
    Output,
    hex_digits,
    json_option,
    keys_dir_option,
    node_url_option,
    passphrase_file_option,
)
from cli.display import Display, duration, iso_time
from cli.notes import NoteError, open_order_note, seal_for_order
from cli.query_commands import query
from cli.signing import load_key, resolve_account
from cli.tx_commands import SendOptions, send, send_options, tx
from contracts.amounts import MAX_AMOUNT
from contracts.arbiter import ArbiterTerms
from ledger.keys import address_from_text, address_to_text

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)?")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(text: str) -> int:
    """`90s`, `15m`, `2h`, `3d` or plain milliseconds, as milliseconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise CliError(f"duration {text!r}: use a number with s, m, h or d (e.g. 3d)")
    return int(match.group(1)) * _UNIT_MS[match.group(2) or "ms"]


def parse_id(text: str, what: str) -> bytes:
    """A 32-byte id as 64 hex digits, with or without the `0x` human output shows."""
    try:
        value = bytes.fromhex(hex_digits(text))
    except ValueError as exc:
        raise CliError(f"{what} must be 64 hex digits") from exc
    if len(value) != 32:
        raise CliError(f"{what} must be 64 hex digits")
    return value


def _bound(text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise CliError(f"--bound {text!r}: use SYMBOL:MIN_FEE:MAX_FEE")
    return [parts[0], int(parts[1]), int(parts[2])]


# --- pasar tx listing ----------------------------------------------------------------------


@tx.group("listing")
def listing_tx() -> None:
    """Create, update and withdraw listings."""


@listing_tx.command("create")
@send_options
@click.option("--title", required=True)
@click.option("--sku", required=True)
@click.option("--price", type=click.IntRange(1), required=True, help="per unit, minor units")
@click.option("--asset", required=True, help="coin symbol the price is in")
@click.option("--stock", type=click.IntRange(0), required=True)
@click.option("--platform", default=None, help="platform the sale goes through (commission)")
@click.option("--arbiter", "arbiters", multiple=True, required=True, help="accepted (repeat)")
@click.option("--shipping", default="3d", show_default=True, help="time to ship an order")
@click.option("--protection", default="7d", show_default=True, help="buyer-protection window")
@click.option("--franchise-program", default=None, help="program id (hex) for franchise sales")
def listing_create(
    options: SendOptions,
    title: str,
    sku: str,
    price: int,
    asset: str,
    stock: int,
    platform: str | None,
    arbiters: tuple[str, ...],
    shipping: str,
    protection: str,
    franchise_program: str | None,
) -> None:
    """List a product (listing.create); the listing id is in the listing.created event."""
    args: list[Any] = [
        title,
        sku,
        price,
        asset,
        stock,
        None if platform is None else options.account(platform, "--platform"),
        [options.account(a, "--arbiter") for a in arbiters],
        parse_duration(shipping),
        parse_duration(protection),
    ]
    if franchise_program is not None:
        args.append(parse_id(franchise_program, "--franchise-program"))
    send(options, "listing.create", tuple(args))


@listing_tx.command("update")
@send_options
@click.argument("listing_id")
@click.option("--title", default=None)
@click.option("--sku", default=None)
@click.option("--price", type=click.IntRange(1), default=None)
@click.option("--stock", type=click.IntRange(0), default=None, help="the new count")
@click.option("--platform", default=None)
@click.option("--no-platform", is_flag=True, help="sell through no platform from now on")
@click.option("--arbiter", "arbiters", multiple=True, help="replaces the accepted arbiters")
@click.option("--shipping", default=None)
@click.option("--protection", default=None)
def listing_update(
    options: SendOptions,
    listing_id: str,
    title: str | None,
    sku: str | None,
    price: int | None,
    stock: int | None,
    platform: str | None,
    no_platform: bool,
    arbiters: tuple[str, ...],
    shipping: str | None,
    protection: str | None,
) -> None:
    """Change some terms of a listing for future orders (listing.update)."""
    changes: list[list[Any]] = []
    for name, value in (("title", title), ("sku", sku), ("price", price), ("stock", stock)):
        if value is not None:
            changes.append([name, value])
    if platform is not None and no_platform:
        raise CliError("give --platform or --no-platform, not both")
    if platform is not None:
        changes.append(["platform", options.account(platform, "--platform")])
    if no_platform:
        changes.append(["platform", None])
    if arbiters:
        changes.append(["arbiters", [options.account(a, "--arbiter") for a in arbiters]])
    if shipping is not None:
        changes.append(["shipping_ms", parse_duration(shipping)])
    if protection is not None:
        changes.append(["protection_ms", parse_duration(protection)])
    if not changes:
        raise CliError("nothing to change: give at least one option")
    send(options, "listing.update", (parse_id(listing_id, "LISTING_ID"), changes))


@listing_tx.command("withdraw")
@send_options
@click.argument("listing_id")
def listing_withdraw(options: SendOptions, listing_id: str) -> None:
    """Stop selling a listing; open orders run to their end (listing.withdraw)."""
    send(options, "listing.withdraw", (parse_id(listing_id, "LISTING_ID"),))


# --- pasar tx order ------------------------------------------------------------------------


@tx.group("order")
def order_tx() -> None:
    """Place orders and carts, rate them."""


@order_tx.command("place")
@send_options
@click.argument("listing_id")
@click.option("--quantity", type=click.IntRange(1), default=1, show_default=True)
@click.option("--max-price", type=click.IntRange(1), default=None, help="default: current price")
@click.option("--arbiter", default=None, help="default: the listing's first arbiter")
@click.option("--note", default=None, help="e.g. the shipping address; sealed before sending")
def order_place(
    options: SendOptions,
    listing_id: str,
    quantity: int,
    max_price: int | None,
    arbiter: str | None,
    note: str | None,
) -> None:
    """Order from a listing: stock is taken and the payment is held in escrow (order.place)."""
    identifier = parse_id(listing_id, "LISTING_ID")
    needs_listing = max_price is None or arbiter is None or note is not None
    listing: dict[str, Any] = {}
    if needs_listing:
        if options.offline or options.unsigned:
            raise CliError("offline: give --max-price and --arbiter, and no --note")
        listing = options.client().request("GET", f"/v1/listings/{identifier.hex()}")
    price = int(listing["price"]) if max_price is None else max_price
    chosen = (
        address_from_text(listing["arbiters"][0])
        if arbiter is None
        else options.account(arbiter, "--arbiter")
    )
    args: list[Any] = [identifier, quantity, price, chosen]
    if note is not None:
        seller = address_from_text(listing["seller"])
        try:
            args.extend(seal_for_order(note.encode(), seller, chosen))
        except NoteError as exc:
            raise CliError(f"--note: {exc}") from exc
    send(options, "order.place", tuple(args))


def _cart_line(text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise CliError(f"--line {text!r}: use LISTING_ID:QUANTITY[:MAX_UNIT_PRICE]")
    listing_id = parse_id(parts[0], "--line LISTING_ID")
    try:
        numbers = [int(part) for part in parts[1:]]
    except ValueError as exc:
        raise CliError(f"--line {text!r}: quantity and price are integers") from exc
    if min(numbers) < 1:
        raise CliError(f"--line {text!r}: quantity and price are at least 1")
    return [listing_id, *numbers]


@order_tx.command("cart")
@send_options
@click.option("--line", "lines", multiple=True, required=True, help="LISTING:QTY[:MAX_PRICE]")
@click.option(
    "--arbiter", default=None, help="address or key name (default: the first listing's first)"
)
@click.option("--note", default=None, help="shipping address, sealed for the seller and arbiter")
def order_cart(
    options: SendOptions, lines: tuple[str, ...], arbiter: str | None, note: str | None
) -> None:
    """One order for several listings of one seller: one escrow, one shipment
    (order.place_cart). Without a max price a line accepts the listing's price now."""
    rows = [_cart_line(text) for text in lines]
    needs_listing = arbiter is None or note is not None or any(len(row) == 2 for row in rows)
    if needs_listing and (options.offline or options.unsigned):
        raise CliError("offline: give every line a max price, --arbiter, and no --note")
    first: dict[str, Any] = {}
    for row in rows if needs_listing else []:
        if len(row) == 2 or not first:
            listing = options.client().request("GET", f"/v1/listings/{row[0].hex()}")
            first = first or listing
            if len(row) == 2:
                row.append(int(listing["price"]))
    chosen = (
        address_from_text(first["arbiters"][0])
        if arbiter is None
        else options.account(arbiter, "--arbiter")
    )
    args: list[Any] = [rows, chosen]
    if note is not None:
        try:
            args.extend(seal_for_order(note.encode(), address_from_text(first["seller"]), chosen))
        except NoteError as exc:
            raise CliError(f"--note: {exc}") from exc
    send(options, "order.place_cart", tuple(args))


@order_tx.command("rate")
@send_options
@click.argument("order_id")
@click.option("--stars", type=click.IntRange(1, 5), required=True)
@click.option("--review", default="", help="review text; only its sha256 goes on the chain")
def order_rate(options: SendOptions, order_id: str, stars: int, review: str) -> None:
    """Rate an ended order once (its buyer) (order.rate)."""
    digest = hashlib.sha256(review.encode()).digest()
    send(options, "order.rate", (parse_id(order_id, "ORDER_ID"), stars, digest))


# --- pasar tx escrow -----------------------------------------------------------------------


@tx.group("escrow")
def escrow_tx() -> None:
    """Ship, confirm, refund, cancel, dispute, add evidence, rule."""


@escrow_tx.command("ship")
@send_options
@click.argument("order_id")
@click.option("--tracking", required=True, help="courier reference; its sha256 is recorded")
@click.option("--note", default=None, help="tracking details sealed for the buyer and arbiter")
def escrow_ship(options: SendOptions, order_id: str, tracking: str, note: str | None) -> None:
    """Mark an order shipped (seller); the protection window starts (escrow.ship)."""
    identifier = parse_id(order_id, "ORDER_ID")
    args: list[Any] = [identifier, hashlib.sha256(tracking.encode()).digest()]
    if note is not None:
        if options.offline or options.unsigned:
            raise CliError("offline: --note needs the order's buyer and arbiter from a node")
        order = options.client().request("GET", f"/v1/orders/{identifier.hex()}")
        buyer = address_from_text(order["buyer"])
        arbiter = address_from_text(order["arbiter"])
        try:
            args.extend(seal_for_order(note.encode(), buyer, arbiter))
        except NoteError as exc:
            raise CliError(f"--note: {exc}") from exc
    send(options, "escrow.ship", tuple(args))


@escrow_tx.command("confirm")
@send_options
@click.argument("order_id")
def escrow_confirm(options: SendOptions, order_id: str) -> None:
    """Confirm receipt (buyer): the seller is paid (escrow.confirm)."""
    send(options, "escrow.confirm", (parse_id(order_id, "ORDER_ID"),))


@escrow_tx.command("refund")
@send_options
@click.argument("order_id")
@click.option("--amount", type=click.IntRange(1), required=True, help="minor units")
def escrow_refund(options: SendOptions, order_id: str, amount: int) -> None:
    """Give back part or all of what is held (seller) (escrow.refund)."""
    send(options, "escrow.refund", (parse_id(order_id, "ORDER_ID"), amount))


@escrow_tx.command("cancel")
@send_options
@click.argument("order_id")
def escrow_cancel(options: SendOptions, order_id: str) -> None:
    """Call off an order that has not shipped (buyer or seller): full refund, stock back
    on the listing (escrow.cancel)."""
    send(options, "escrow.cancel", (parse_id(order_id, "ORDER_ID"),))


@escrow_tx.command("dispute")
@send_options
@click.argument("order_id")
def escrow_dispute(options: SendOptions, order_id: str) -> None:
    """Ask the order's arbiter to decide (buyer or seller) (escrow.dispute)."""
    send(options, "escrow.dispute", (parse_id(order_id, "ORDER_ID"),))


@escrow_tx.command("evidence")
@send_options
@click.argument("order_id")
@click.option("--uri", default=None, help="where the evidence can be seen")
@click.option("--hash", "digest", default=None, help="sha256 of the evidence (hex)")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def escrow_evidence(
    options: SendOptions, order_id: str, uri: str | None, digest: str | None, path: Path | None
) -> None:
    """Record evidence in a dispute: a URI, a hash, or a file's sha256 (escrow.evidence)."""
    given = [value for value in (uri, digest, path) if value is not None]
    if len(given) != 1:
        raise CliError("give exactly one of --uri, --hash or --file")
    item: bytes | str
    if uri is not None:
        item = uri
    elif digest is not None:
        item = parse_id(digest, "--hash")
    elif path is not None:
        item = hashlib.sha256(path.read_bytes()).digest()
    else:  # unreachable: exactly one was given
        raise CliError("give exactly one of --uri, --hash or --file")
    send(options, "escrow.evidence", (parse_id(order_id, "ORDER_ID"), item))


@escrow_tx.command("rule")
@send_options
@click.argument("order_id")
@click.option("--buyer-amount", type=click.IntRange(0), required=True)
@click.option("--seller-amount", type=click.IntRange(0), required=True)
def escrow_rule(options: SendOptions, order_id: str, buyer_amount: int, seller_amount: int) -> None:
    """Split what is held minus your fee (the order's arbiter) (escrow.rule).

    The two amounts must add up to held - fee; `pasar query order ID` shows both.
    """
    send(options, "escrow.rule", (parse_id(order_id, "ORDER_ID"), buyer_amount, seller_amount))


# --- pasar tx arbiter ----------------------------------------------------------------------


@tx.group("arbiter")
def arbiter_tx() -> None:
    """Publish or retire an arbiter fee schedule (platforms)."""


@arbiter_tx.command("publish")
@send_options
@click.option("--fee-bps", type=click.IntRange(0, 10_000), required=True)
@click.option("--ruling", default="3d", show_default=True, help="time to rule after a dispute")
@click.option("--bound", "bounds", multiple=True, help="SYMBOL:MIN_FEE:MAX_FEE (repeat)")
def arbiter_publish(
    options: SendOptions, fee_bps: int, ruling: str, bounds: tuple[str, ...]
) -> None:
    """Publish your fee schedule (arbiter.publish)."""
    args: tuple[Any, ...] = (fee_bps, parse_duration(ruling), [_bound(b) for b in bounds])
    send(options, "arbiter.publish", args)


@arbiter_tx.command("retire")
@send_options
def arbiter_retire(options: SendOptions) -> None:
    """Take no new orders as arbiter (arbiter.retire)."""
    send(options, "arbiter.retire", ())


# --- queries -------------------------------------------------------------------------------


def _human_listing(data: Any, display: Display) -> list[str]:
    return [
        f"listing {data['id']} ({data['status']})",
        f"  {data['title']} [{data['sku']}]  {display.amount(data['price'], data['symbol'])}",
        f"  stock {data['stock']}  sold {data['sold']}",
        f"  seller {data['seller']}",
        f"  platform {data['platform'] or '-'}  arbiters {', '.join(data['arbiters'])}",
        f"  ship within {duration(data['shipping_ms'])},"
        f" protection {duration(data['protection_ms'])}",
    ]


def arbiter_fee_line(data: Any, display: Display) -> str:
    """The arbiter's fee: what it took if it ruled, else what a ruling now would take."""
    symbol = data["symbol"]
    terms = f"{data['fee_bps']} bps"
    if data["min_fee"]:
        terms += f", min {display.amount(data['min_fee'], symbol)}"
    if data["max_fee"] < MAX_AMOUNT:
        terms += f", max {display.amount(data['max_fee'], symbol)}"
    if data["outcome"] == "ruled" or data["arbiter_fee"]:
        return f"  arbiter fee {display.amount(data['arbiter_fee'], symbol)} paid ({terms})"
    if data["held"] == 0:
        return f"  arbiter fee {terms}"
    due = ArbiterTerms(data["fee_bps"], data["min_fee"], data["max_fee"], data["ruling_ms"])
    fee = due.fee(data["held"])
    return f"  arbiter fee {display.amount(fee, symbol)} if it rules now ({terms})"


def _human_order(data: Any, display: Display) -> list[str]:
    symbol = data["symbol"]

    def money(name: str) -> str:
        return display.amount(data[name], symbol)

    lines = [
        f"order {data['id']}: {data['state']} {data['outcome']}".rstrip(),
        # a cart (several listings) has no single unit price
        f"  {data['quantity']} x {money('unit_price')} = {money('amount')}"
        if data["unit_price"]
        else f"  {data['quantity']} items = {money('amount')}",
        f"  held {money('held')}  refunded {money('refunded')}  released {money('released')}",
        f"  commission {money('commission')} ({data['commission_bps']} bps)",
        arbiter_fee_line(data, display),
        f"  buyer {data['buyer']}",
        f"  seller {data['seller']}",
        f"  arbiter {data['arbiter']}",
    ]
    for name in ("created_ms", "ship_by_ms", "shipped_ms", "release_at_ms", "rule_by_ms"):
        if data.get(name):
            lines.append(f"  {name.removesuffix('_ms').replace('_', ' ')} {iso_time(data[name])}")
    for record in data.get("evidence", []):
        lines.append(f"  evidence by {record['author']}: {record.get('uri') or record.get('hash')}")
    if "note_plaintext" in data:
        lines.append(f"  note: {data['note_plaintext']}")
    if "shipping_note_plaintext" in data:
        lines.append(f"  shipping note: {data['shipping_note_plaintext']}")
    return lines


def _page_query(cursor: str | None, limit: int, **params: str) -> dict[str, str]:
    query_args = {"limit": str(limit), **params}
    if cursor:
        query_args["cursor"] = cursor
    return query_args


@query.command("listing")
@click.argument("listing_id")
@node_url_option
@json_option
def query_listing(listing_id: str, node_url: str, json_mode: bool) -> None:
    """One listing."""
    path = f"/v1/listings/{parse_id(listing_id, 'LISTING_ID').hex()}"
    client = NodeClient(node_url)
    display = Display(client)
    Output(json_mode).emit(client.request("GET", path), lambda d: _human_listing(d, display))


@query.command("listings")
@click.option("--seller", required=True, help="address or key name")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the previous page")
@keys_dir_option
@node_url_option
@json_option
def query_listings(
    seller: str, limit: int, cursor: str | None, keys_dir: Path, node_url: str, json_mode: bool
) -> None:
    """A seller's listings, oldest first."""
    address = address_to_text(resolve_account(seller, keys_dir, "--seller"))
    client = NodeClient(node_url)
    display = Display(client)
    data = client.request("GET", "/v1/listings", query=_page_query(cursor, limit, seller=address))

    def human(page: Any) -> list[str]:
        lines = [line for item in page["listings"] for line in _human_listing(item, display)]
        if page["next_cursor"]:
            lines.append(f"more: --cursor {page['next_cursor']}")
        return lines or ["no listings"]

    Output(json_mode).emit(data, human)


@query.command("order")
@click.argument("order_id")
@click.option("--decrypt", is_flag=True, help="open the sealed note with --from's key")
@click.option("--from", "--key", "signer", default=None, help="key name or path (for --decrypt)")
@keys_dir_option
@passphrase_file_option
@node_url_option
@json_option
def query_order(
    order_id: str,
    decrypt: bool,
    signer: str | None,
    keys_dir: Path,
    passphrase_file: Path | None,
    node_url: str,
    json_mode: bool,
) -> None:
    """An order with its escrow state and evidence; --decrypt opens the notes you can read
    (the address for the seller and arbiter, the tracking note for the buyer and arbiter)."""
    path = f"/v1/orders/{parse_id(order_id, 'ORDER_ID').hex()}"
    client = NodeClient(node_url)
    display = Display(client)
    data = client.request("GET", path)
    if decrypt:
        if signer is None:
            raise CliError("--decrypt needs --from NAME (the seller's or arbiter's key)")
        key = load_key(signer, keys_dir, passphrase_file)
        note = data.get("note") or {}
        boxes = [note.get("for_seller"), note.get("for_arbiter")]
        sealed = [None if box is None else bytes.fromhex(box) for box in boxes]
        plaintext = open_order_note(key, sealed[0], sealed[1])
        shipping = data.get("shipping_note") or {}
        boxes = [shipping.get("for_buyer"), shipping.get("for_arbiter")]
        shipped = [None if box is None else bytes.fromhex(box) for box in boxes]
        tracking = open_order_note(key, shipped[0], shipped[1])
        if plaintext is None and tracking is None:
            raise CliError("this key cannot open any of the order's notes")
        if plaintext is not None:
            data["note_plaintext"] = plaintext.decode("utf-8", errors="replace")
        if tracking is not None:
            data["shipping_note_plaintext"] = tracking.decode("utf-8", errors="replace")
    Output(json_mode).emit(data, lambda d: _human_order(d, display))


@query.command("escrow")
@click.argument("order_id")
@node_url_option
@json_option
def query_escrow(order_id: str, node_url: str, json_mode: bool) -> None:
    """The escrow of an order (same document as `query order`)."""
    path = f"/v1/escrows/{parse_id(order_id, 'ORDER_ID').hex()}"
    client = NodeClient(node_url)
    display = Display(client)
    Output(json_mode).emit(client.request("GET", path), lambda d: _human_order(d, display))


@query.command("orders")
@click.option("--buyer", default=None, help="address or key name")
@click.option("--seller", default=None, help="address or key name")
@click.option("--arbiter", default=None, help="address or key name")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None)
@keys_dir_option
@node_url_option
@json_option
def query_orders(
    buyer: str | None,
    seller: str | None,
    arbiter: str | None,
    limit: int,
    cursor: str | None,
    keys_dir: Path,
    node_url: str,
    json_mode: bool,
) -> None:
    """A buyer's, a seller's or an arbiter's orders, oldest first."""
    given = [
        (role, who)
        for role, who in (("buyer", buyer), ("seller", seller), ("arbiter", arbiter))
        if who is not None
    ]
    if len(given) != 1:
        raise CliError("give exactly one of --buyer, --seller or --arbiter")
    ((role, who),) = given
    address = address_to_text(resolve_account(str(who), keys_dir, f"--{role}"))
    client = NodeClient(node_url)
    display = Display(client)
    data = client.request("GET", "/v1/orders", query=_page_query(cursor, limit, **{role: address}))

    def human(page: Any) -> list[str]:
        lines = [line for item in page["orders"] for line in _human_order(item, display)]
        if page["next_cursor"]:
            lines.append(f"more: --cursor {page['next_cursor']}")
        return lines or ["no orders"]

    Output(json_mode).emit(data, human)


@query.command("seller")
@click.argument("account")
@keys_dir_option
@node_url_option
@json_option
def query_seller(account: str, keys_dir: Path, node_url: str, json_mode: bool) -> None:
    """A seller's record from the chain and its average rating."""
    address = address_to_text(resolve_account(account, keys_dir, "ACCOUNT"))
    data = NodeClient(node_url).request("GET", f"/v1/sellers/{address}/record")

    def human(d: Any) -> list[str]:
        average = d["average_rating"]
        stars = (
            "no ratings"
            if average is None
            else (f"{average['numerator']}/{average['denominator']} stars from {d['ratings']}")
        )
        return [
            f"{d['seller']}: completed {d['completed']}, refunded {d['refunded']},"
            f" cancelled {d['cancelled']}, disputes won {d['disputes_won']}"
            f" lost {d['disputes_lost']}; {stars}"
        ]

    Output(json_mode).emit(data, human)


@query.command("arbiter")
@click.argument("account")
@keys_dir_option
@node_url_option
@json_option
def query_arbiter(account: str, keys_dir: Path, node_url: str, json_mode: bool) -> None:
    """A platform's published arbiter fee schedule."""
    address = address_to_text(resolve_account(account, keys_dir))
    client = NodeClient(node_url)
    display = Display(client)
    schedule = client.request("GET", f"/v1/arbiters/{address}")
    Output(json_mode).emit(schedule, lambda d: _human_schedule(d, display))


def _human_schedule(data: Any, display: Display) -> list[str]:
    lines = [
        f"arbiter {data['arbiter']}: fee {data['fee_bps']} bps,"
        f" rules within {duration(data['ruling_ms'])}",
        f"  updated {iso_time(data['updated_ms'])}",
    ]
    for bound in data["coin_bounds"]:
        low = display.amount(bound["min_fee"], bound["symbol"])
        high = display.amount(bound["max_fee"], bound["symbol"])
        lines.append(f"  in {bound['symbol']}: at least {low}, at most {high}")
    return lines
