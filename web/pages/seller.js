// The seller desk: list products and stock, see orders, read each buyer's sealed
// shipping address (opened here with the wallet's key), ship with a tracking
// reference, create invoices and share their payment link, and see sales with the
// platform commission and franchise royalties they paid.

import { fromHex, fromUtf8, toHex, utf8 } from "../lib/bytes.js";
import { addressFromText } from "../lib/keys.js";
import { MAX_NOTE_PLAINTEXT, openOrderNote, sealForOrder } from "../lib/sealedbox.js";
import { assets, client, el, formatAmount, parseAmount, short, show } from "./common.js";
import { act, say, unlockForm, when } from "./signer.js";

const DAY_MS = 24n * 3600n * 1000n;
const HOUR_MS = 3600n * 1000n;
const POLL_MS = 4000;
const ROYALTY_SCAN_EVENTS = 5000; // bound on the event replay that finds royalties paid
const $ = (id) => document.getElementById(id);
let signer = null;
let bySymbol = new Map();
const titles = new Map(); // listing id -> title
let ordersShown = "";

function money(minor, symbol) {
  return formatAmount(minor, bySymbol.get(symbol) ?? { symbol, decimals: 0 });
}

function coinOptions(select) {
  const chosen = select.value;
  select.replaceChildren(
    ...[...bySymbol.values()].map((asset) => el("option", { value: asset.symbol, selected: asset.symbol === chosen }, `${asset.name} (${asset.symbol})`)),
  );
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// --- listings -------------------------------------------------------------------------------

async function createListing(event) {
  event.preventDefault();
  await act(event.submitter, async () => {
    const symbol = $("listing-coin").value;
    const asset = bySymbol.get(symbol);
    const price = parseAmount($("listing-price").value, Number(asset.decimals));
    const stock = BigInt($("listing-stock").value);
    const lines = $("listing-arbiters").value.split(/[\s,]+/).filter(Boolean);
    if (lines.length === 0) throw new Error("name at least one arbiter");
    const arbiters = [];
    for (const line of lines) arbiters.push(await addressFromText(line));
    const platformText = $("listing-platform").value.trim();
    const platform = platformText ? await addressFromText(platformText) : null;
    const args = [
      $("listing-title").value.trim(),
      $("listing-sku").value.trim(),
      price,
      symbol,
      stock,
      platform,
      arbiters,
      BigInt($("listing-shipping").value) * DAY_MS,
      BigInt($("listing-protection").value) * DAY_MS,
    ];
    await signer.call("listing.create", args, { onPending: () => say("Listing sent; waiting for the block…") });
    $("listing-form").reset();
    say(`Listed ${args[0]} at ${money(price, symbol)}.`, "ok");
    await loadListings();
  });
}

function listingCard(item) {
  const stockId = `stock-${item.id}`;
  const form = el(
    "form",
    { class: "inline" },
    el("label", { for: stockId }, "New stock count"),
    el("input", { id: stockId, type: "number", inputmode: "numeric", min: 0, step: 1, value: String(item.stock), required: true }),
    el("button", { type: "submit" }, "Set stock"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, async () => {
      const stock = BigInt(form.querySelector("input").value);
      await signer.call("listing.update", [fromHex(item.id), [["stock", stock]]], { onPending: () => say("Stock change sent…") });
      say(`${item.title}: stock set to ${stock}.`, "ok");
      await loadListings();
    });
  });
  const withdraw = el("button", {
    type: "button",
    class: "secondary",
    onclick: (event) =>
      act(event.currentTarget, async () => {
        await signer.call("listing.withdraw", [fromHex(item.id)], { onPending: () => say("Withdrawal sent…") });
        say(`${item.title} is no longer for sale.`, "ok");
        await loadListings();
      }),
  }, "Withdraw");
  const active = item.status === "active";
  return el(
    "li",
    { "data-listing": item.id },
    el("strong", {}, item.title),
    ` (${item.sku}) — ${money(item.price, item.symbol)} each`,
    el("p", {}, `${item.stock} in stock, ${item.sold} sold${active ? "" : " · withdrawn"}`),
    active ? form : null,
    active ? withdraw : null,
  );
}

async function loadListings() {
  const page = await client.request("GET", "/v1/listings", { query: { seller: signer.address, limit: 200 } });
  for (const item of page.listings) titles.set(item.id, item.title);
  const cards = page.listings.reverse().map(listingCard);
  show("my-listings", cards.length ? cards : [el("li", {}, "No listings yet.")]);
}

// --- orders ---------------------------------------------------------------------------------

const STATE_WORDS = {
  funded: (o) => `Paid into escrow: ship by ${when(o.ship_by_ms)}`,
  shipped: (o) => `Shipped: paid to you when the buyer confirms, or on ${when(o.release_at_ms)}`,
  disputed: (o) => `In dispute: the arbiter rules by ${when(o.rule_by_ms)}`,
  completed: () => "Completed: paid to you",
  refunded: () => "Refunded to the buyer",
  cancelled: () => "Cancelled",
  resolved: (o) => `Ruled: ${money(o.released, o.symbol)} to you, ${money(o.refunded, o.symbol)} back to the buyer`,
};

function addressReader(order) {
  const out = el("p", { class: "address", "aria-live": "polite" });
  const button = el("button", {
    type: "button",
    class: "secondary",
    onclick: (event) =>
      act(event.currentTarget, async () => {
        const note = order.note || {};
        if (!note.for_seller) {
          out.textContent = "The buyer left no address.";
          return;
        }
        const opened = await openOrderNote(signer.key, fromHex(note.for_seller), note.for_arbiter ? fromHex(note.for_arbiter) : null);
        out.textContent = opened === null ? "This address was not sealed for your key." : `Ship to: ${fromUtf8(opened)}`;
      }),
  }, "Read shipping address");
  return [button, out];
}

function shipForm(order) {
  const trackingId = `tracking-${order.id}`;
  const form = el(
    "form",
    { class: "ship-form" },
    el("label", { for: trackingId }, "Courier and tracking number (sent encrypted to the buyer)"),
    el("input", { id: trackingId, type: "text", autocomplete: "off", required: true }),
    el("button", { type: "submit" }, "Mark shipped"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, async () => {
      const tracking = utf8(form.querySelector("input").value.trim());
      if (tracking.length === 0 || tracking.length > MAX_NOTE_PLAINTEXT) throw new Error("type the tracking details");
      // As `pasar tx escrow ship --tracking --note`: the chain keeps the reference's
      // SHA-256, and the details go sealed to the buyer and the arbiter.
      const sealed = await sealForOrder(tracking, await addressFromText(order.buyer), await addressFromText(order.arbiter));
      await signer.call("escrow.ship", [fromHex(order.id), await sha256(tracking), ...sealed], { onPending: () => say("Shipment sent; waiting for the block…") });
      say("Marked shipped: the buyer's protection window has started.", "ok");
      await loadOrders(true);
    });
  });
  return form;
}

function orderCard(order) {
  return el(
    "li",
    { "data-order": order.id, "data-state": order.state },
    el("strong", {}, `${order.quantity} × ${titles.get(order.listing) ?? short(order.listing)}`),
    ` — ${money(order.amount, order.symbol)}`,
    el("p", { class: "state" }, STATE_WORDS[order.state] ? STATE_WORDS[order.state](order) : order.state),
    el("p", { class: "note" }, `Buyer ${short(order.buyer)} · ordered ${when(order.created_ms)}${BigInt(order.commission) > 0n ? ` · commission ${money(order.commission, order.symbol)}` : ""}`),
    order.state === "funded" || order.state === "disputed" || order.state === "shipped" ? addressReader(order) : null,
    order.state === "funded" ? shipForm(order) : null,
  );
}

async function loadOrders(force = false) {
  const page = await client.request("GET", "/v1/orders", { query: { seller: signer.address, limit: 200 } });
  const orders = await Promise.all(page.orders.reverse().map((o) => client.request("GET", `/v1/orders/${o.id}`)));
  const signature = JSON.stringify(orders.map((o) => [o.id, o.state]));
  if (!force && signature === ordersShown) return;
  ordersShown = signature;
  show("orders", orders.length ? orders.map(orderCard) : [el("li", {}, "No orders yet.")]);
  await Promise.all([loadListings(), loadSales(orders)]); // stock and sold counts moved too
}

// --- sales, commissions and royalties -------------------------------------------------------

/** Royalties this seller's sales paid up franchise chains, per coin, from the receipts
 * of the sales (bounded replay of the account's event stream up to the current block). */
async function royaltiesPaid() {
  const paid = new Map();
  const me = toHex(await addressFromText(signer.address));
  const { height } = await client.status();
  const stop = new AbortController();
  let seen = 0;
  try {
    for await (const message of client.events({ cursor: "0", account: signer.address, signal: stop.signal })) {
      seen++;
      const data = message.data;
      if (message.event === "block" && Number(data.height) >= Number(height)) break;
      const events = message.event === "tx" ? data.receipt.events : data.end_block_events;
      const mySales = new Set(events.filter((e) => e.name === "sale.completed" && e.attributes.seller?.hex === me).map((e) => e.attributes.reference.hex));
      for (const e of events) {
        if (e.name !== "franchise.royalty" || !mySales.has(e.attributes.reference?.hex)) continue;
        paid.set(e.attributes.symbol, (paid.get(e.attributes.symbol) ?? 0n) + BigInt(e.attributes.paid));
      }
      if (seen >= ROYALTY_SCAN_EVENTS) break;
    }
  } finally {
    stop.abort();
  }
  return paid;
}

async function loadSales(orders) {
  const totals = new Map();
  const of = (symbol) => {
    if (!totals.has(symbol)) totals.set(symbol, { count: 0, paid: 0n, commission: 0n, held: 0n });
    return totals.get(symbol);
  };
  for (const order of orders) {
    const row = of(order.symbol);
    if (BigInt(order.released) > 0n) {
      row.count += 1;
      row.paid += BigInt(order.released) - BigInt(order.commission);
      row.commission += BigInt(order.commission);
    }
    row.held += BigInt(order.held);
  }
  let royalties = new Map();
  try {
    royalties = await royaltiesPaid();
  } catch (error) {
    say(`Could not read royalties: ${error.message}`, "error");
  }
  const cards = [...totals.entries()].map(([symbol, t]) =>
    el(
      "li",
      { "data-symbol": symbol },
      el("strong", {}, `${bySymbol.get(symbol)?.name ?? symbol} (${symbol})`),
      el(
        "dl",
        {},
        el("dt", {}, "Completed sales"),
        el("dd", { class: "count" }, String(t.count)),
        el("dt", {}, "Paid to you"),
        el("dd", { class: "paid" }, money(t.paid, symbol)),
        el("dt", {}, "Platform commission"),
        el("dd", { class: "commission" }, money(t.commission, symbol)),
        el("dt", {}, "Franchise royalties paid"),
        el("dd", { class: "royalties" }, money(royalties.get(symbol) ?? 0n, symbol)),
        el("dt", {}, "Still held in escrow"),
        el("dd", { class: "held" }, money(t.held, symbol)),
      ),
    ),
  );
  show("sales", cards.length ? cards : [el("li", {}, "No sales yet.")]);
}

// --- invoices -------------------------------------------------------------------------------

function payLink(id) {
  return `${location.origin}/pay/${id}`;
}

async function createInvoice(event) {
  event.preventDefault();
  await act(event.submitter, async () => {
    const symbol = $("invoice-coin").value;
    const amount = parseAmount($("invoice-amount").value, Number(bySymbol.get(symbol).decimals));
    const expiry = BigInt(Date.now()) + BigInt($("invoice-hours").value) * HOUR_MS;
    const reference = $("invoice-reference").value.trim();
    const { hash } = await signer.call("invoice.create", [symbol, amount, expiry, reference, new Uint8Array(0)], { onPending: () => say("Invoice sent; waiting for the block…") });
    $("invoice-form").reset();
    $("invoice-link").href = payLink(hash);
    $("invoice-link").textContent = payLink(hash);
    $("invoice-link-row").hidden = false;
    say(`Invoice for ${money(amount, symbol)} created: share its payment link.`, "ok");
    await loadInvoices();
  });
}

async function loadInvoices() {
  const page = await client.request("GET", "/v1/invoices", { query: { merchant: signer.address, limit: 50 } });
  const cards = page.invoices.reverse().map((item) =>
    el(
      "li",
      { "data-invoice": item.id },
      el("strong", {}, money(item.amount, item.symbol)),
      item.reference ? ` — ${item.reference}` : "",
      el("p", { class: "state" }, `${item.status} · expires ${when(item.expiry_ms)}`),
      el("a", { href: `/pay/${item.id}` }, "Payment link"),
    ),
  );
  show("invoices", cards.length ? cards : [el("li", {}, "No invoices yet.")]);
}

// --- start ----------------------------------------------------------------------------------

async function refresh() {
  if (!signer) return;
  try {
    await loadOrders();
  } catch (error) {
    say(`Could not read orders: ${error.message}`, "error");
  }
}

async function main() {
  $("listing-form").addEventListener("submit", createListing);
  $("invoice-form").addEventListener("submit", createInvoice);
  $("invoice-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("invoice-link").href);
      say("Payment link copied.", "ok");
    } catch {
      say("Copy it by hand: this browser refused the clipboard.", "error");
    }
  });
  try {
    bySymbol = await assets();
  } catch (error) {
    say(error.message, "error");
  }
  unlockForm(async (unlocked) => {
    signer = unlocked;
    coinOptions($("listing-coin"));
    coinOptions($("invoice-coin"));
    $("desk").hidden = false;
    await loadListings();
    await Promise.all([loadOrders(true), loadInvoices()]);
  });
  setInterval(refresh, POLL_MS);
}

main();
