// The merchant SDK's essentials for JavaScript (Node.js 20 and browsers, no
// dependencies), mirroring the Python one (cli/merchant, docs/merchants.md):
// create an invoice with the merchant's (scoped) key, build the checkout link, wait
// for the payment, check a webhook's Standard Webhooks signature (WebCrypto
// HMAC-SHA256, also in Node through globalThis.crypto.subtle) and check a payment's
// proof bundle offline (proof.js). Node errors stay the client's ApiError (with the
// node's `code`); the rest are MerchantError with a stable `code`,
// WebhookVerificationError or ProofError.

import { fromHex, toHex, utf8 } from "./bytes.js";
import { ApiError, Client } from "./client.js";
import { CodecError } from "./codec.js";
import { parse } from "./json.js";
import { addressFromText, addressToText } from "./keys.js";
import { ProofError, TxBundle, decodeBundle, verifyTxBundle } from "./proof.js";
import { Transaction } from "./tx.js";

export const SECRET_PREFIX = "whsec_";
export const DEFAULT_TOLERANCE_S = 300;
const MAX_NONCE_STEPS = 64;
// A busy node (429) is waited out within the call's budget: its retry time
// (Retry-After-Ms, else Retry-After) times a factor drawn from [1, 1 + RETRY_JITTER),
// so refused clients do not all come back in the same instant (as cli/submission.py does).
const BUSY_CODES = new Set(["mempool_full", "sender_backlog_full", "nonce_gap_full"]);
export const RETRY_JITTER = 0.5;
const PAID = new Set(["paid", "refunded"]);
const CLOSED = new Set(["cancelled", "expired"]);
const HEX_ID = /^[0-9a-f]{64}$/;

/** A failure with a stable snake_case `code` (a receipt code for a rejected transaction). */
export class MerchantError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = "MerchantError";
    this.code = code;
    Object.assign(this, details);
  }
}

/** A webhook whose headers, signature, timestamp or body do not check out: answer 400. */
export class WebhookVerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

function hexId(text, what) {
  const value = String(text).trim().toLowerCase().replace(/^0x/, "");
  if (!HEX_ID.test(value)) throw new MerchantError("bad_id", `${what} must be 64 hex digits`);
  return value;
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

/** A shop's handle on one node for one merchant account (see cli/merchant/client.py). */
export class Merchant {
  /**
   * `account`: the merchant's address (default: the key's own account); `key`: a
   * PrivateKey (keys.js) that signs for it, normally a scoped key; `checkoutBase`:
   * the node URL buyers' browsers reach, when it differs from `nodeUrl`.
   */
  constructor(nodeUrl, { account, key, checkoutBase, client, random } = {}) {
    this.client = client ?? new Client(nodeUrl);
    this.key = key ?? null;
    this.random = random ?? Math.random; // the jitter of busy retries (tests fix it)
    this.checkoutBase = (checkoutBase ?? nodeUrl).replace(/\/+$/, "");
    if (account === undefined && !key) throw new MerchantError("bad_account", "give the merchant account, its key, or both");
    this._account = account;
    this._chainId = null;
  }

  /** The merchant's address, as the node prints it. */
  async account() {
    if (this._account === undefined) this._account = await addressToText(this.key.publicKey);
    return this._account;
  }

  async chainId() {
    if (this._chainId === null) this._chainId = (await this.client.status()).chain_id;
    return this._chainId;
  }

  /** Create an invoice (invoice.create) and answer it once committed; its id is the tx hash. */
  async createInvoice({ amount, symbol, reference = "", metadata = new Uint8Array(), expiresInS = 3600, expiryMs, platform, waitMs = 30_000 }) {
    const expiry = expiryMs === undefined ? BigInt(Date.now()) + BigInt(expiresInS) * 1000n : BigInt(expiryMs);
    const args = [symbol, BigInt(amount), expiry, reference, metadata];
    if (platform !== undefined && platform !== null) args.push(await addressFromText(platform));
    const hash = await this.send("invoice.create", args, waitMs);
    return this.invoice(hash);
  }

  /** The checkout page for the buyer: `{checkoutBase}/pay/{invoice}?return=...`. */
  checkoutUrl(invoiceId, returnUrl) {
    const url = `${this.checkoutBase}/pay/${hexId(invoiceId, "invoice id")}`;
    return returnUrl ? `${url}?${new URLSearchParams({ return: returnUrl })}` : url;
  }

  /** GET /v1/invoices/{id}: status is open, paid, refunded, cancelled or expired. */
  invoice(invoiceId) {
    return this.client.request("GET", `/v1/invoices/${hexId(invoiceId, "invoice id")}`);
  }

  /**
   * Resolve with the invoice once paid; reject with MerchantError `invoice_cancelled`
   * or `invoice_expired` when it can no longer be paid, `payment_timeout` after `timeoutMs`.
   * Like the Python SDK, it follows the merchant's event stream (GET /v1/events?account=)
   * and reads the invoice again only when a transaction mentioning the merchant commits
   * or a block passes the expiry; it reads every `pollMs` only while the node refuses
   * event streams. `signal` aborts the wait.
   */
  async waitForPayment(invoiceId, { timeoutMs = 300_000, pollMs = 1000, signal } = {}) {
    const deadline = Date.now() + timeoutMs;
    // The cursor is taken before the first read, so a payment committed in between is
    // replayed by the stream rather than missed.
    let cursor = String((await this.client.status()).height);
    let invoice = await this.invoice(invoiceId);
    for (;;) {
      if (PAID.has(invoice.status)) return invoice;
      if (CLOSED.has(invoice.status)) throw new MerchantError(`invoice_${invoice.status}`, `invoice ${invoice.id} is ${invoice.status}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new MerchantError("payment_timeout", `invoice ${invoice.id} was not paid within ${timeoutMs} ms`);
      try {
        cursor = await this.nextInvoiceEvent(invoice, cursor, deadline, signal);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        await sleep(Math.min(pollMs, left), signal); // the node refuses streams: poll
      }
      invoice = await this.invoice(invoiceId);
    }
  }

  /** Follow the merchant's events from `cursor` until one may change `invoice`, the
   * deadline passes or the stream ends; resolves with the cursor to resume from. */
  async nextInvoiceEvent(invoice, cursor, deadline, signal) {
    const stop = new AbortController();
    const abort = () => stop.abort();
    const timer = setTimeout(abort, Math.max(0, deadline - Date.now()));
    signal?.addEventListener("abort", abort, { once: true });
    try {
      for await (const event of this.client.events({ cursor, account: await this.account(), signal: stop.signal })) {
        cursor = event.id ?? cursor;
        if (event.event === "tx") return cursor;
        if (event.event === "block" && Number(event.data.timestamp_ms) > Number(invoice.expiry_ms)) return cursor;
      }
      // the node closed the stream: the caller's next read says whether it is still there
      return cursor;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (stop.signal.aborted) return cursor; // the deadline
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
  }

  /** Sign `method(args)` for the merchant account, submit, wait for the block; the tx hash. */
  async send(method, args, waitMs = 30_000) {
    if (!this.key) throw new MerchantError("no_key", `${method} needs a signing key`);
    const address = await this.account();
    const sender = await addressFromText(address);
    const chainId = await this.chainId();
    const deadline = Date.now() + waitMs;
    let nonce = BigInt((await this.client.account(address)).nonce);
    let stx = null;
    let signed = await new Transaction({ chainId, sender, nonce, method, args }).sign(this.key);
    for (let step = 0; stx === null; ) {
      try {
        await this.client.submitTx(signed);
        stx = signed;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.code === "nonce_taken") {
          // A transaction still in the mempool holds the committed nonce: take the next one.
          step += 1;
          if (step === MAX_NONCE_STEPS) throw new MerchantError("nonce_taken", `${MAX_NONCE_STEPS} pending transactions already use the next nonces`);
          nonce += 1n;
          signed = await new Transaction({ chainId, sender, nonce, method, args }).sign(this.key);
          continue;
        }
        if (err.status !== 429 || !BUSY_CODES.has(err.code)) throw err;
        const waitForMs = (err.retryAfter ?? 1) * 1000 * (1 + this.random() * RETRY_JITTER);
        if (Date.now() + waitForMs >= deadline) throw err;
        await sleep(waitForMs); // then the same signed bytes again
      }
    }
    const hash = toHex(await stx.hash());
    const outcome = await this.client.waitTx(hash, { timeoutMs: Math.max(0, deadline - Date.now()) });
    if (outcome.status === "rejected") throw new MerchantError(outcome.receipt.code, outcome.receipt.message, { txHash: hash });
    if (outcome.status !== "committed") throw new MerchantError("not_committed", `tx ${hash} is still ${outcome.status}`, { txHash: hash });
    return hash;
  }
}

function headerOf(headers, name) {
  if (typeof headers.get === "function") return headers.get(name) ?? undefined; // fetch Headers
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function base64(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The HMAC key inside a `whsec_` secret (standard base64; the prefix is optional). */
export function secretKey(secret) {
  const text = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) throw new TypeError("a webhook secret must be whsec_ followed by base64");
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** One `v1,<base64>` signature of `id.timestamp.body`. */
export async function webhookSignature(secret, messageId, timestamp, body) {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey("raw", secretKey(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const prefix = utf8(`${messageId}.${timestamp}.`);
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix);
  content.set(body, prefix.length);
  return `v1,${base64(new Uint8Array(await subtle.sign("HMAC", key, content)))}`;
}

/** Equal strings, compared without an early exit on the first differing byte. */
function sameText(a, b) {
  const x = utf8(a);
  const y = utf8(b);
  if (x.length !== y.length) return false;
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= x[i] ^ y[i];
  return difference === 0;
}

/**
 * Check a webhook from `pasar webhooks` and answer its event {id, type, timestampMs,
 * data, invoiceId, txHash}. `secrets`: one `whsec_` secret or several during a
 * rotation; `headers`: a fetch Headers or a plain object (any letter case); `body`:
 * the raw bytes (or text) before any JSON parsing; `now`: seconds (default: this clock).
 */
export async function verifyWebhook(secrets, headers, body, { now = Math.floor(Date.now() / 1000), toleranceS = DEFAULT_TOLERANCE_S } = {}) {
  const list = typeof secrets === "string" ? [secrets] : [...secrets];
  if (list.length === 0) throw new TypeError("at least one secret is needed to verify");
  const raw = typeof body === "string" ? utf8(body) : body;
  const messageId = headerOf(headers, "webhook-id");
  const timestampText = headerOf(headers, "webhook-timestamp");
  const header = headerOf(headers, "webhook-signature");
  if (!messageId || !timestampText || !header) throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or signature");
  if (!/^[0-9]+$/.test(timestampText)) throw new WebhookVerificationError("webhook-timestamp is not a number of seconds");
  const timestamp = Number(timestampText);
  if (Math.abs(now - timestamp) > toleranceS) throw new WebhookVerificationError("webhook-timestamp is outside the tolerance");
  const expected = [];
  for (const secret of list) expected.push(await webhookSignature(secret, messageId, timestampText.replace(/^0+(?=\d)/, ""), raw));
  const candidates = header.split(/\s+/).filter((item) => item.split(",")[0] === "v1");
  let matched = false;
  for (const candidate of candidates) for (const wanted of expected) matched = sameText(candidate, wanted) || matched;
  if (!matched) throw new WebhookVerificationError("no signature matches the secret");
  let document;
  try {
    document = parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (err) {
    throw new WebhookVerificationError(`the signed body is not a webhook event: ${err.message}`);
  }
  const { type, timestamp_ms: timestampMs, data } = document ?? {};
  if (typeof type !== "string" || data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new WebhookVerificationError("the signed body is not a webhook event");
  }
  if (!Number.isInteger(timestampMs) && typeof timestampMs !== "bigint") throw new WebhookVerificationError("the signed body's timestamp_ms is not an integer");
  const id = data.attributes?.id;
  const invoiceId = type.startsWith("invoice.") && id && typeof id.hex === "string" ? id.hex : null;
  return { id: messageId, type, timestampMs, data, invoiceId, txHash: data.tx_hash ?? null };
}

/**
 * Check offline, trusting no node, that `bundle` (bytes or hex, from a node's
 * `?prove=true` or a webhook's `bundle_url`) proves a committed, applied
 * `invoice.pay` of `invoiceId` (when given) under `anchor` (proof.js TrustAnchor).
 * Answers {invoiceId, txHash, height, index, payer, merchant, symbol, amount}; throws ProofError.
 */
export async function verifyPayment(bundle, anchor, invoiceId) {
  let bytes = bundle;
  if (typeof bundle === "string") {
    try {
      bytes = fromHex(bundle.trim());
    } catch {
      throw new ProofError("the bundle is neither bytes nor hex");
    }
  }
  let decoded;
  try {
    decoded = decodeBundle(bytes);
  } catch (err) {
    if (err instanceof CodecError) throw new ProofError(`malformed bundle: ${err.message}`);
    throw err;
  }
  if (!(decoded instanceof TxBundle)) throw new ProofError("this is a state bundle, not a transaction bundle");
  const verified = await verifyTxBundle(decoded, anchor);
  if (decoded.tx.method !== "invoice.pay") throw new ProofError(`the transaction is ${decoded.tx.method}, not invoice.pay`);
  if (!verified.receipt.ok) throw new ProofError(`the chain rejected this payment (${verified.receipt.code})`);
  const paid = verified.receipt.events.find((event) => event.name === "invoice.paid");
  if (paid === undefined) throw new ProofError("the receipt has no invoice.paid event");
  const provenId = toHex(paid.get("id"));
  if (invoiceId !== undefined && invoiceId !== null && provenId !== String(invoiceId).toLowerCase()) {
    throw new ProofError(`the bundle proves the payment of invoice ${provenId}`);
  }
  return {
    invoiceId: provenId,
    txHash: toHex(verified.txHash),
    height: verified.height,
    index: verified.index,
    payer: await addressToText(paid.get("payer")),
    merchant: await addressToText(paid.get("merchant")),
    symbol: paid.get("symbol"),
    amount: paid.get("amount"),
  };
}
