// Keys and addresses beyond the vectors: fresh keys, every address typo, and the
// libsodium verification rules WebCrypto alone does not apply.

import { test } from "node:test";
import assert from "node:assert/strict";

import { concat, fromHex, toHex } from "../lib/bytes.js";
import { AddressError, PrivateKey, _forTests, addressFromText, addressToText, verify } from "../lib/keys.js";
import { load } from "./vectors.js";

const [first] = load("keys.json").keys;
const DIGEST = new Uint8Array(32).fill(7);

test("a generated key signs, and only its signature over that exact message verifies", async () => {
  const key = await PrivateKey.generate();
  assert.equal(key.seed.length, 32);
  assert.deepEqual((await PrivateKey.fromSeed(key.seed)).publicKey, key.publicKey);
  const signature = await key.sign("pasar/tx", "chain-a", DIGEST);
  assert.ok(await verify(key.publicKey, "pasar/tx", "chain-a", DIGEST, signature));
  assert.equal(await verify(key.publicKey, "pasar/tx", "chain-b", DIGEST, signature), false);
  assert.equal(await verify(key.publicKey, "pasar/tx", "chain-a", new Uint8Array(32), signature), false);
  assert.equal(await verify(key.publicKey, "pasar/tx", "chain-a", DIGEST, signature.subarray(1)), false);
  assert.deepEqual(await addressFromText(await addressToText(key.publicKey)), key.publicKey);
  assert.ok(!String(key).includes(toHex(key.seed)));
  await assert.rejects(PrivateKey.fromSeed(new Uint8Array(31)), RangeError);
});

test("every single mistyped character of an address is refused", async () => {
  const text = first.address;
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let tried = 0;
  for (let i = "pasar1".length; i < text.length; i++) {
    for (const c of alphabet) {
      if (c === text[i]) continue;
      tried++;
      await assert.rejects(addressFromText(text.slice(0, i) + c + text.slice(i + 1)), AddressError, `${i} ${c}`);
    }
  }
  assert.equal(tried, 58 * 31);
});

test("address text: prefix, length, alphabet and hex rules", async () => {
  const text = first.address;
  for (const bad of ["PASAR1" + text.slice(6), "pasar2" + text.slice(6), text.slice(0, -1), text + "a", text + "aaaaaaaa", text.replace("r", "1"), text.slice(0, 20) + "!" + text.slice(21), "", "pasar1", first.public_key.slice(2), first.public_key + "00", "g" + first.public_key.slice(1)]) {
    await assert.rejects(addressFromText(bad), AddressError, JSON.stringify(bad));
  }
  assert.equal(toHex(await addressFromText(first.public_key.toUpperCase())), first.public_key);
  await assert.rejects(addressToText(new Uint8Array(31)), RangeError);
});

test("small-order keys and R values and unreduced S are refused, as libsodium does", async () => {
  const identity = concat(Uint8Array.of(1), new Uint8Array(31));
  const forged = concat(identity, new Uint8Array(32)); // R = identity, S = 0: sB == R + hA for A = identity
  const raw = await crypto.subtle.importKey("raw", identity, { name: "Ed25519" }, false, ["verify"]);
  const message = new Uint8Array(10);
  // What this check guards against: Node's WebCrypto (OpenSSL) accepts the forgery for any message.
  assert.equal(await crypto.subtle.verify({ name: "Ed25519" }, raw, forged, message), true);
  assert.equal(await verify(identity, "pasar/tx", "c", DIGEST, forged), false);

  const key = await PrivateKey.fromSeed(fromHex(first.seed));
  const signature = await key.sign("pasar/tx", "c", DIGEST);
  assert.ok(await verify(key.publicKey, "pasar/tx", "c", DIGEST, signature));
  // S + L is the same scalar unreduced: refused.
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]);
  s += (1n << 252n) + 27742317777372353535851937790883648493n;
  const unreduced = Uint8Array.from(signature);
  for (let i = 32; i < 64; i++) (unreduced[i] = Number(s & 0xffn)), (s >>= 8n);
  assert.equal(await verify(key.publicKey, "pasar/tx", "c", DIGEST, unreduced), false);
  // A non-canonical key encoding (y >= p) is refused.
  const nonCanonical = new Uint8Array(32).fill(0xff);
  nonCanonical[31] = 0x7f;
  assert.equal(await verify(nonCanonical, "pasar/tx", "c", DIGEST, signature), false);
});

test("the order-8 y constant solves d*y^4 + 2*y^2 - 1 = 0 (x^2 = -y^2 on the curve)", () => {
  const { P, Y8 } = _forTests;
  const mod = (n) => ((n % P) + P) % P;
  const pow = (b, e) => {
    let r = 1n;
    b = mod(b);
    while (e > 0n) {
      if (e & 1n) r = mod(r * b);
      b = mod(b * b);
      e >>= 1n;
    }
    return r;
  };
  const d = mod(-121665n * pow(121666n, P - 2n));
  const y2 = mod(Y8 * Y8);
  assert.equal(mod(d * y2 * y2 + 2n * y2 - 1n), 0n);
});
