// Sealed notes (web/lib/sealedbox.js): the primitives against published values, a round
// trip, and every way a note must fail to open. Interop with libsodium is checked from
// the Python side (tests/unit/test_js_notes.py drives notes_oracle.js).

import { test } from "node:test";
import assert from "node:assert/strict";

import { toHex, utf8 } from "../lib/bytes.js";
import { PrivateKey } from "../lib/keys.js";
import { MAX_NOTE_PLAINTEXT, NoteError, blake2b, openNote, openOrderNote, poly1305, sealForOrder, sealNote, x25519PublicOf } from "../lib/sealedbox.js";

test("BLAKE2b-512 and Poly1305 give the RFC 7693 and RFC 8439 values", () => {
  assert.equal(
    toHex(blake2b(utf8("abc"))),
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
  );
  const key = Uint8Array.from("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b".match(/../g), (h) => parseInt(h, 16));
  assert.equal(toHex(poly1305(key, utf8("Cryptographic Forum Research Group"))), "a8061dc1305136c6c22b8baf0c0127a9");
});

test("a sealed note opens with the recipient's key only, and not once altered", async () => {
  const [seller, arbiter, stranger] = [await PrivateKey.generate(), await PrivateKey.generate(), await PrivateKey.generate()];
  const address = utf8("Jl. Sudirman 1, Jakarta 10220");
  const [forSeller, forArbiter] = await sealForOrder(address, seller.publicKey, arbiter.publicKey);
  assert.equal(forSeller.length, address.length + 48);
  assert.deepEqual(await openNote(forSeller, seller), address);
  assert.deepEqual(await openOrderNote(arbiter, forSeller, forArbiter), address);
  assert.equal(await openOrderNote(stranger, forSeller, forArbiter), null);
  await assert.rejects(openNote(forSeller, arbiter), NoteError);
  for (const at of [0, 40, forSeller.length - 1]) {
    const bent = Uint8Array.from(forSeller);
    bent[at] ^= 1;
    await assert.rejects(openNote(bent, seller), NoteError, `byte ${at}`);
  }
  await assert.rejects(openNote(forSeller.subarray(0, 47), seller), NoteError);
});

test("notes too long for the ledger and keys that are not points are refused", async () => {
  const key = await PrivateKey.generate();
  assert.equal((await sealNote(new Uint8Array(MAX_NOTE_PLAINTEXT), key.publicKey)).length, 1024);
  await assert.rejects(sealNote(new Uint8Array(MAX_NOTE_PLAINTEXT + 1), key.publicKey), NoteError);
  assert.throws(() => x25519PublicOf(new Uint8Array(32)), NoteError); // y = 0: small order
  const notOnCurve = new Uint8Array(32);
  notOnCurve[0] = 2; // y = 2 has no x on the curve
  assert.throws(() => x25519PublicOf(notOnCurve), NoteError);
  assert.throws(() => x25519PublicOf(new Uint8Array(31)), NoteError);
});
