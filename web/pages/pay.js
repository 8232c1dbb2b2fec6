// The checkout page a shop sends a buyer to: /pay/{invoice}?return=URL. It shows the
// merchant, amount and expiry, lets the buyer pay with a coin they hold (the invoice's
// coin, or another one swapped through the order book at a quoted maximum), follows
// the payment to its commit and then offers the way back to the shop.

import { fromHex, toHex } from "../lib/bytes.js";
import { ApiError } from "../lib/client.js";
import { addressToText } from "../lib/keys.js";
import { Transaction } from "../lib/tx.js";
import { assets, client, el, formatAmount, parseAmount } from "./common.js";
import { open } from "./vault.js";

const WALLET_KEY = "pasar.wallet";
const SLIPPAGE_BPS = 100n; // a swap may cost at most 1% more than quoted
const POLL_MS = 3000;
const $ = (id) => document.getElementById(id);
const invoiceId = location.pathname.split("/").pop().toLowerCase();
let invoice = null;

function say(text, kind = "info") {
  $("message").textContent = text;
  $("message").className = kind;
}

/** The shop's return address, only when it is an http(s) URL. */
function returnUrl() {
  const text = new URLSearchParams(location.search).get("return");
  if (!text) return null;
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

async function load() {
  const bySymbol = await assets();
  invoice = await client.request("GET", `/v1/invoices/${invoiceId}`);
  const asset = bySymbol.get(invoice.symbol);
  $("merchant").textContent = invoice.merchant;
  $("amount").textContent = formatAmount(invoice.amount, asset);
  $("reference").textContent = invoice.reference || "—";
  $("expiry").textContent = new Date(Number(invoice.expiry_ms)).toLocaleString();
  $("status").textContent = invoice.status;
  const open_ = invoice.status === "open";
  if (!open_) {
    $("pay").hidden = true;
    $("no-wallet").hidden = true;
  }
  if (invoice.status === "paid") {
    say(`Paid${invoice.pay_symbol ? ` with ${formatAmount(invoice.pay_amount, bySymbol.get(invoice.pay_symbol))}` : ""}.`, "ok");
    const back = returnUrl();
    if (back) {
      $("return-link").href = back.href;
      $("return-link").textContent = `Return to ${back.host}`;
      $("return").hidden = false;
    }
  }
  return open_;
}

async function payerCoins(address) {
  const account = await client.account(address);
  return Object.entries(account.balances || {}).filter(([, amount]) => BigInt(amount) > 0n);
}

/** What paying in `symbol` costs now: the amount itself, or the order book's quote. */
async function cost(symbol) {
  if (symbol === invoice.symbol) return BigInt(invoice.amount);
  const quote = await client.request("GET", "/v1/exchange/quote", { query: { pay: symbol, receive: invoice.symbol, receive_amount: invoice.amount } });
  return BigInt(quote.paid);
}

/** The quote plus the 1% margin the page proposes as the most to accept. */
function withMargin(paid) {
  return paid + (paid * SLIPPAGE_BPS + 9999n) / 10000n;
}

/** Show what paying with the chosen coin costs, and propose the most to accept. */
async function showQuote() {
  const symbol = $("pay-coin").value;
  const button = $("pay-form").querySelector("button");
  if (!symbol) return;
  const same = symbol === invoice.symbol;
  $("max-box").hidden = same;
  $("quote").textContent = "";
  if (same) {
    button.disabled = false;
    return;
  }
  try {
    const asset = (await assets()).get(symbol);
    const paid = await cost(symbol);
    $("pay-max").value = formatAmount(withMargin(paid), asset).replace(/ \S+$/, "").replace(/,/g, "");
    $("quote").textContent = `The order book swaps ${formatAmount(paid, asset)} into ${formatAmount(invoice.amount, (await assets()).get(invoice.symbol))} now; the payment is refused if it would cost more than what you accept.`;
    button.disabled = false;
  } catch (error) {
    $("quote").textContent = `Cannot pay with ${symbol} now: ${error.message}`;
    button.disabled = true;
  }
}

/** The most of `symbol` the signed payment may take. */
async function maxPay(symbol) {
  if (symbol === invoice.symbol) return BigInt(invoice.amount);
  const asset = (await assets()).get(symbol);
  return parseAmount($("pay-max").value, Number(asset?.decimals ?? 0));
}

async function main() {
  try {
    if (!/^[0-9a-f]{64}$/.test(invoiceId)) throw new Error("this is not an invoice link");
    const payable = await load();
    if (!payable) return;
    const stored = localStorage.getItem(WALLET_KEY);
    if (!stored) {
      $("no-wallet").hidden = false;
      return;
    }
    const file = JSON.parse(stored);
    $("payer").textContent = file.address;
    const bySymbol = await assets();
    const held = await payerCoins(file.address);
    $("pay-coin").replaceChildren(
      ...held.map(([symbol, amount]) => el("option", { value: symbol, selected: symbol === invoice.symbol }, `${symbol} (you hold ${formatAmount(amount, bySymbol.get(symbol))})`)),
    );
    $("pay-coin").addEventListener("change", showQuote);
    $("pay").hidden = false;
    showQuote();
  } catch (error) {
    say(error instanceof ApiError && error.status === 404 ? "No such invoice." : error.message, "error");
  }
}

$("pay-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("pay-form").querySelector("button");
  button.disabled = true;
  try {
    say("Unlocking the wallet…");
    const key = await open(JSON.parse(localStorage.getItem(WALLET_KEY)), $("pay-passphrase").value);
    const address = await addressToText(key.publicKey);
    const symbol = $("pay-coin").value;
    const most = await maxPay(symbol);
    const [status, account] = await Promise.all([client.status(), client.account(address)]);
    const tx = new Transaction({ chainId: status.chain_id, sender: key.publicKey, nonce: account.nonce, method: "invoice.pay", args: [fromHex(invoiceId), symbol, most] });
    const hash = toHex(await tx.hash());
    const answer = await client.submitTx(await tx.sign(key));
    if (!answer.accepted) throw new Error(`the node refused it: ${answer.code} ${answer.message || ""}`);
    $("pay-passphrase").value = "";
    $("status").textContent = "payment pending";
    say("Payment sent; waiting for the block…");
    const done = await client.waitTx(hash, { timeoutMs: 60_000 });
    if (done.status === "rejected") throw new Error(`the payment was refused: ${done.receipt?.message || done.receipt?.code}`);
    if (done.status !== "committed") throw new Error(`the payment is still ${done.status}; this page keeps watching the invoice`);
    await load();
  } catch (error) {
    say(error.message, "error");
    button.disabled = false;
  }
});

// Another tab or device may pay it: keep the status live while it is open.
setInterval(() => {
  if (invoice && invoice.status === "open") load().catch(() => {});
}, POLL_MS);

main();
