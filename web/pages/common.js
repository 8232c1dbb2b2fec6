// What every page shares: the same-origin client, the asset list, amounts in words
// (never raw minor units), the pinned genesis, and a DOM helper that only ever sets
// text (never HTML), so nothing a node or a user typed can run as markup.

import { Client } from "../lib/client.js";
import { ProofError } from "../lib/proof.js";
import { CodecError } from "../lib/codec.js";

export const client = new Client(location.origin);

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" || typeof child === "number" || typeof child === "bigint" ? String(child) : child);
  }
  return node;
}

/** Replace the children of the element with id `id`. */
export function show(id, ...children) {
  const node = document.getElementById(id);
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

let assetsPromise = null;

/** Every asset by symbol: {symbol, name, decimals, ...} (read once per page load). */
export function assets() {
  if (assetsPromise === null) {
    assetsPromise = (async () => {
      const bySymbol = new Map();
      let cursor = null;
      for (let page = 0; page < 100; page++) {
        const answer = await client.request("GET", "/v1/assets", { query: { limit: 500, cursor } });
        for (const asset of answer.assets) bySymbol.set(asset.symbol, asset);
        cursor = answer.next_cursor;
        if (cursor === null || cursor === undefined) break;
      }
      return bySymbol;
    })();
    assetsPromise.catch(() => {
      assetsPromise = null; // try again next time
    });
  }
  return assetsPromise;
}

/** "1,234.50 IDRA" from minor units and the coin's decimals. */
export function formatAmount(minor, asset) {
  const decimals = asset ? Number(asset.decimals) : 0;
  let units = BigInt(minor);
  const negative = units < 0n;
  if (negative) units = -units;
  const scale = 10n ** BigInt(decimals);
  const whole = (units / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = decimals > 0 ? "." + (units % scale).toString().padStart(decimals, "0") : "";
  return `${negative ? "-" : ""}${whole}${fraction}${asset ? " " + asset.symbol : ""}`;
}

/** Minor units of a typed amount like "12.5" for a coin with `decimals`; throws with a reason.
 * Zero is refused unless `allowZero` (a ruling may give one side nothing). */
export function parseAmount(text, decimals, { allowZero = false } = {}) {
  const clean = String(text).trim().replace(/,/g, "");
  const match = /^(\d+)(?:\.(\d*))?$/.exec(clean);
  if (!match) throw new Error("type an amount like 12.50");
  const fraction = match[2] || "";
  if (fraction.length > decimals) throw new Error(`this coin has ${decimals} decimal places`);
  const minor = BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  if (minor < 0n || (minor === 0n && !allowZero)) throw new Error("the amount must be more than zero");
  return minor;
}

const PIN_KEY = "pasar.genesis";

/** The chain's trust anchor: the genesis hash is pinned in this browser on first visit,
 * and a node that later serves another genesis is refused. */
export async function trustAnchor() {
  const pinned = localStorage.getItem(PIN_KEY);
  const { hash, anchor } = await client.genesis(pinned ? { expectedHash: pinned } : {});
  if (!pinned) localStorage.setItem(PIN_KEY, hash);
  return { hash, anchor };
}

/** Why a proof was refused, in words (ProofError and CodecError are the expected ones). */
export function proofProblem(error) {
  if (error instanceof ProofError || error instanceof CodecError) return error.message;
  return `${error.name || "Error"}: ${error.message}`;
}

/** Short form of a long hex or address for tables. */
export function short(text) {
  const s = String(text);
  return s.length > 20 ? `${s.slice(0, 10)}…${s.slice(-6)}` : s;
}

/** A receipt event in words, with amounts in their coin's decimals. */
export function describeEvent(event, bySymbol) {
  const a = event.attributes || {};
  const asset = bySymbol.get(a.symbol);
  const who = (value) => (value && typeof value === "object" && "hex" in value ? short(value.hex) : String(value));
  if (event.name === "coin.transfer") return `${formatAmount(a.amount, asset)} moved from ${who(a.from)} to ${who(a.to)}`;
  if (event.name === "coin.minted") return `${formatAmount(a.amount, asset)} issued to ${who(a.to)}`;
  if (event.name === "coin.burned") return `${formatAmount(a.amount, asset)} burned by ${who(a.from)}`;
  const parts = Object.entries(a).map(([k, v]) => `${k} ${typeof v === "object" && v !== null ? who(v) : String(v)}`);
  return `${event.name}${parts.length ? ": " + parts.join(", ") : ""}`;
}
