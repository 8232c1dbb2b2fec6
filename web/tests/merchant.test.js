// The merchant SDK essentials (lib/merchant.js): every webhook case of
// tests/vectors/webhooks.json (the Python SDK runs the same ones), the checkout link,
// and refusals of bundles that are not an invoice payment (tests/vectors/bundles.json).
// The calls that need a node run against a live one in tests/integration/test_merchant_sdk.py.

import { test } from "node:test";
import assert from "node:assert/strict";

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
