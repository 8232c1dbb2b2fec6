// The merchant SDK essentials (lib/merchant.js): every webhook case of
// tests/vectors/webhooks.json (the Python SDK runs the same ones), the checkout link,
// and refusals of bundles that are not an invoice payment (tests/vectors/bundles.json).
// The calls that need a node run against a live one in tests/integration/test_merchant_sdk.py.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Client } from "../lib/client.js";
import { Genesis } from "../lib/genesis.js";
import { PrivateKey } from "../lib/keys.js";
import { Merchant, MerchantError, WebhookVerificationError, verifyPayment, verifyWebhook, webhookSignature } from "../lib/merchant.js";
import { ProofError, TrustAnchor } from "../lib/proof.js";
import { utf8 } from "../lib/bytes.js";
import { hex, load } from "./vectors.js";

const cases = load("webhooks.json").cases;

for (const c of cases) {
  test(`webhook vector: ${c.name}`, async () => {
    const options = { now: c.now, toleranceS: c.tolerance_s };
    if (c.expect.ok) {
      const event = await verifyWebhook(c.secrets, c.headers, utf8(c.body), options);
      assert.equal(event.id, c.expect.id);
      assert.equal(event.type, c.expect.type);
      assert.equal(event.data.id, event.id);
      assert.equal(event.invoiceId, "ab".repeat(32));
      assert.equal(event.txHash, "cd".repeat(32));
    } else {
      await assert.rejects(verifyWebhook(c.secrets, c.headers, c.body, options), WebhookVerificationError);
    }
  });
}

test("fetch Headers work as well as plain objects, and the default clock refuses a stale message", async () => {
  const good = cases.find((c) => c.name === "good");
  const event = await verifyWebhook(good.secrets[0], new Headers(good.headers), good.body, { now: good.now });
  assert.equal(event.id, good.expect.id);
  await assert.rejects(verifyWebhook(good.secrets, good.headers, good.body), /tolerance/);
  await assert.rejects(verifyWebhook([], good.headers, good.body, { now: good.now }), TypeError);
});

test("the signature is the relay's: HMAC-SHA256 over id.timestamp.body", async () => {
  const good = cases.find((c) => c.name === "good");
  const headers = good.headers;
  const made = await webhookSignature(good.secrets[0], headers["webhook-id"], headers["webhook-timestamp"], utf8(good.body));
  assert.equal(made, headers["webhook-signature"]);
});

test("checkout links point at the node's /pay page with an encoded return address", async () => {
  const key = await PrivateKey.fromSeed(new Uint8Array(32).fill(9));
  const merchant = new Merchant("http://127.0.0.1:1/", { key, checkoutBase: "https://pay.example/" });
  const id = "AB".repeat(32);
  assert.equal(merchant.checkoutUrl(id), `https://pay.example/pay/${id.toLowerCase()}`);
  assert.equal(
    merchant.checkoutUrl(`0x${id}`, "https://shop.example/back?id=7&x=a b"),
    `https://pay.example/pay/${id.toLowerCase()}?return=https%3A%2F%2Fshop.example%2Fback%3Fid%3D7%26x%3Da+b`,
  );
  assert.throws(() => merchant.checkoutUrl("../v1/status"), (err) => err instanceof MerchantError && err.code === "bad_id");
  assert.throws(() => new Merchant("http://127.0.0.1:1"), (err) => err.code === "bad_account");
});

test("a bundle that is not an invoice payment proves no payment", async () => {
  const v = load("bundles.json");
  const anchor = TrustAnchor.fromGenesis(Genesis.decode(hex(v.genesis_hex)));
  await assert.rejects(verifyPayment(v.tx_bundle.hex, anchor), (err) => err instanceof ProofError && /not invoice.pay/.test(err.message));
  await assert.rejects(verifyPayment(hex(v.state_bundle.hex), anchor), ProofError);
  await assert.rejects(verifyPayment("zz", anchor), ProofError);
  await assert.rejects(verifyPayment(new Uint8Array([1, 2, 3]), anchor), ProofError);
});

// A node stand-in for waitForPayment: invoice statuses answered in turn, and scripted
// event streams (SSE text, or an HTTP status the node refuses the stream with).
function streamingNode(statuses, streams) {
  const seen = { reads: 0, cursors: [] };
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const fetch = async (url) => {
    const { pathname, searchParams } = new URL(url);
    if (pathname === "/v1/status") return json(200, { chain_id: "t", height: 7 });
    if (pathname === `/v1/invoices/${"ab".repeat(32)}`) {
      const status = statuses[Math.min(seen.reads, statuses.length - 1)];
      seen.reads += 1;
      return json(200, { id: "ab".repeat(32), status, expiry_ms: 5000 });
    }
    assert.equal(pathname, "/v1/events");
    assert.equal(searchParams.get("account"), "pasar1merchant");
    seen.cursors.push(searchParams.get("cursor"));
    const script = streams.shift();
    if (typeof script === "number") return json(script, { error: { code: "too_many_streams", message: "busy" } });
    return new Response(script, { status: 200, headers: { "content-type": "text/event-stream" } });
  };
  const merchant = new Merchant("http://127.0.0.1:1", { account: "pasar1merchant", client: new Client("http://127.0.0.1:1", { fetch }) });
  return { merchant, seen };
}

test("waitForPayment reads the invoice again only when an event may change it", async () => {
  const { merchant, seen } = streamingNode(["open", "paid"], [
    ': keepalive\n\nevent: block\nid: 8\ndata: {"timestamp_ms":4000}\n\nevent: tx\nid: 8/0\ndata: {}\n\n',
  ]);
  assert.equal((await merchant.waitForPayment("ab".repeat(32), { timeoutMs: 30_000 })).status, "paid");
  assert.deepEqual([seen.reads, seen.cursors], [2, ["7"]]);
});

test("waitForPayment ends as expired on a block past the expiry, and resumes a closed stream", async () => {
  const { merchant, seen } = streamingNode(["open", "open", "expired"], [
    'event: block\nid: 8\ndata: {"timestamp_ms":1}\n\n',
    'event: block\nid: 9\ndata: {"timestamp_ms":5001}\n\n',
  ]);
  await assert.rejects(merchant.waitForPayment("ab".repeat(32), { timeoutMs: 30_000 }), (err) => err instanceof MerchantError && err.code === "invoice_expired");
  assert.deepEqual([seen.reads, seen.cursors], [3, ["7", "8"]]);
});

test("waitForPayment polls while the node refuses event streams", async () => {
  const { merchant, seen } = streamingNode(["open", "open", "paid"], [429, 429, 429]);
  assert.equal((await merchant.waitForPayment("ab".repeat(32), { timeoutMs: 30_000, pollMs: 5 })).status, "paid");
  assert.deepEqual([seen.reads, seen.cursors.length], [3, 2]);
});

// A node stand-in for send: POST /v1/txs answers each scripted status in turn (429s
// carry `retryAfter` seconds), and the transaction then reads as committed.
async function submittingNode(answers, retryAfter, randoms = [0.5], retryAfterMs = null) {
  const key = await PrivateKey.fromSeed(new Uint8Array(32).fill(4));
  const bodies = [];
  const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  const fetch = async (url, init) => {
    const { pathname } = new URL(url);
    if (pathname === "/v1/status") return json(200, { chain_id: "t", height: 7 });
    if (pathname.startsWith("/v1/accounts/")) return json(200, { nonce: 3 });
    if (pathname === "/v1/txs" && init.method === "POST") {
      bodies.push(init.body);
      const status = answers.shift();
      if (status === 429) {
        const headers = { "retry-after": String(retryAfter) };
        if (retryAfterMs !== null) headers["retry-after-ms"] = String(retryAfterMs);
        return json(429, { error: { code: "mempool_full", message: "the node's mempool is full" } }, headers);
      }
      return json(202, { hash: "00", accepted: true, code: "accepted", message: null });
    }
    assert.match(pathname, /^\/v1\/txs\/[0-9a-f]{64}$/);
    return json(200, { status: "committed", receipt: { code: "ok" } });
  };
  const draws = [];
  const random = () => {
    draws.push(randoms[draws.length % randoms.length]);
    return draws.at(-1);
  };
  const merchant = new Merchant("http://127.0.0.1:1", { key, random, client: new Client("http://127.0.0.1:1", { fetch }) });
  return { merchant, bodies, draws };
}

test("send waits out a busy node and sends the same signed bytes again", async () => {
  const { merchant, bodies, draws } = await submittingNode([429, 429, 202], 0.01);
  const hash = await merchant.send("escrow.ship", ["ab".repeat(32), new Uint8Array(32), null], 30_000);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(bodies.length, 3);
  assert.equal(new Set(bodies).size, 1); // one signature, not a new nonce per attempt
  assert.equal(draws.length, 2); // each wait drew its own jitter
});

test("send gives up with the 429 when the Retry-After passes its budget", async () => {
  const { merchant, bodies, draws } = await submittingNode([429, 202], 5);
  await assert.rejects(
    merchant.send("escrow.ship", ["ab".repeat(32), new Uint8Array(32), null], 2_000),
    (err) => err.status === 429 && err.code === "mempool_full" && err.retryAfter === 5,
  );
  assert.deepEqual([bodies.length, draws.length], [1, 1]);
});

test("a 429's Retry-After-Ms is preferred to its whole-second Retry-After", async () => {
  const { merchant, bodies } = await submittingNode([429, 202], 1, [0.5], 300);
  await assert.rejects(
    merchant.send("escrow.ship", ["ab".repeat(32), new Uint8Array(32), null], 100),
    (err) => err.status === 429 && err.retryAfter === 0.3,
  );
  assert.equal(bodies.length, 1);
  // a malformed millisecond header falls back to the seconds one
  const fallback = await submittingNode([429, 202], 2, [0.5], "soon");
  await assert.rejects(
    fallback.merchant.send("escrow.ship", ["ab".repeat(32), new Uint8Array(32), null], 100),
    (err) => err.status === 429 && err.retryAfter === 2,
  );
});
