// The arbiter desk: the orders that name this wallet as arbiter (GET /v1/orders?arbiter=),
// each dispute with its evidence, the buyer's address and the seller's tracking note
// (sealed for the arbiter too, opened here with the wallet's key), and a ruling that
// splits what escrow holds, after the arbiter's fee, between buyer and seller
// (`escrow.rule`, signed in the page). The fee is computed as contracts/arbiter.py does,
// so the two shares the form proposes always add up to what the contract requires.

import { fromHex, fromUtf8 } from "../lib/bytes.js";
import { openOrderNote } from "../lib/sealedbox.js";
import { assets, client, el, formatAmount, parseAmount, short, show } from "./common.js";
import { act, duration, say, unlockForm, when } from "./signer.js";

const POLL_MS = 4000;
const BASIS_POINTS = 10_000n;
const DAY_MS = 24n * 3600n * 1000n;
const $ = (id) => document.getElementById(id);
let signer = null;
let bySymbol = new Map();
let shown = ""; // the orders' ids and states last drawn: an unchanged list is not rebuilt

function money(minor, symbol) {
  return formatAmount(minor, bySymbol.get(symbol) ?? { symbol, decimals: 0 });
}

/** The arbiter's fee on `held`, as ArbiterTerms.fee: the rate, within the coin's bounds. */
export function arbiterFee(held, feeBps, minFee, maxFee) {
  const rate = (BigInt(held) * BigInt(feeBps)) / BASIS_POINTS;
  const floor = rate > BigInt(minFee) ? rate : BigInt(minFee);
  const capped = floor < BigInt(maxFee) ? floor : BigInt(maxFee);
  return capped < BigInt(held) ? capped : BigInt(held);
}

function evidenceList(order) {
  const items = order.evidence || [];
  if (items.length === 0) return el("p", { class: "evidence" }, "No evidence yet.");
  const who = (author) => (author === order.buyer ? "Buyer" : author === order.seller ? "Seller" : short(author));
  return el(
    "ul",
    { class: "evidence" },
    items.map((item) => el("li", {}, `${who(item.author)} (${when(item.time_ms)}): `, item.uri !== undefined ? item.uri : `file with SHA-256 ${item.hash}`)),
  );
}

/** A button that opens a note sealed for the arbiter and shows it in a line below. */
function noteReader(label, prefix, sealedPair) {
  const out = el("p", { class: "sealed", "aria-live": "polite" });
  const button = el("button", {
    type: "button",
    class: "secondary",
    onclick: (event) =>
      act(event.currentTarget, async () => {
        const [first, second] = sealedPair;
        if (!first && !second) {
          out.textContent = "None was left.";
          return;
        }
        const opened = await openOrderNote(signer.key, first ? fromHex(first) : null, second ? fromHex(second) : null);
        out.textContent = opened === null ? "This note was not sealed for your key." : `${prefix}${fromUtf8(opened)}`;
      }),
  }, label);
  return [button, out];
}

function rulingForm(order) {
  const asset = bySymbol.get(order.symbol) ?? { symbol: order.symbol, decimals: 0 };
  const decimals = Number(asset.decimals);
  const fee = arbiterFee(order.held, order.fee_bps, order.min_fee, order.max_fee);
  const toSplit = BigInt(order.held) - fee;
  const inputId = `buyer-share-${order.id}`;
  const seller = el("p", { class: "seller-share", "aria-live": "polite" });
  const input = el("input", { id: inputId, type: "text", inputmode: "decimal", autocomplete: "off", value: formatAmount(toSplit, { ...asset, symbol: "" }).trim(), required: true });
  const sellerShare = () => {
    const buyer = parseAmount(input.value, decimals, { allowZero: true });
    if (buyer > toSplit) throw new Error(`the buyer's share is at most ${money(toSplit, order.symbol)}`);
    return [buyer, toSplit - buyer];
  };
  const update = () => {
    try {
      seller.textContent = `To the seller: ${money(sellerShare()[1], order.symbol)}`;
    } catch (error) {
      seller.textContent = error.message;
    }
  };
  input.addEventListener("input", update);
  const preset = (label, buyer) =>
    el("button", {
      type: "button",
      class: "secondary",
      onclick: () => {
        input.value = formatAmount(buyer, { ...asset, symbol: "" }).trim();
        update();
      },
    }, label);
  const form = el(
    "form",
    { class: "ruling-form" },
    el("p", {}, `Escrow holds ${money(order.held, order.symbol)}; your fee is ${money(fee, order.symbol)}, so ${money(toSplit, order.symbol)} is split.`),
    el("label", { for: inputId }, "To the buyer"),
    input,
    seller,
    el("p", {}, preset("All to the buyer", toSplit), " ", preset("Half each", toSplit / 2n), " ", preset("All to the seller", 0n)),
    el("button", { type: "submit" }, "Rule"),
  );
  update();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, async () => {
      const [buyer, sellerAmount] = sellerShare();
      await signer.call("escrow.rule", [fromHex(order.id), buyer, sellerAmount], { onPending: () => say("Ruling sent; waiting for the block…") });
      say(`Ruled: ${money(buyer, order.symbol)} to the buyer, ${money(sellerAmount, order.symbol)} to the seller.`, "ok");
      await loadOrders(true);
    });
  });
  return form;
}

function disputeCard(order) {
  const late = Date.now() >= Number(order.rule_by_ms);
  return el(
    "li",
    { "data-order": order.id, "data-state": order.state },
    el("strong", {}, `Order ${short(order.id)}`),
    ` — ${money(order.amount, order.symbol)}`,
    el("p", { class: "state" }, late ? `The ruling was due ${when(order.rule_by_ms)}: escrow now refunds the buyer by default.` : `Rule by ${when(order.rule_by_ms)} (${duration(Number(order.rule_by_ms) - Date.now())} left)`),
    el("p", { class: "note" }, `Disputed by the ${order.disputed_by === order.buyer ? "buyer" : "seller"} · buyer ${short(order.buyer)} · seller ${short(order.seller)} · shipped ${order.shipped_ms ? when(order.shipped_ms) : "no"}`),
    evidenceList(order),
    noteReader("Read the buyer's address", "Shipping address: ", [null, (order.note || {}).for_arbiter]),
    noteReader("Read the tracking note", "Tracking: ", [null, (order.shipping_note || {}).for_arbiter]),
    late ? null : rulingForm(order),
  );
}

const OTHER_WORDS = {
  funded: "Paid into escrow, not shipped yet",
  shipped: "Shipped, within the buyer's protection window",
  completed: "Completed: paid to the seller",
  refunded: "Refunded to the buyer",
  cancelled: "Cancelled",
  resolved: "Ruled",
};

function otherCard(order) {
  const ruling = order.state === "resolved" ? ` (${money(order.refunded, order.symbol)} to the buyer, ${money(order.released, order.symbol)} to the seller, your fee ${money(order.arbiter_fee, order.symbol)})` : "";
  return el(
    "li",
    { "data-order": order.id, "data-state": order.state },
    el("strong", {}, `Order ${short(order.id)}`),
    ` — ${money(order.amount, order.symbol)}`,
    el("p", { class: "state" }, `${OTHER_WORDS[order.state] ?? order.state}${ruling}`),
  );
}

async function loadOrders(force = false) {
  const page = await client.request("GET", "/v1/orders", { query: { arbiter: signer.address, limit: 200 } });
  const signature = JSON.stringify(page.orders.map((o) => [o.id, o.state]));
  if (!force && signature === shown) return;
  shown = signature;
  const newest = page.orders.reverse();
  // Evidence is only in the single-order answer, and only disputes need it.
  const disputes = await Promise.all(newest.filter((o) => o.state === "disputed").map((o) => client.request("GET", `/v1/orders/${o.id}`)));
  show("disputes", disputes.length ? disputes.map(disputeCard) : [el("li", {}, "No open disputes.")]);
  const others = newest.filter((o) => o.state !== "disputed");
  show("others", others.length ? others.map(otherCard) : [el("li", {}, "None.")]);
}

async function loadSchedule() {
  try {
    const schedule = await client.request("GET", `/v1/arbiters/${signer.address}`);
    const bounds = schedule.coin_bounds.map((b) => `${b.symbol} ${money(b.min_fee, b.symbol)}–${money(b.max_fee, b.symbol)}`).join(", ");
    $("schedule").textContent = `${(schedule.fee_bps / 100).toFixed(2)}% of what escrow holds, ruling within ${duration(schedule.ruling_ms)}${bounds ? `; fee bounds ${bounds}` : ""}. Orders keep the terms of their day.`;
  } catch (error) {
    if (error.code !== "schedule_not_found") throw error;
    $("schedule").textContent = "Not published yet: sellers can name you, but buyers see no terms.";
  }
}

async function publish(event) {
  event.preventDefault();
  await act(event.submitter, async () => {
    const bps = parseAmount($("schedule-fee").value, 2);
    const days = BigInt($("schedule-days").value);
    await signer.call("arbiter.publish", [bps, days * DAY_MS], { onPending: () => say("Schedule sent; waiting for the block…") });
    say("Schedule published.", "ok");
    await loadSchedule();
  });
}

async function refresh() {
  if (!signer) return;
  try {
    await loadOrders();
  } catch (error) {
    say(`Could not read orders: ${error.message}`, "error");
  }
}

async function main() {
  $("schedule-form").addEventListener("submit", publish);
  try {
    bySymbol = await assets();
  } catch (error) {
    say(error.message, "error");
  }
  unlockForm(async (unlocked) => {
    signer = unlocked;
    $("desk").hidden = false;
    await Promise.all([loadOrders(true), loadSchedule()]);
  });
  setInterval(refresh, POLL_MS);
}

main();
