// Multi-key accounts in the wallet: show an account's policy (its keys, their weights
// and the thresholds), and co-sign a transaction waiting for signatures.
//
// Signatures are gathered off chain in a signing file, the same JSON `pasar tx ...
// --unsigned --out FILE` writes and `pasar tx sign FILE` adds to (cli/signing.py):
// the page checks that the hash matches the unsigned transaction and that every
// signature in it verifies, adds this wallet's signature, and lets the person submit
// it (the node refuses it with `insufficient_signatures` until the weights suffice)
// or download it for the next signer.

import { compare, fromHex, toHex } from "../lib/bytes.js";
import { ApiError } from "../lib/client.js";
import { TX } from "../lib/hashing.js";
import { addressFromText, addressToText, verify } from "../lib/keys.js";
import { SignedTransaction, Transaction } from "../lib/tx.js";
import { assets, client, el, formatAmount, show } from "./common.js";

const FORMAT = "pasar-signing-file";
const $ = (id) => document.getElementById(id);

/** The policy of `address` as rows a person can read; `mine` marks this wallet's key. */
export async function showPolicy(address, mine) {
  const account = await client.account(address);
  const policy = account.policy;
  if (!policy || policy.default) {
    show("policy", el("p", {}, "This account has the default policy: its own key alone signs for it."));
    return;
  }
  const rows = policy.keys.map((entry) =>
    el("tr", {}, el("td", { class: "wrap" }, entry.key, entry.key === mine ? " (this wallet)" : ""), el("td", { class: "num" }, String(entry.weight))),
  );
  const t = policy.thresholds;
  const parts = [
    el("table", { id: "policy-keys" }, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Key"), el("th", { scope: "col", class: "num" }, "Weight"))), el("tbody", {}, rows)),
    el("p", { id: "policy-thresholds" }, `Signatures needed (total weight): ${t.low} for low, ${t.medium} for medium, ${t.high} for high-risk operations (payments and transfers are medium; policy, coin and governance changes are high).`),
  ];
  // large_amount counts in any coin's minor units, so it is shown for each coin held.
  if (Number(policy.large_amount) > 0) {
    const bySymbol = await assets();
    const limits = Object.keys(account.balances || {}).map((symbol) => formatAmount(policy.large_amount, bySymbol.get(symbol) ?? { symbol, decimals: 0 }));
    parts.push(el("p", {}, `Payments above ${limits.join(" or ") || `${policy.large_amount} minor units`} count as high-risk.`));
  }
  for (const scoped of policy.scoped_keys || []) {
    parts.push(el("p", { class: "wrap" }, `Scoped key ${scoped.key} may call ${scoped.methods.join(", ")}${scoped.allowance !== null ? ` (allowance ${scoped.allowance})` : ""}.`));
  }
  if (policy.recovery) parts.push(el("p", {}, `Recovery: ${policy.recovery.keys.length} recovery key(s), ${policy.recovery.threshold} needed, after ${Math.round(policy.recovery.delay_ms / 3_600_000)} h.`));
  if (!policy.keys.some((entry) => entry.key === mine)) parts.push(el("p", { class: "note" }, "This wallet's key is not one of this account's keys."));
  show("policy", parts);
}

/** A signing file's transaction and signatures, all checked; throws with the reason. */
export async function readSigningFile(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error("this is not a signing file (not JSON)");
  }
  if (!body || body.format !== FORMAT || body.version !== 1) throw new Error("this is not a pasar signing file (version 1)");
  let tx;
  let signatures;
  try {
    tx = Transaction.decode(fromHex(body.unsigned_tx));
    signatures = await Promise.all(body.signatures.map(async (entry) => [await addressFromText(entry.signer), fromHex(entry.signature)]));
  } catch (error) {
    throw new Error(`this signing file is damaged: ${error.message}`);
  }
  const hash = await tx.hash();
  if (toHex(hash) !== body.hash) throw new Error("the file's hash does not match its transaction (edited file?)");
  for (const [key, signature] of signatures) {
    if (!(await verify(key, TX, tx.chainId, hash, signature))) {
      throw new Error(`the signature of ${await addressToText(key)} does not verify for this transaction (edited file?)`);
    }
  }
  return { body, tx, hash: toHex(hash), signatures };
}

/** The signing file with `signatures` (sorted by signer, as the CLI writes them). */
async function signingFileText(file, signatures) {
  const sorted = [...signatures].sort((a, b) => compare(a[0], b[0]));
  const entries = await Promise.all(sorted.map(async ([key, signature]) => ({ signer: await addressToText(key), signature: toHex(signature) })));
  return JSON.stringify({ ...file.body, signatures: entries }, null, 2) + "\n";
}

/** What the transaction does, in words where the method is a transfer. */
async function describeCall(tx) {
  if (tx.method === "coin.transfer" && tx.args.length >= 3) {
    const [symbol, to, amount] = tx.args;
    const asset = (await assets()).get(symbol);
    return `Send ${formatAmount(amount, asset ?? { symbol, decimals: 0 })} to ${await addressToText(to)}`;
  }
  const text = (value) => (value instanceof Uint8Array ? toHex(value) : Array.isArray(value) ? `[${value.map(text).join(", ")}]` : String(value));
  return `${tx.method}(${tx.args.map(text).join(", ")})`;
}

/** Wire the co-signing form; `currentKey()` is the unlocked PrivateKey (or null). */
export function setupCosign(currentKey) {
  let file = null;
  let signatures = [];
  const status = (text, kind = "info") => {
    $("cosign-status").textContent = text;
    $("cosign-status").className = kind;
  };

  async function render() {
    const names = await Promise.all(signatures.map(([key]) => addressToText(key)));
    $("cosign-account").textContent = await addressToText(file.tx.sender);
    $("cosign-call").textContent = await describeCall(file.tx);
    $("cosign-nonce").textContent = String(file.tx.nonce);
    $("cosign-hash").textContent = file.hash;
    show("cosign-signers", names.length ? names.map((name) => el("li", { class: "wrap" }, name)) : [el("li", {}, "nobody yet")]);
    $("cosign").hidden = false;
  }

  $("cosign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    status("");
    try {
      const chosen = $("cosign-file").files[0];
      if (!chosen) throw new Error("choose a signing file");
      file = await readSigningFile(await chosen.text());
      signatures = file.signatures;
      await render();
    } catch (error) {
      $("cosign").hidden = true;
      status(error.message, "error");
    }
  });

  $("cosign-sign").addEventListener("click", async () => {
    const key = currentKey();
    if (!key || !file) return;
    const status_ = await client.status();
    if (status_.chain_id !== file.tx.chainId) return status(`this transaction is for chain ${file.tx.chainId}, not this node's ${status_.chain_id}`, "error");
    const mine = await file.tx.signatureBy(key);
    signatures = [...signatures.filter(([k]) => toHex(k) !== toHex(key.publicKey)), mine];
    await render();
    status("Signed by this wallet. Submit it, or download the file for the next signer.", "ok");
  });

  $("cosign-save").addEventListener("click", async () => {
    if (!file) return;
    const blob = new Blob([await signingFileText(file, signatures)], { type: "application/json" });
    const link = el("a", { href: URL.createObjectURL(blob), download: `pasar-sign-${file.hash.slice(0, 12)}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  });

  $("cosign-submit").addEventListener("click", async () => {
    if (!file) return;
    if (signatures.length === 0) return status("Nobody has signed it yet.", "error");
    try {
      const answer = await client.submitTx(SignedTransaction.build(file.tx, signatures));
      if (!answer.accepted) throw new ApiError(200, answer.code, answer.message || answer.code);
      status("pending: waiting for the block…");
      const done = await client.waitTx(file.hash, { timeoutMs: 60_000 });
      if (done.status === "committed") status(`committed in block ${done.height}`, "ok");
      else if (done.status === "rejected") status(`rejected: ${done.receipt?.message || done.receipt?.code}`, "error");
      else status(`still ${done.status}`);
    } catch (error) {
      status(`The node refused it: ${error.message}`, "error");
    }
  });
}
