"""The shop and the seller desk in a real browser, on four real validators (LevelDB, loopback).

A seller and a buyer each create a wallet in their own browser. The seller lists a
product from the seller desk; the buyer, paid from outside, orders it from the shop
with a shipping address sealed in the page. The seller reads the address in the
desk (and the arbiter opens its copy with the CLI's own code), ships with a tracking
note the buyer reads in the shop, and the buyer confirms receipt. A second order is
disputed from the shop with evidence; the arbiter, its key imported into a browser
wallet, reads the evidence and the notes sealed for it in the arbiter desk and rules
there, and the ruling shows in the shop. The seller sees the sale and its commission, and
an invoice made in the desk opens on the checkout page. Every page is checked at a
phone's width (nothing overflows sideways) with labelled controls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from cli.notes import open_note
from contracts.arbiter import ArbiterTerms
from ledger.keys import PrivateKey, address_from_text, address_to_text
from node.walletfile import write_wallet_file
from tests.browser.conftest import screenshot
from tests.browser.walletkit import (
    PASSPHRASE,
    PHONE,
    assert_fits,
    assert_labelled,
    committed,
    create_wallet,
    submit_as,
)
from tests.integration.harness import SYMBOL, LocalNet, http, wait_until

COIN = "IDRA"  # two decimal places
ADDRESS = "Jl. Malioboro 52, Yogyakarta 55271"
TRACKING = "JNE 0042, driver Budi"
DAY_MS = 24 * 3600 * 1000


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    # accounts[0] is the marketplace platform (2.5% commission) and pays the buyer;
    # accounts[1] is the arbiter platform.
    issuer = address_to_text(PrivateKey.from_seed(bytes([200]) * 32).public_key)
    keys = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(2)]
    holders = [address_to_text(key.public_key) for key in keys]
    app_state = {
        "roles": [[holders[0], "Pasar Mall", 250], [holders[1], "Resolusi", 0]],
        "coin": [
            [
                [SYMBOL, "Rupiah", 0, issuer, 10**15, "open"],
                [COIN, "Rupiah A", 2, issuer, 10**15, "open"],
            ],
            [[h, SYMBOL, 10**9] for h in holders] + [[h, COIN, 10**9] for h in holders],
        ],
    }
    root = tmp_path_factory.mktemp("shop-net")
    local = LocalNet(root, count=4, accounts=2, extra_app_state=app_state)
    try:
        local.start_all()
        for index in range(4):
            local.wait_up(index, timeout=60)
        wait_until(lambda: local.status(0)["peers_connected"] == 3, 30, "full mesh")
        yield local
    finally:
        local.close()


def submit(net: LocalNet, index: int, method: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """Account `index` signs `method(args)`, sends it to node `index` and waits for its commit."""
    return committed(net, submit_as(net, net.accounts[index], method, args, index), index)


def watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    return errors


def new_wallet(page: Any, base: str) -> str:
    page.goto(f"{base}/wallet")
    return create_wallet(page)


def unlock(page: Any, label: str) -> None:
    """Unlock with the keyboard alone: type the passphrase and press Enter."""
    page.get_by_label(label).fill(PASSPHRASE)
    page.get_by_label(label).press("Enter")
    expect(page.locator("#message")).to_contain_text("Unlocked", timeout=20_000)


def check_phone_layout(page: Any) -> None:
    """At 390 px nothing overflows sideways, and every visible control has a label."""
    assert page.viewport_size["width"] == PHONE["width"]
    assert_fits(page)
    assert_labelled(page)


def short(text: str) -> str:
    """The pages' short form of an address."""
    return f"{text[:10]}…{text[-6:]}"


def money(minor: int) -> str:
    """An IDRA amount as the pages write it."""
    return f"{minor // 100:,}.{minor % 100:02d} {COIN}"


def order_card(page: Any, state: str) -> Any:
    return page.locator(f"#orders li[data-state='{state}']")


def test_buy_ship_confirm_dispute_and_ruling(
    net: LocalNet, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = net.nodes[0].rpc_url
    other = net.nodes[2].rpc_url  # the seller uses another validator than the buyer
    platform = address_to_text(net.accounts[0].public_key)
    arbiter_key = net.accounts[1]
    arbiter = address_to_text(arbiter_key.public_key)
    submit(net, 1, "arbiter.publish", (300, 3 * DAY_MS))

    seller_context = browser.new_context(viewport=PHONE)
    desk = seller_context.new_page()
    seller_errors = watch(desk)
    seller = new_wallet(desk, other)
    desk.goto(f"{other}/seller")
    unlock(desk, "Wallet passphrase")

    # The platform runs a loyalty coin the seller accepts (10% back on IDRA sales) and a
    # franchise program on it.
    group = ("POIN", "Pasar points", 2, 10**8, [address_from_text(seller)], [], [[COIN, 1_000]])
    submit(net, 0, "loyalty.create", (*group, 0, "open"))
    submit(net, 0, "franchise.open_program", ("POIN", ["LATTE"], 10_000, 100_000, 500))

    # A listing made in the desk, priced with decimals.
    desk.get_by_label("Title").fill("Batik tulis")
    desk.get_by_label("SKU (your product code)").fill("BTK-7")
    desk.get_by_label("Priced in").select_option(COIN)
    desk.get_by_label("Price per item").fill("750.00")
    desk.get_by_label("Stock", exact=True).fill("5")
    desk.get_by_label("Arbiters you accept (addresses, one a line)").fill(arbiter)
    desk.get_by_label("Platform that takes commission (address, optional)").fill(platform)
    desk.get_by_role("button", name="Create listing").click()
    mine = desk.locator("#my-listings li").first
    expect(mine).to_contain_text("750.00 IDRA each", timeout=40_000)
    expect(mine).to_contain_text("5 in stock, 0 sold")
    mine.get_by_label("New stock count").fill("6")
    mine.get_by_role("button", name="Set stock").click()
    expect(mine).to_contain_text("6 in stock, 0 sold", timeout=40_000)
    check_phone_layout(desk)
    screenshot(desk, "seller-listing")

    buyer_context = browser.new_context(viewport=PHONE)
    shop = buyer_context.new_page()
    buyer_errors = watch(shop)
    buyer = new_wallet(shop, base)
    submit(net, 0, "coin.transfer", (COIN, address_from_text(buyer), 500_000))  # 5,000.00
    shop.goto(f"{base}/shop")
    row = shop.locator("#listings tr", has_text="Batik tulis")
    expect(row.locator(".price")).to_have_text("750.00 IDRA", timeout=20_000)
    expect(row.locator(".stock")).to_have_text("6")
    unlock(shop, "Wallet passphrase (to sign orders)")

    # Order with a sealed address; the Buy button works from the keyboard.
    row.get_by_role("button", name="Buy Batik tulis").focus()
    shop.keyboard.press("Enter")
    expect(shop.get_by_label("Quantity")).to_be_focused()
    shop.get_by_label("Shipping address (encrypted for the seller and the arbiter)").fill(ADDRESS)
    expect(shop.locator("#order-total")).to_have_text("Total held in escrow: 750.00 IDRA")
    shop.get_by_role("button", name="Place order").click()
    expect(order_card(shop, "funded")).to_contain_text("Paid into escrow", timeout=40_000)
    expect(order_card(shop, "funded")).to_contain_text("1 × Batik tulis — 750.00 IDRA")
    order_id = order_card(shop, "funded").get_attribute("data-order")
    check_phone_layout(shop)
    screenshot(shop, "shop-ordered")

    # Only ciphertext is on the chain; the arbiter opens its copy with the CLI's code.
    code, order = http("GET", net.url(1, f"/v1/orders/{order_id}"))
    assert code == 200 and ADDRESS not in str(order)
    sealed = bytes.fromhex(order["note"]["for_arbiter"])
    assert open_note(sealed, arbiter_key).decode() == ADDRESS

    # The seller reads the address in the desk and ships with a sealed tracking note.
    card = desk.locator(f"#orders li[data-order='{order_id}']")
    card.get_by_role("button", name="Read shipping address").click(timeout=20_000)
    expect(card.locator(".address")).to_have_text(f"Ship to: {ADDRESS}")
    screenshot(desk, "seller-address")
    card.get_by_label("Courier and tracking number (sent encrypted to the buyer)").fill(TRACKING)
    card.get_by_role("button", name="Mark shipped").click()
    expect(desk.locator(f"#orders li[data-order='{order_id}'] .state")).to_contain_text(
        "Shipped", timeout=40_000
    )

    # The buyer sees it shipped, reads the tracking note, and confirms receipt.
    shipped = order_card(shop, "shipped")
    expect(shipped.locator(".tracking")).to_have_text(f"Tracking: {TRACKING}", timeout=20_000)
    shipped.get_by_role("button", name="Confirm receipt").click()
    expect(order_card(shop, "completed")).to_contain_text("you confirmed receipt", timeout=40_000)

    # The confirmed sale earned loyalty coins: where to spend them, franchise standing.
    points = shop.locator("#loyalty li[data-symbol='POIN']")
    expect(points).to_contain_text("Pasar points: 75.00 POIN", timeout=20_000)
    spend = points.locator("p", has_text="Spend it with:")
    for member in (platform, seller):
        expect(spend.get_by_role("link", name=short(member))).to_be_visible()
    expect(points).to_contain_text("10.00% of IDRA")
    program = shop.locator("#franchise li")
    expect(program).to_contain_text("Not active: not franchisee, below threshold")
    expect(program).to_contain_text("You hold 75.00 POIN; T1 (to sell) is 100.00 POIN")
    screenshot(shop, "shop-confirmed")

    # A second order is disputed from the shop, with evidence.
    row.get_by_role("button", name="Buy Batik tulis").click()
    shop.get_by_label("Shipping address (encrypted for the seller and the arbiter)").fill(ADDRESS)
    shop.get_by_role("button", name="Place order").click()
    funded = order_card(shop, "funded")
    expect(funded).to_be_visible(timeout=40_000)
    disputed_id = funded.get_attribute("data-order")
    funded.get_by_role("button", name="Open dispute").click()
    disputed = order_card(shop, "disputed")
    expect(disputed).to_contain_text("In dispute", timeout=40_000)
    disputed.get_by_label("Evidence link (photos, messages)").fill("https://example.com/torn.jpg")
    disputed.get_by_role("button", name="Add evidence").click()
    expect(disputed.locator(".evidence")).to_contain_text(
        "You: https://example.com/torn.jpg", timeout=40_000
    )
    check_phone_layout(shop)
    screenshot(shop, "shop-disputed")

    # The arbiter rules in its desk: its key moves into a browser wallet, the dispute
    # shows with the evidence, the notes sealed for it open in the page, and the fee
    # matches the contract's.
    code, order = http("GET", net.url(1, f"/v1/orders/{disputed_id}"))
    assert code == 200 and order["evidence"][0]["uri"] == "https://example.com/torn.jpg"
    terms = ArbiterTerms(order["fee_bps"], order["min_fee"], order["max_fee"], order["ruling_ms"])
    fee = terms.fee(order["held"])
    to_split = order["held"] - fee
    to_buyer = to_split * 2 // 3
    wallet_file = tmp_path_factory.mktemp("arbiter") / "wallet.json"
    write_wallet_file(wallet_file, arbiter_key, PASSPHRASE)
    arbiter_context = browser.new_context(viewport=PHONE)
    bench = arbiter_context.new_page()
    arbiter_errors = watch(bench)
    bench.goto(f"{net.nodes[1].rpc_url}/wallet")
    bench.get_by_label("Key file").set_input_files(str(wallet_file))
    bench.get_by_label("Its passphrase").fill(PASSPHRASE)
    bench.get_by_role("button", name="Import").click()
    expect(bench.locator("#address")).to_have_text(arbiter)
    bench.goto(f"{net.nodes[1].rpc_url}/arbiter")
    unlock(bench, "Wallet passphrase (to sign rulings)")
    expect(bench.locator("#schedule")).to_contain_text("3.00% of what escrow holds")
    case = bench.locator(f"#disputes li[data-order='{disputed_id}']")
    expect(case).to_contain_text("Disputed by the buyer", timeout=20_000)
    expect(case.locator(".evidence")).to_contain_text("Buyer (")
    expect(case.locator(".evidence")).to_contain_text("https://example.com/torn.jpg")
    case.get_by_role("button", name="Read the buyer's address").click()
    expect(case.locator(".sealed").first).to_have_text(f"Shipping address: {ADDRESS}")
    case.get_by_role("button", name="Read the tracking note").click()
    expect(case.locator(".sealed").nth(1)).to_have_text("None was left.")  # never shipped
    expect(case).to_contain_text(f"your fee is {money(fee)}, so {money(to_split)} is split")
    # The first order, completed, is listed among the others; the desk fits a phone.
    expect(bench.locator(f"#others li[data-order='{order_id}']")).to_contain_text("Completed")
    check_phone_layout(bench)
    screenshot(bench, "arbiter-dispute")
    # A share above what is split is refused in the page, before anything is signed.
    case.get_by_label("To the buyer").fill(money(to_split + 1).split()[0])
    expect(case.locator(".seller-share")).to_contain_text("at most")
    case.get_by_role("button", name="All to the seller").click()
    expect(case.locator(".seller-share")).to_have_text(f"To the seller: {money(to_split)}")
    case.get_by_label("To the buyer").fill(money(to_buyer).split()[0])
    expect(case.locator(".seller-share")).to_have_text(
        f"To the seller: {money(to_split - to_buyer)}"
    )
    case.get_by_role("button", name="Rule").click()
    expect(bench.locator("#message")).to_contain_text("Ruled:", timeout=40_000)
    ruled_row = bench.locator(f"#others li[data-order='{disputed_id}']")
    expect(ruled_row).to_contain_text(f"your fee {money(fee)}", timeout=20_000)
    code, after = http("GET", net.url(0, f"/v1/orders/{disputed_id}"))
    assert (after["state"], after["refunded"], after["arbiter_fee"]) == (
        "resolved", to_buyer, fee)  # fmt: skip
    assert arbiter_errors == []
    ruled = order_card(shop, "resolved")
    expect(ruled.locator(".ruling")).to_contain_text(
        f"Ruling: {to_buyer // 100:,}.{to_buyer % 100:02d} IDRA back to you", timeout=20_000
    )
    screenshot(shop, "shop-ruling")

    # The desk shows the sales, the commission and what escrow still holds.
    sales = desk.locator(f"#sales li[data-symbol='{COIN}']")
    expect(sales.locator(".commission")).not_to_have_text("0.00 IDRA", timeout=20_000)
    code, first = http("GET", net.url(0, f"/v1/orders/{order_id}"))
    code, second = http("GET", net.url(0, f"/v1/orders/{disputed_id}"))
    paid = sum(o["released"] - o["commission"] for o in (first, second))
    commission = sum(o["commission"] for o in (first, second))
    assert commission == first["commission"] + second["commission"] > 0
    expect(sales.locator(".paid")).to_have_text(f"{paid // 100:,}.{paid % 100:02d} IDRA")
    expect(sales.locator(".commission")).to_have_text(
        f"{commission // 100:,}.{commission % 100:02d} IDRA"
    )
    expect(desk.locator("#my-listings li").first).to_contain_text("4 in stock, 2 sold")
    screenshot(desk, "seller-sales")

    # An invoice made in the desk opens on the checkout page through its link.
    desk.get_by_label("Coin", exact=True).select_option(COIN)
    desk.get_by_label("Amount", exact=True).fill("25.50")
    desk.get_by_label("Reference (shown to the buyer)").fill("order 88")
    desk.get_by_role("button", name="Create invoice").click()
    link = desk.locator("#invoice-link")
    expect(link).to_have_text(re.compile(r"/pay/[0-9a-f]{64}$"), timeout=40_000)
    invoice_url = str(link.get_attribute("href"))
    shop.goto(f"{base}/shop")
    shop.get_by_label("Invoice id or payment link").fill(invoice_url)
    shop.get_by_role("button", name="Go to checkout").click()
    expect(shop.locator("#amount")).to_have_text("25.50 IDRA", timeout=20_000)
    expect(shop.locator("#merchant")).to_have_text(seller)
    expect(shop.locator("#reference")).to_have_text("order 88")

    # The explorer's front page shows the network, the four validators, every asset with
    # its supply in decimals, and the listing with its sales: from any validator.
    shop.goto(f"{other}/explorer")
    expect(shop.locator("#validators tbody tr")).to_have_count(4, timeout=20_000)
    expect(shop.locator("#network")).to_contain_text("quorum 3, tolerates 1 faulty")
    expect(shop.locator("#assets")).to_contain_text("POIN")
    _, answer = http("GET", f"{base}/v1/assets")
    idra = next(a for a in answer["assets"] if a["symbol"] == COIN)
    whole, cents = divmod(int(idra["supply"]), 100)
    expect(shop.locator("#assets tr", has_text=COIN).first).to_contain_text(
        f"{whole:,}.{cents:02d} {COIN}"
    )
    listing = shop.locator("#listings tr", has_text="Batik tulis")
    expect(listing).to_contain_text("750.00 IDRA")
    expect(listing).to_contain_text(short(seller))
    check_phone_layout(shop)
    screenshot(shop, "explorer-overview")

    assert seller_errors == [] and buyer_errors == []
    seller_context.close()
    buyer_context.close()
