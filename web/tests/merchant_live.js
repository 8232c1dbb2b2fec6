// Drives a real node with the JavaScript merchant SDK alone (lib/merchant.js) for
// tests/integration/test_merchant_sdk.py, and prints what it saw as JSON: the shop's
// scoped key creates an invoice, the buyer pays it while the shop waits, and the
// payment's proof bundle is checked against the pinned genesis.
//
// Usage: node web/tests/merchant_live.js URL GENESIS_HEX MERCHANT SHOP_SEED_HEX BUYER_SEED_HEX SYMBOL

import { fromHex } from "../lib/bytes.js";
import { Client } from "../lib/client.js";
import { Genesis } from "../lib/genesis.js";
import { PrivateKey, addressToText } from "../lib/keys.js";
import { Merchant, MerchantError, verifyPayment } from "../lib/merchant.js";
import { ProofError, TrustAnchor } from "../lib/proof.js";
import { Transaction } from "../lib/tx.js";

const [url, genesisHex, merchantAddress, shopSeed, buyerSeed, symbol] = process.argv.slice(2);
const anchor = TrustAnchor.fromGenesis(Genesis.decode(fromHex(genesisHex)));
const shopKey = await PrivateKey.fromSeed(fromHex(shopSeed));
const buyerKey = await PrivateKey.fromSeed(fromHex(buyerSeed));
const client = new Client(url);
const merchant = new Merchant(url, { account: merchantAddress, key: shopKey });
const out = {};

const invoice = await merchant.createInvoice({ amount: 1234n, symbol, reference: "js-order-1" });
out.invoice = { id: invoice.id, status: invoice.status, merchant: invoice.merchant, amount: String(invoice.amount) };
out.checkout = merchant.checkoutUrl(invoice.id, "http://127.0.0.1:9/thanks");
const waiting = merchant.waitForPayment(invoice.id, { timeoutMs: 60_000, pollMs: 200 });

const { chain_id: chainId } = await client.status();
const buyer = await client.account(await addressToText(buyerKey.publicKey));
const pay = await new Transaction({
  chainId,
  sender: buyerKey.publicKey,
  nonce: buyer.nonce,
  method: "invoice.pay",
  args: [fromHex(invoice.id), symbol, 1234n],
}).sign(buyerKey);
const submitted = await client.submitTx(pay);
const paid = await waiting;
out.paid = { status: paid.status, payer: paid.payer };

const answer = await client.getTx(submitted.hash, { prove: true, wait: 30 });
const proven = await verifyPayment(answer.bundle, anchor, invoice.id);
out.proven = { ...proven, height: Number(proven.height), index: Number(proven.index), amount: String(proven.amount) };
out.pay_hash = submitted.hash;
try {
  await verifyPayment(answer.bundle, anchor, "00".repeat(32));
  out.other_invoice = "accepted";
} catch (err) {
  out.other_invoice = err instanceof ProofError ? "ProofError" : String(err);
}
try {
  await merchant.createInvoice({ amount: 5n, symbol, expiryMs: Date.now() - 60_000 });
  out.past_expiry = "accepted";
} catch (err) {
  out.past_expiry = err instanceof MerchantError ? err.code : String(err);
}
console.log(JSON.stringify(out));
