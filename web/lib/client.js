// A small client for a pasar node's HTTP API (docs/api.md), for the pages and the
// merchant SDK: submit signed transactions, read them back (waiting for a commit),
// read accounts, follow the event stream, and fetch proof bundles that are checked
// here against a trust anchor instead of believing the node. Uses fetch only, so it
// runs in browsers and Node.js 20 alike.

import { fromHex, toHex } from "./bytes.js";
import { parse } from "./json.js";
import { Genesis } from "./genesis.js";
import { TrustAnchor, verifyBundle } from "./proof.js";

/** A 4xx/5xx answer: `status`, and the API's stable `code`, `message` and `field`. */
export class ApiError extends Error {
  /** `retryAfter`: seconds to wait after a 429, from its Retry-After-Ms header (the node's
   * estimate in milliseconds) or else its whole-second Retry-After; null without either. */
  constructor(status, code, message, field = null, retryAfter = null) {
    super(`${status} ${code}: ${message}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

function retryAfterOf(response) {
  if (response.status !== 429) return null;
  for (const [name, scale] of [["retry-after-ms", 1000], ["retry-after", 1]]) {
    const text = response.headers.get(name);
    if (text === null || text.trim() === "") continue;
    const value = Number(text);
    // the node sends numbers in both (never an HTTP date in Retry-After)
    if (Number.isFinite(value) && value >= 0) return value / scale;
  }
  return null;
}

const DONE = new Set(["committed", "rejected"]);

export class Client {
  /** `baseUrl` like "http://127.0.0.1:26602"; `fetch` can be replaced (tests, proxies). */
  constructor(baseUrl, { fetch = globalThis.fetch.bind(globalThis) } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.fetch = fetch;
  }

  async request(method, path, { query = {}, body, signal } = {}) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null) params.set(key, String(value));
    const url = `${this.baseUrl}${path}${[...params].length ? `?${params}` : ""}`;
    const init = { method, signal, headers: { accept: "application/json" } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["content-type"] = "application/json";
    }
    const response = await this.fetch(url, init);
    const text = await response.text();
    let answer;
    try {
      answer = text === "" ? null : parse(text);
    } catch {
      throw new ApiError(response.status, "bad_answer", `the node's answer is not JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      const error = (answer && answer.error) || {};
      throw new ApiError(response.status, error.code || "http_error", error.message || response.statusText, error.field ?? null, retryAfterOf(response));
    }
    return answer;
  }

  status() {
    return this.request("GET", "/v1/status");
  }

  /** The other validators as the node sees them: links and announced heights. */
  peers() {
    return this.request("GET", "/v1/peers");
  }

  /** Submit a SignedTransaction (or its encoded bytes): {hash, accepted, code, message}. */
  submitTx(stx) {
    const bytes = stx instanceof Uint8Array ? stx : stx.encode();
    return this.request("POST", "/v1/txs", { body: { tx: toHex(bytes) } });
  }

  /** A transaction's status; `wait` seconds (0-60) long-polls for its commit. */
  getTx(hash, { wait, prove, trustedHeight, signal } = {}) {
    const h = typeof hash === "string" ? hash : toHex(hash);
    return this.request("GET", `/v1/txs/${h}`, { query: { wait, prove: prove ? "true" : undefined, trusted_height: trustedHeight }, signal });
  }

  /** Wait until the transaction is committed or rejected (or `timeoutMs` passes: then its last status). */
  async waitTx(hash, { timeoutMs = 30_000, signal } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const answer = await this.getTx(hash, { wait: Math.max(0, Math.min(10, Math.floor(left / 1000))), signal });
      if (DONE.has(answer.status) || Date.now() >= deadline) return answer;
    }
  }

  account(address, { prove, symbols, signal } = {}) {
    const query = { prove: prove ? "true" : undefined, symbols: symbols ? symbols.join(",") : undefined };
    return this.request("GET", `/v1/accounts/${address}`, { query, signal });
  }

  /** A committed block; `transactions: "summary"` gives each transaction as its hash,
   * sender, nonce, method, ok and code only (a fraction of a full block's bytes). */
  block(height = "latest", { transactions, signal } = {}) {
    return this.request("GET", `/v1/blocks/${height}`, { query: { transactions }, signal });
  }

  /** The chain's genesis from GET /v1/genesis, decoded from its canonical bytes and
   * hashed here: {genesis, hash, anchor}. Pass the hash the client pins (from its own
   * configuration, never from this node) as `expectedHash` to refuse another chain. */
  async genesis({ expectedHash } = {}) {
    const answer = await this.request("GET", "/v1/genesis");
    const genesis = Genesis.decode(fromHex(answer.encoded));
    const hash = toHex(await genesis.hash());
    if (expectedHash !== undefined && hash !== expectedHash.toLowerCase()) {
      throw new ApiError(200, "wrong_genesis", `the node's genesis is ${hash}, not the pinned ${expectedHash}`);
    }
    return { genesis, hash, anchor: TrustAnchor.fromGenesis(genesis) };
  }

  validators() {
    return this.request("GET", "/v1/validators");
  }

  /** Fetch a transaction's proof bundle and check it against `anchor` (a TrustAnchor);
   * returns the verified result and the bundle bytes (evidence to keep), or throws
   * ProofError/CodecError when the node's answer does not prove what it claims. */
  async proveTx(hash, anchor, { wait } = {}) {
    const answer = await this.getTx(hash, { prove: true, wait });
    if (!answer.bundle) throw new ApiError(200, "no_bundle", `transaction is ${answer.status}, nothing to prove yet`);
    const bundle = fromHex(answer.bundle);
    const verified = await verifyBundle(bundle, anchor);
    if (verified.kind !== "tx" || toHex(verified.txHash) !== answer.hash) throw new ApiError(200, "wrong_bundle", "the bundle proves another transaction");
    return { ...verified, bundle, answer };
  }

  /** An account's nonce and balances proven against `anchor` (see proveTx). */
  async proveAccount(address, anchor, { symbols } = {}) {
    const answer = await this.account(address, { prove: true, symbols });
    const bundle = fromHex(answer.bundle);
    const verified = await verifyBundle(bundle, anchor);
    if (verified.kind !== "state") throw new ApiError(200, "wrong_bundle", "the bundle is not a state bundle");
    return { ...verified, bundle, answer };
  }

  /** Follow GET /v1/events (server-sent events) from `cursor`: yields {event, id, data}
   * with `data` parsed; resumable by passing the last `id` back as `cursor`. */
  async *events({ cursor, account, signal } = {}) {
    const params = new URLSearchParams();
    if (cursor !== undefined && cursor !== null) params.set("cursor", String(cursor));
    if (account) params.set("account", account);
    const query = [...params].length ? `?${params}` : "";
    const response = await this.fetch(`${this.baseUrl}/v1/events${query}`, { headers: { accept: "text/event-stream" }, signal });
    if (!response.ok) {
      const text = await response.text();
      let error = {};
      try {
        error = parse(text).error || {};
      } catch {
        // not JSON: keep the status alone
      }
      throw new ApiError(response.status, error.code || "http_error", error.message || response.statusText, error.field ?? null, retryAfterOf(response));
    }
    const decoder = new TextDecoder();
    let buffer = "";
    let message = { event: "message", id: null, data: [] };
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
          if (line === "") {
            if (message.data.length) yield { event: message.event, id: message.id, data: parse(message.data.join("\n")) };
            message = { event: "message", id: message.id, data: [] };
            continue;
          }
          if (line.startsWith(":")) continue; // a comment (keep-alive)
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") message.event = text;
          else if (field === "id") message.id = text;
          else if (field === "data") message.data.push(text);
        }
      }
    } finally {
      reader.releaseLock();
      response.body.cancel().catch(() => {});
    }
  }
}
