// Drives a real node with the JS library alone (client.js, tx.js, proof.js) for
// tests/integration/test_js_client.py, and prints what it saw as JSON.
//
// Usage: node web/tests/live.js URL GENESIS_HEX SENDER_SEED_HEX RECEIVER_HEX

import { concat, equal, fromHex, toHex, utf8 } from "../lib/bytes.js";
import { decode } from "../lib/codec.js";
import { ApiError, Client } from "../lib/client.js";
import { PrivateKey, addressToText } from "../lib/keys.js";
import { Genesis } from "../lib/genesis.js";
import { TrustAnchor, verifyBundle } from "../lib/proof.js";
import { Transaction } from "../lib/tx.js";

const [url, genesisHex, seedHex, receiverHex] = process.argv.slice(2);
const client = new Client(url);
const pinned = TrustAnchor.fromGenesis(fromHex(genesisHex));
const pinnedHash = toHex(await Genesis.decode(fromHex(genesisHex)).hash());
const key = await PrivateKey.fromSeed(fromHex(seedHex));
const address = await addressToText(key.publicKey);

async function refused(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return err instanceof ApiError ? `${err.status} ${err.code}` : err.name;
  }
}

// The anchor from the node's own genesis, accepted only because its hash is the pinned one.
const { anchor } = await client.genesis({ expectedHash: pinnedHash });
const out = {};
out.same_anchor = anchor.chainId === pinned.chainId && anchor.validators.every((v, i) => equal(v, pinned.validators[i]));
out.wrong_pin = await refused(client.genesis({ expectedHash: "00".repeat(32) }));
const status = await client.status();
const before = await client.account(address);
const tx = new Transaction({
  chainId: status.chain_id,
  sender: key.publicKey,
  nonce: before.nonce,
  method: "coin.transfer",
  args: ["IDR", fromHex(receiverHex), 12345n],
});
const stx = await tx.sign(key);
const submitted = await client.submitTx(stx);
out.submitted = submitted;
out.duplicate = (await client.submitTx(stx.encode())).code;
// Another transaction (the same one would just be a duplicate) with a broken signature.
const other = await new Transaction({ ...tx, nonce: tx.nonce + 1n }).sign(key);
const forged = other.encode();
forged[forged.length - 1] ^= 1; // the last signature byte
out.forged = await refused(client.submitTx(forged));
out.bad_hash = await refused(client.getTx("zz"));

const done = await client.waitTx(submitted.hash, { timeoutMs: 60_000 });
out.status = done.status;
out.height = done.height;

const proven = await client.proveTx(submitted.hash, anchor);
out.tx_bundle = toHex(proven.bundle);
out.proven = { height: Number(proven.height), index: Number(proven.index), code: proven.receipt.code, tx_hash: toHex(proven.txHash) };
const tampered = Uint8Array.from(proven.bundle);
tampered[Math.floor(tampered.length / 2)] ^= 1;
out.tampered = await refused(verifyBundle(tampered, anchor));
const stranger = await PrivateKey.fromSeed(new Uint8Array(32).fill(77));
out.foreign_anchor = await refused(verifyBundle(proven.bundle, new TrustAnchor(anchor.chainId, [stranger.publicKey])));

const account = await client.proveAccount(address, anchor, { symbols: ["IDR", "NOPE"] });
out.state_bundle = toHex(account.bundle);
const value = (suffix) => {
  const wanted = concat(utf8(suffix[0]), key.publicKey, utf8(suffix[1]));
  const proof = account.proofs.find((p) => equal(p.key, wanted));
  return proof === undefined ? "missing" : proof.value === null ? null : String(decode(proof.value));
};
out.proven_balance = value(["coin/bal/", "/IDR"]);
out.proven_nope = value(["coin/bal/", "/NOPE"]);
out.proven_nonce = value(["acct/nonce/", ""]);
out.answer_balance = String((await client.account(address)).balances.IDR);

// The event stream, replayed from the block before the transaction's: its tx event arrives.
const controller = new AbortController();
out.event = null;
for await (const event of client.events({ cursor: done.height - 1, account: address, signal: controller.signal })) {
  if (event.event === "tx" && event.data.hash === submitted.hash) {
    out.event = { id: event.id, status: event.data.status, height: event.data.height };
    controller.abort();
    break;
  }
}
process.stdout.write(JSON.stringify(out));
