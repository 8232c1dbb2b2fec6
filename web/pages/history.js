// The wallet's history: every transaction of the account, from the node's resumable
// event stream (GET /v1/events?account=), told in words from the account's side
// ("Sent 10.50 IDRA to …", "Received …", "Paid an invoice …, platform fee …").
//
// The stream's cursor and the entries seen are kept in localStorage per address, so
// a reopened wallet resumes where it stopped instead of replaying the chain, and a
// dropped connection resumes from the last id without missing or repeating anything.

import { fromHex } from "../lib/bytes.js";
import { addressToText } from "../lib/keys.js";
import { client, formatAmount, short } from "./common.js";

const STORE_PREFIX = "pasar.history.";
const KEEP = 200; // entries kept per account (the oldest are dropped)
const RETRY_MS = 2000;
const SAVE_MS = 1000;

function load(address) {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_PREFIX + address) || "null");
    if (saved && Array.isArray(saved.entries)) return saved;
  } catch {
    // a damaged entry: start over
  }
  return { cursor: null, entries: [] };
}

function save(address, history) {
  history.entries = history.entries.slice(-KEEP);
  localStorage.setItem(STORE_PREFIX + address, JSON.stringify(history));
}

/** Start this address's history at the chain's current height (a key made just now has
 * nothing before it, so there is nothing to replay). */
export function startAt(address, height) {
  save(address, { cursor: String(height), entries: [] });
}

async function who(value) {
  if (value && typeof value === "object" && typeof value.hex === "string" && value.hex.length === 64) {
    return addressToText(fromHex(value.hex));
  }
  return String(value);
}

// Attributes that name accounts (shown as addresses); other 32-byte values are ids.
const ACCOUNT_FIELDS = new Set(["from", "to", "issuer", "seller", "buyer", "platform", "account", "member", "owner", "arbiter", "sender", "recipient", "merchant", "payer", "trader"]);

const isMe = (value, me) => Boolean(value && typeof value === "object" && value.hex === me);

/** Sentences for one receipt event, from the point of view of the account `me` (hex). */
async function eventWords(event, me, bySymbol) {
  const a = event.attributes || {};
  const money = (amount, symbol = a.symbol) => formatAmount(amount, bySymbol.get(symbol) ?? { symbol, decimals: 0 });
  const known = (kind, text) => ({ kind, text, known: true });
  switch (event.name) {
    case "coin.transfer":
      if (isMe(a.from, me) && isMe(a.to, me)) return known("other", `Moved ${money(a.amount)} to yourself`);
      if (isMe(a.from, me)) return known("sent", `Sent ${money(a.amount)} to ${await who(a.to)}`);
      if (isMe(a.to, me)) return known("received", `Received ${money(a.amount)} from ${await who(a.from)}`);
      break;
    case "coin.minted":
      if (isMe(a.to, me)) return known("received", `Received ${money(a.amount)} newly issued`);
      break;
    case "invoice.paid": {
      const fee = BigInt(a.commission ?? 0) > 0n ? `, platform fee ${money(a.commission)}` : "";
      if (isMe(a.payer, me)) {
        const swapped = a.pay_symbol && a.pay_symbol !== a.symbol ? ` (paid with ${money(a.pay_amount, a.pay_symbol)})` : "";
        return known("sent", `Paid an invoice of ${money(a.amount)} to ${await who(a.merchant)}${swapped}`);
      }
      if (isMe(a.merchant, me)) return known("received", `Received ${money(a.net ?? a.amount)} for an invoice of ${money(a.amount)} from ${await who(a.payer)}${fee}`);
      break;
    }
    case "payment.paid": {
      const fee = BigInt(a.commission ?? 0) > 0n ? `, platform fee ${money(a.commission)}` : "";
      if (isMe(a.buyer, me)) return known("sent", `Paid ${money(a.amount)} to ${await who(a.seller)}`);
      if (isMe(a.seller, me)) return known("received", `Received ${money(a.net ?? a.amount)} from ${await who(a.buyer)}${fee}`);
      if (isMe(a.platform, me)) return known("received", `Earned a platform fee of ${money(a.commission)}`);
      break;
    }
    case "exchange.swapped":
      if (isMe(a.trader, me)) return known("other", `Swapped ${money(a.paid, a.pay_symbol)} for ${money(a.received, a.receive_symbol)}`);
      break;
    default:
      break;
  }
  // Any other event naming the account: its name and fields, amounts in decimals.
  const parts = [];
  for (const [name, value] of Object.entries(a)) {
    let text = String(value);
    if (value && typeof value === "object" && "hex" in value) text = ACCOUNT_FIELDS.has(name) ? await who(value) : short(value.hex);
    if (a.symbol && bySymbol.has(a.symbol) && /^(amount|net|commission|fee|royalty|paid|received|price)$/.test(name)) text = money(value);
    parts.push(`${name.replace(/_/g, " ")} ${isMe(value, me) ? "you" : text}`);
  }
  return { kind: "other", text: `${event.name.replace(".", " ").replace(/_/g, " ")}: ${parts.join(", ")}` };
}

function mentions(value, me) {
  if (Array.isArray(value)) return value.some((item) => mentions(item, me));
  return isMe(value, me);
}

/** The history entries of one stream event for the account `me` (hex). */
export async function entriesOf(frame, me, bySymbol) {
  const data = frame.data;
  const events = frame.event === "tx" ? data.receipt?.events || [] : data.end_block_events || [];
  const entries = [];
  for (const event of events) {
    if (!Object.values(event.attributes || {}).some((value) => mentions(value, me))) continue;
    entries.push({ ...(await eventWords(event, me, bySymbol)), height: data.height, hash: data.hash ?? null, status: data.status ?? "committed" });
  }
  // One payment emits several events (the payment, the swap inside it, the sale record):
  // when some are told in words, the bookkeeping ones add nothing.
  if (entries.some((entry) => entry.known)) {
    const told = entries.filter((entry) => entry.known);
    entries.length = 0;
    entries.push(...told);
  }
  if (frame.event === "tx" && entries.length === 0 && data.receipt) {
    // Sent by the account but naming it nowhere else (or refused): say what it asked for.
    const text = data.status === "rejected" ? `${data.method} was rejected: ${data.receipt.message || data.receipt.code}` : `Called ${data.method}`;
    entries.push({ kind: "other", text, height: data.height, hash: data.hash, status: data.status });
  }
  return entries;
}

/** Follow the account's history until `signal` aborts: `show(entries)` gets all entries
 * (oldest first) at start and after each change; `onTx(data)` each transaction event. */
export async function follow(address, publicKeyHex, bySymbol, { show, onTx, signal }) {
  const history = load(address);
  let savedAt = 0;
  show(history.entries);
  while (!signal.aborted) {
    try {
      for await (const frame of client.events({ cursor: history.cursor ?? 0, account: address, signal })) {
        if (frame.event === "tx") onTx?.(frame.data);
        const added = await entriesOf(frame, publicKeyHex, bySymbol);
        history.cursor = frame.id;
        if (added.length) {
          history.entries.push(...added);
          show(history.entries);
        }
        // Entries are saved at once; a cursor alone at most once a second (a replay of
        // many empty blocks would otherwise write the storage for each), so a reopened
        // wallet may re-read a second of blocks that add nothing.
        if (added.length || Date.now() - savedAt >= SAVE_MS) {
          save(address, history);
          savedAt = Date.now();
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
