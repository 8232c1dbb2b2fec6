// The shop for buyers: browse every seller's listings, order one with the shipping
// address sealed here for the seller and the arbiter (as `pasar tx order place --note`
// does), follow my orders, confirm receipt, dispute with evidence and read the ruling;
// jump to the checkout for an invoice; see loyalty coins and franchise standing.

import { fromHex, fromUtf8, utf8 } from "../lib/bytes.js";
import { addressFromText } from "../lib/keys.js";
import { MAX_NOTE_PLAINTEXT, openOrderNote, sealForOrder } from "../lib/sealedbox.js";
import { assets, client, el, formatAmount, short, show } from "./common.js";
import { duration, say, unlockForm, when } from "./signer.js";

const POLL_MS = 4000;
const $ = (id) => document.getElementById(id);
let signer = null; // the unlocked wallet, once the buyer unlocks it
let address = null; // the wallet's address (known before unlocking)
let bySymbol = new Map();
let catalogCursor = null;
const listings = new Map(); // id -> listing, every one seen on this page
let chosen = null; // the listing being ordered
let ordersShown = "";

function money(minor, symbol) {
  return formatAmount(minor, bySymbol.get(symbol) ?? { symbol, decimals: 0 });
}

function explorerLink(account) {
  return el("a", { href: `/explorer?account=${encodeURIComponent(account)}`, title: account }, short(account));
}

/** Run an action that needs the key; asks to unlock first. */
async function signed(button, action) {
  if (!signer) {
    say("Unlock your wallet first (passphrase at the top of the page).", "error");
    $("unlock-passphrase")?.focus();
    return;
  }
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    say(error.message, "error");
  } finally {
    if (button) button.disabled = false;
  }
}

// --- listings -------------------------------------------------------------------------------

function listingRow(item) {
  const buyable = item.status === "active" && BigInt(item.stock) > 0n;
  const action = buyable
    ? el("button", { type: "button", class: "buy", "aria-label": `Buy ${item.title}`, onclick: () => choose(item) }, "Buy")
    : el("span", { class: "note" }, item.status === "active" ? "Sold out" : "Withdrawn");
  return el(
    "tr",
    { "data-listing": item.id },
    el("td", {}, item.title, el("br"), el("small", { class: "note" }, item.sku)),
    el("td", { class: "num price" }, money(item.price, item.symbol)),
    el("td", { class: "num stock" }, String(item.stock)),
    el("td", {}, explorerLink(item.seller)),
    el("td", {}, action),
  );
}

async function loadListings(more = false) {
  const page = await client.request("GET", "/v1/catalog", { query: { limit: 50, cursor: more ? catalogCursor : undefined } });
  catalogCursor = page.next_cursor;
  const active = page.listings.filter((item) => item.status === "active");
  for (const item of page.listings) listings.set(item.id, item);
  const rows = active.map(listingRow);
  if (!more) {
    show("listings", rows.length ? rows : [el("tr", {}, el("td", { colspan: 5 }, "Nothing for sale yet."))]);
  } else {
    $("listings").append(...rows);
  }
  $("more-listings").hidden = !catalogCursor;
}

function orderTotal() {
  if (!chosen) return;
  const quantity = Number($("order-quantity").value);
  $("order-total").textContent = Number.isSafeInteger(quantity) && quantity > 0 ? `Total held in escrow: ${money(BigInt(chosen.price) * BigInt(quantity), chosen.symbol)}` : "Type a whole number of items.";
}

function choose(item) {
  chosen = item;
  $("order-item").textContent = item.title;
  $("order-terms").textContent = `${money(item.price, item.symbol)} each, ${item.stock} in stock. Ships within ${duration(item.shipping_ms)}; after shipping you have ${duration(item.protection_ms)} to confirm or dispute.`;
  $("order-quantity").max = String(item.stock);
  $("order-arbiter").replaceChildren(...item.arbiters.map((a, i) => el("option", { value: a, selected: i === 0 }, short(a))));
  $("order").hidden = false;
  orderTotal();
  $("order-quantity").focus();
}

async function placeOrder(event) {
  event.preventDefault();
  const button = event.submitter ?? $("order-form").querySelector("button[type=submit]");
  await signed(button, async () => {
    const item = chosen;
    const quantity = BigInt($("order-quantity").value);
    if (quantity < 1n) throw new Error("order at least one");
    const note = utf8($("order-address").value.trim());
    if (note.length === 0) throw new Error("type the shipping address");
    if (note.length > MAX_NOTE_PLAINTEXT) throw new Error(`the address is at most ${MAX_NOTE_PLAINTEXT} bytes`);
    const arbiter = await addressFromText($("order-arbiter").value);
    say("Sealing the address for the seller and the arbiter…");
    const [forSeller, forArbiter] = await sealForOrder(note, await addressFromText(item.seller), arbiter);
    const args = [fromHex(item.id), quantity, BigInt(item.price), arbiter, forSeller, forArbiter];
    await signer.call("order.place", args, { onPending: () => say("Order sent; waiting for the block…") });
    $("order-form").reset();
    $("order").hidden = true;
    say(`Ordered ${quantity} × ${item.title}: the payment is held in escrow until you confirm receipt.`, "ok");
    await Promise.all([loadListings(), loadOrders(true)]);
  });
}

// --- orders ---------------------------------------------------------------------------------

const STATE_WORDS = {
  funded: (o) => `Paid into escrow; the seller ships by ${when(o.ship_by_ms)}`,
  shipped: (o) => `Shipped; confirm when it arrives (paid to the seller automatically on ${when(o.release_at_ms)})`,
  disputed: (o) => `In dispute; the arbiter rules by ${when(o.rule_by_ms)}`,
  completed: (o) => (o.outcome === "confirmed" ? "Completed: you confirmed receipt" : "Completed: paid to the seller"),
  refunded: () => "Refunded to you",
  cancelled: () => "Cancelled and refunded",
  resolved: () => "Ruled by the arbiter",
};

async function listingTitle(id) {
  if (!listings.has(id)) {
    try {
      listings.set(id, await client.request("GET", `/v1/listings/${id}`));
    } catch {
      return short(id);
    }
  }
  return listings.get(id).title;
}

function ruling(order) {
  if (order.state !== "resolved") return null;
  return el(
    "p",
    { class: "ruling" },
    `Ruling: ${money(order.refunded, order.symbol)} back to you, ${money(order.released, order.symbol)} to the seller, arbiter's fee ${money(order.arbiter_fee, order.symbol)}.`,
  );
}

function evidenceList(order) {
  if (!order.evidence || order.evidence.length === 0) return null;
  return el(
    "ul",
    { class: "evidence" },
    order.evidence.map((item) =>
      el("li", {}, `${item.author === address ? "You" : short(item.author)}: `, item.uri !== undefined ? item.uri : `file with SHA-256 ${short(item.hash)}`),
    ),
  );
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function evidenceForm(order) {
  const uriId = `evidence-uri-${order.id}`;
  const fileId = `evidence-file-${order.id}`;
  const form = el(
    "form",
    { class: "evidence-form" },
    el("label", { for: uriId }, "Evidence link (photos, messages)"),
    el("input", { id: uriId, type: "url", placeholder: "https://…", autocomplete: "off" }),
    el("label", { for: fileId }, "or a file (only its SHA-256 fingerprint goes on the chain)"),
    el("input", { id: fileId, type: "file" }),
    el("button", { type: "submit" }, "Add evidence"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signed(form.querySelector("button"), async () => {
      const uri = form.querySelector("input[type=url]").value.trim();
      const file = form.querySelector("input[type=file]").files[0];
      if (Boolean(uri) === Boolean(file)) throw new Error("give a link or a file (one of them)");
      const item = uri ? uri : await sha256(new Uint8Array(await file.arrayBuffer()));
      await signer.call("escrow.evidence", [fromHex(order.id), item], { onPending: () => say("Evidence sent; waiting for the block…") });
      say("Evidence recorded for the arbiter.", "ok");
      await loadOrders(true);
    });
  });
  return form;
}

function orderActions(order) {
  const id = fromHex(order.id);
  const buttons = [];
  const act = (label, method, done) =>
    el("button", {
      type: "button",
      onclick: (event) =>
        signed(event.currentTarget, async () => {
          await signer.call(method, [id], { onPending: () => say(`${label}: waiting for the block…`) });
          say(done, "ok");
          await loadOrders(true);
        }),
    }, label);
  if (order.state === "shipped") buttons.push(act("Confirm receipt", "escrow.confirm", "Receipt confirmed: the seller is paid."));
  if (order.state === "funded" || order.state === "shipped") buttons.push(act("Open dispute", "escrow.dispute", "Dispute opened: add your evidence for the arbiter."));
  return buttons.length ? el("div", { class: "row" }, buttons) : null;
}

/** The seller's tracking details, sealed for the buyer: readable once the wallet is unlocked. */
async function tracking(order) {
  const sealed = order.shipping_note || {};
  if (!signer || !sealed.for_buyer) return null;
  const opened = await openOrderNote(signer.key, fromHex(sealed.for_buyer), null);
  return opened === null ? null : el("p", { class: "tracking" }, `Tracking: ${fromUtf8(opened)}`);
}

async function orderCard(order) {
  const title = await listingTitle(order.listing);
  return el(
    "li",
    { "data-order": order.id, "data-state": order.state },
    el("strong", {}, `${order.quantity} × ${title}`),
    " — ",
    money(order.amount, order.symbol),
    el("p", { class: "state" }, STATE_WORDS[order.state] ? STATE_WORDS[order.state](order) : order.state),
    el("p", { class: "note" }, "Seller ", explorerLink(order.seller), " · ordered ", when(order.created_ms)),
    await tracking(order),
    ruling(order),
    evidenceList(order),
    orderActions(order),
    order.state === "disputed" ? evidenceForm(order) : null,
  );
}

async function loadOrders(force = false) {
  if (!address) return;
  const page = await client.request("GET", "/v1/orders", { query: { buyer: address, limit: 100 } });
  // Each order's own document carries its evidence; newest first.
  const orders = await Promise.all(page.orders.reverse().map((o) => client.request("GET", `/v1/orders/${o.id}`)));
  const signature = JSON.stringify(orders.map((o) => [o.id, o.state, o.evidence_count]));
  if (!force && signature === ordersShown) return;
  ordersShown = signature;
  const cards = await Promise.all(orders.map(orderCard));
  show("orders", cards.length ? cards : [el("li", {}, "No orders yet.")]);
  await loadLoyalty(); // a completed order may have earned loyalty coins
}

// --- loyalty coins and franchise ------------------------------------------------------------

async function loadLoyalty() {
  if (!address) return;
  const account = await client.account(address);
  const held = Object.entries(account.balances || {}).filter(([symbol, amount]) => BigInt(amount) > 0n && bySymbol.get(symbol)?.policy === "exclusive");
  const cards = [];
  const franchise = [];
  for (const [symbol, amount] of held) {
    let group;
    try {
      group = await client.request("GET", `/v1/loyalty/${symbol}`);
    } catch {
      continue;
    }
    const sold = [...listings.values()].filter((item) => item.symbol === symbol && item.status === "active");
    cards.push(
      el(
        "li",
        { "data-symbol": symbol },
        el("strong", {}, `${group.name}: ${money(amount, symbol)}`),
        el("p", {}, group.members.length ? "Spend it with: " : "No shop accepts it yet.", ...group.members.map((m, i) => [i ? ", " : "", explorerLink(m)])),
        sold.length ? el("p", {}, "Listings priced in it: ", sold.map((item) => item.title).join(", ")) : null,
        group.rules.length ? el("p", { class: "note" }, "Earned on purchases: ", group.rules.map((r) => `${(r.rate_bps / 100).toFixed(2)}% of ${r.symbol}`).join(", ")) : null,
      ),
    );
    for (const program of group.programs) {
      const status = await client.request("GET", `/v1/franchise/${program}/status/${address}`);
      const tree = await client.request("GET", `/v1/franchise/${program}`);
      franchise.push(
        el(
          "li",
          { "data-program": program },
          el("strong", {}, `Program ${short(program)} (${symbol})`),
          el("p", { class: "franchise-status" }, status.active ? "Active: you may sell its products" : `Not active: ${status.reasons.join(", ").replaceAll("_", " ")}`),
          el("p", {}, `You hold ${money(status.balance, symbol)}; T1 (to sell) is ${money(tree.t1, symbol)}, T2 (to run a sub-franchise) is ${money(tree.t2, symbol)}; royalty ${(tree.royalty_bps / 100).toFixed(2)}%.`),
        ),
      );
    }
  }
  show("loyalty", cards.length ? cards : [el("li", {}, "None yet.")]);
  show("franchise", franchise.length ? franchise : [el("li", {}, "No franchise programs for the coins you hold.")]);
}

// --- invoices -------------------------------------------------------------------------------

$("invoice-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("invoice-id").value.trim();
  const match = /([0-9a-fA-F]{64})(?:[?#].*)?$/.exec(text);
  if (!match) {
    say("An invoice id is 64 hex digits (or paste the /pay/… link).", "error");
    return;
  }
  location.assign(`/pay/${match[1].toLowerCase()}`);
});

// --- start ----------------------------------------------------------------------------------

async function refresh() {
  try {
    await loadOrders();
  } catch (error) {
    say(`Could not read your orders: ${error.message}`, "error");
  }
}

async function main() {
  $("order-form").addEventListener("submit", placeOrder);
  $("order-quantity").addEventListener("input", orderTotal);
  $("order-cancel").addEventListener("click", () => {
    $("order").hidden = true;
  });
  $("more-listings").addEventListener("click", () => loadListings(true).catch((error) => say(error.message, "error")));
  const file = unlockForm(async (unlocked) => {
    signer = unlocked;
    address = unlocked.address;
    await loadOrders(true);
  });
  address = file ? file.address : null;
  try {
    bySymbol = await assets();
    await loadListings();
    await loadOrders(true);
  } catch (error) {
    say(error.message, "error");
  }
  setInterval(refresh, POLL_MS);
}

main();
