// The wallet page: create or import a key, keep it encrypted in localStorage, show
// balances in every coin, send transfers signed here, and follow each to its commit.

import { toHex } from "../lib/bytes.js";
import { ApiError } from "../lib/client.js";
import { PrivateKey, addressFromText, addressToText } from "../lib/keys.js";
import { Transaction } from "../lib/tx.js";
import { assets, client, el, formatAmount, parseAmount, show } from "./common.js";
import { setupCosign, showPolicy } from "./cosign.js";
import { follow, startAt } from "./history.js";
import { open, seal } from "./vault.js";

const STORE_KEY = "pasar.wallet";
const REFRESH_MS = 3000;
let key = null; // the unlocked PrivateKey, in this page's memory only
let address = null;
let refreshTimer = null;
let historyStop = null; // aborts the event stream behind the history
const pending = new Map(); // hash -> words, for transactions sent from this page

const $ = (id) => document.getElementById(id);

function say(text, kind = "info") {
  const node = $("message");
  node.textContent = text;
  node.className = kind;
}

function stored() {
  const text = localStorage.getItem(STORE_KEY);
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function section(name) {
  for (const id of ["setup", "locked", "open"]) $(id).hidden = id !== name;
}

function render() {
  const file = stored();
  if (key) {
    section("open");
    $("address").textContent = address;
    if (!$("policy-account").value) $("policy-account").value = address;
    refresh();
  } else if (file) {
    section("locked");
    $("locked-address").textContent = file.address;
    $("unlock-passphrase").focus();
  } else {
    section("setup");
  }
}

async function refresh() {
  clearTimeout(refreshTimer);
  if (!key) return;
  try {
    const [bySymbol, account] = await Promise.all([assets(), client.account(address)]);
    const rows = [];
    const held = Object.entries(account.balances || {}).filter(([, amount]) => BigInt(amount) > 0n);
    for (const [symbol, amount] of held) {
      const asset = bySymbol.get(symbol);
      rows.push(el("tr", {}, el("td", {}, asset ? `${asset.name} (${symbol})` : symbol), el("td", { class: "num", "data-symbol": symbol }, formatAmount(amount, asset ?? { symbol, decimals: 0 }))));
    }
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 2 }, "No coins yet: share your address to receive some.")));
    show("balances", rows);
    const select = $("send-coin");
    const chosen = select.value;
    select.replaceChildren(...held.map(([symbol]) => el("option", { value: symbol, selected: symbol === chosen }, symbol)));
  } catch (error) {
    say(`Could not read balances: ${error.message}`, "error");
  }
  refreshTimer = setTimeout(refresh, REFRESH_MS);
}

function showHistory(entries) {
  const items = [...entries].reverse().map((entry) =>
    el(
      "li",
      { class: entry.kind, "data-hash": entry.hash },
      el("span", { class: "what" }, entry.text),
      " ",
      el("span", { class: "when" }, entry.status === "rejected" ? `rejected in block ${entry.height}` : `block ${entry.height}`),
      entry.hash ? [" ", el("a", { href: `/explorer?tx=${entry.hash}` }, "details")] : null,
    ),
  );
  if (items.length === 0) items.push(el("li", {}, "Nothing yet."));
  show("history", items);
}

async function startHistory() {
  historyStop?.abort();
  historyStop = new AbortController();
  const bySymbol = await assets();
  follow(address, toHex(key.publicKey), bySymbol, {
    show: showHistory,
    signal: historyStop.signal,
    // The stream confirms a sent transaction as soon as its block is committed.
    onTx: (data) => {
      const words = pending.get(data.hash);
      if (words === undefined) return;
      pending.delete(data.hash);
      statusLine(data.hash, data.status === "committed" ? `committed in block ${data.height}: ${words}` : `rejected: ${data.receipt?.code ?? "refused"}`);
    },
  });
}

async function unlockWith(newKey) {
  key = newKey;
  address = await addressToText(key.publicKey);
  render();
  startHistory();
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const passphrase = $("create-passphrase").value;
  if (passphrase !== $("create-confirm").value) return say("The two passphrases differ.", "error");
  say("Creating your key…");
  try {
    const fresh = await PrivateKey.generate();
    const { height } = await client.status();
    localStorage.setItem(STORE_KEY, JSON.stringify(await seal(fresh, passphrase)));
    startAt(await addressToText(fresh.publicKey), height); // a new key has no past to replay
    $("create-form").reset();
    say("Wallet created. Export the key file and keep it safe: without it and the passphrase the coins are lost.", "ok");
    await unlockWith(fresh);
  } catch (error) {
    say(error.message, "error");
  }
});

$("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("import-file").files[0];
  if (!file) return say("Choose a key file.", "error");
  say("Opening the key file…");
  try {
    let parsed;
    try {
      parsed = JSON.parse(await file.text());
    } catch {
      throw new Error("this is not a pasar key file");
    }
    const imported = await open(parsed, $("import-passphrase").value);
    localStorage.setItem(STORE_KEY, JSON.stringify(parsed));
    $("import-form").reset();
    say("Key imported.", "ok");
    await unlockWith(imported);
  } catch (error) {
    say(error.message, "error");
  }
});

$("unlock-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  say("Unlocking…");
  try {
    const opened = await open(stored(), $("unlock-passphrase").value);
    $("unlock-form").reset();
    say("");
    await unlockWith(opened);
  } catch (error) {
    say(error.message, "error");
  }
});

$("forget").addEventListener("click", () => {
  if (!confirm("Remove the encrypted key from this browser? Without an exported key file the coins are lost.")) return;
  localStorage.removeItem(STORE_KEY);
  render();
});

$("lock").addEventListener("click", () => {
  key = null;
  address = null;
  clearTimeout(refreshTimer);
  historyStop?.abort();
  say("Locked.");
  render();
});

$("copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(address);
    say("Address copied.", "ok");
  } catch {
    say("Copy the address by selecting it.", "error");
  }
});

$("export").addEventListener("click", () => {
  const blob = new Blob([localStorage.getItem(STORE_KEY)], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: `pasar-key-${address.slice(0, 14)}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
});

function statusLine(hash, text) {
  const id = `sent-${hash}`;
  let item = document.getElementById(id);
  if (!item) {
    item = el("li", { id, "data-hash": hash });
    $("sent").prepend(item);
  }
  item.replaceChildren(el("a", { href: `/explorer?tx=${hash}` }, hash.slice(0, 12) + "…"), " ", el("span", { class: "status" }, text));
}

$("send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!key) return;
  const button = event.submitter ?? $("send-form").querySelector("button");
  button.disabled = true;
  try {
    const symbol = $("send-coin").value;
    const bySymbol = await assets();
    const asset = bySymbol.get(symbol);
    if (!asset) throw new Error("choose a coin you hold");
    let recipient;
    try {
      recipient = await addressFromText($("send-to").value);
    } catch (error) {
      throw new Error(`the address is wrong: ${error.message}`);
    }
    const amount = parseAmount($("send-amount").value, Number(asset.decimals));
    const [status, account] = await Promise.all([client.status(), client.account(address)]);
    const tx = new Transaction({ chainId: status.chain_id, sender: key.publicKey, nonce: account.nonce, method: "coin.transfer", args: [symbol, recipient, amount] });
    const signed = await tx.sign(key);
    const hash = toHex(await tx.hash());
    const answer = await client.submitTx(signed);
    if (!answer.accepted) throw new Error(`the node refused it: ${answer.code} ${answer.message || ""}`);
    $("send-form").reset();
    statusLine(hash, `pending: ${formatAmount(amount, asset)}`);
    pending.set(hash, formatAmount(amount, asset));
    say(`Sent ${formatAmount(amount, asset)}; waiting for the block…`);
    const done = await client.waitTx(hash, { timeoutMs: 60_000 });
    pending.delete(hash);
    if (done.status === "committed") {
      statusLine(hash, `committed in block ${done.height}: ${formatAmount(amount, asset)}`);
      say("Transfer committed.", "ok");
    } else if (done.status === "rejected") {
      statusLine(hash, `rejected: ${done.receipt?.code ?? "refused"}`);
      say(`The transfer was rejected: ${done.receipt?.message || done.receipt?.code}`, "error");
    } else {
      statusLine(hash, `still ${done.status}`);
    }
    refresh();
  } catch (error) {
    say(error instanceof ApiError ? `The node refused it: ${error.message}` : error.message, "error");
  } finally {
    button.disabled = false;
  }
});

$("policy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const text = $("policy-account").value.trim();
    await addressFromText(text); // a typo is named before asking the node
    await showPolicy(text, address);
  } catch (error) {
    show("policy", el("p", { class: "error" }, error instanceof ApiError && error.status === 404 ? "No such account." : error.message));
  }
});

setupCosign(() => key);

render();
