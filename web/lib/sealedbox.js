// Sealed boxes to an account's key, byte for byte what cli/notes.py (libsodium's
// crypto_box_seal) makes and opens, so a shipping address sealed in the page is read
// by the CLI and the other way round.
//
//   sealed = epk ‖ tag ‖ ciphertext                      (32 + 16 + len(message) bytes)
//   nonce  = BLAKE2b-192(epk ‖ recipient X25519 key)
//   key    = HSalsa20(X25519(esk, recipient), 0)         (crypto_box_beforenm)
//   tag, ciphertext = XSalsa20-Poly1305(key, nonce, message)   (crypto_secretbox)
//
// An account is an Ed25519 public key; its X25519 form is the birational map
// u = (1 + y) / (1 - y), and the matching secret is the clamped first half of
// SHA-512(seed), as libsodium converts them. X25519 and SHA-512 are WebCrypto's;
// BLAKE2b, Salsa20 and Poly1305 are not in WebCrypto, so they are written here.

import { concat, equal, isBytes } from "./bytes.js";
import { PUBLIC_KEY_SIZE } from "./keys.js";

export const SEAL_OVERHEAD = 48;
export const MAX_NOTE_BYTES = 1024; // contracts/escrow.py MAX_NOTE_BYTES
export const MAX_NOTE_PLAINTEXT = MAX_NOTE_BYTES - SEAL_OVERHEAD;

/** A note that cannot be sealed (bad key, too long) or opened (not for this key). */
export class NoteError extends Error {
  constructor(message) {
    super(message);
    this.name = "NoteError";
  }
}

// --- field arithmetic for the Ed25519 -> X25519 map -----------------------------------------

const P = (1n << 255n) - 19n;
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
// y of the small-order points (as keys.js refuses them in signatures).
const Y8 = 0x5fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

function mod(a) {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function power(base, exponent) {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function toLittleEndian(n, size) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The X25519 public key of an account (an Ed25519 public key); NoteError if it has none. */
export function x25519PublicOf(account) {
  if (!isBytes(account) || account.length !== PUBLIC_KEY_SIZE) throw new NoteError("an account is a 32-byte public key");
  const copy = Uint8Array.from(account);
  copy[31] &= 0x7f; // the top bit is the sign of x
  const y = littleEndian(copy);
  if (y >= P || SMALL_ORDER_Y.has(y)) throw new NoteError("this account key has no X25519 form");
  // The key must be a point of the curve: x^2 = (y^2 - 1) / (d y^2 + 1) has a root.
  const y2 = (y * y) % P;
  const x2 = mod((y2 - 1n) * power(D * y2 + 1n, P - 2n));
  if (x2 !== 0n && power(x2, (P - 1n) / 2n) !== 1n) throw new NoteError("this account key has no X25519 form");
  const u = mod((1n + y) * power(1n - y, P - 2n));
  return toLittleEndian(u, 32);
}

// --- BLAKE2b (RFC 7693), only what the nonce needs: unkeyed, any output length ---------------

const MASK64 = (1n << 64n) - 1n;
const BLAKE2B_IV = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

function rotr64(x, n) {
  return ((x >> n) | (x << (64n - n))) & MASK64;
}

function compress(h, block, counter, last) {
  const m = [];
  for (let i = 0; i < 16; i++) m.push(littleEndian(block.subarray(8 * i, 8 * i + 8)));
  const v = [...h, ...BLAKE2B_IV];
  v[12] ^= counter & MASK64;
  v[13] ^= counter >> 64n;
  if (last) v[14] ^= MASK64;
  const g = (a, b, c, d, x, y) => {
    v[a] = (v[a] + v[b] + x) & MASK64;
    v[d] = rotr64(v[d] ^ v[a], 32n);
    v[c] = (v[c] + v[d]) & MASK64;
    v[b] = rotr64(v[b] ^ v[c], 24n);
    v[a] = (v[a] + v[b] + y) & MASK64;
    v[d] = rotr64(v[d] ^ v[a], 16n);
    v[c] = (v[c] + v[d]) & MASK64;
    v[b] = rotr64(v[b] ^ v[c], 63n);
  };
  for (let round = 0; round < 12; round++) {
    const s = SIGMA[round % 10];
    g(0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (let i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

/** Unkeyed BLAKE2b of `data` with an `outLength`-byte digest (1..64). */
export function blake2b(data, outLength = 64) {
  if (!Number.isInteger(outLength) || outLength < 1 || outLength > 64) throw new RangeError("BLAKE2b makes 1 to 64 bytes");
  const h = [...BLAKE2B_IV];
  h[0] ^= 0x01010000n ^ BigInt(outLength);
  const blocks = Math.max(1, Math.ceil(data.length / 128));
  for (let i = 0; i < blocks; i++) {
    const block = new Uint8Array(128);
    block.set(data.subarray(128 * i, 128 * i + 128));
    const last = i === blocks - 1;
    compress(h, block, BigInt(last ? data.length : 128 * (i + 1)), last);
  }
  const out = concat(...h.map((word) => toLittleEndian(word, 8)));
  return out.slice(0, outLength);
}

// --- Salsa20, HSalsa20, XSalsa20 ------------------------------------------------------------

const SIGMA_WORDS = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"

function word(bytes, at) {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function rotl32(x, n) {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

/** The 16 words after Salsa20's 20 rounds on (key, 16-byte input); `add` makes Salsa20's block. */
function salsaCore(key, input, add) {
  const x = [
    SIGMA_WORDS[0], word(key, 0), word(key, 4), word(key, 8),
    word(key, 12), SIGMA_WORDS[1], word(input, 0), word(input, 4),
    word(input, 8), word(input, 12), SIGMA_WORDS[2], word(key, 16),
    word(key, 20), word(key, 24), word(key, 28), SIGMA_WORDS[3],
  ];
  const start = [...x];
  const qr = (a, b, c, d) => {
    x[b] ^= rotl32((x[a] + x[d]) >>> 0, 7);
    x[c] ^= rotl32((x[b] + x[a]) >>> 0, 9);
    x[d] ^= rotl32((x[c] + x[b]) >>> 0, 13);
    x[a] ^= rotl32((x[d] + x[c]) >>> 0, 18);
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12);
    qr(5, 9, 13, 1);
    qr(10, 14, 2, 6);
    qr(15, 3, 7, 11);
    qr(0, 1, 2, 3);
    qr(5, 6, 7, 4);
    qr(10, 11, 8, 9);
    qr(15, 12, 13, 14);
  }
  if (add) for (let i = 0; i < 16; i++) x[i] = (x[i] + start[i]) >>> 0;
  return x.map((w) => w >>> 0);
}

function wordsToBytes(words) {
  const out = new Uint8Array(4 * words.length);
  words.forEach((w, i) => {
    out[4 * i] = w & 0xff;
    out[4 * i + 1] = (w >>> 8) & 0xff;
    out[4 * i + 2] = (w >>> 16) & 0xff;
    out[4 * i + 3] = (w >>> 24) & 0xff;
  });
  return out;
}

/** HSalsa20(key, 16-byte input): a 32-byte subkey. */
export function hsalsa20(key, input) {
  const x = salsaCore(key, input, false);
  return wordsToBytes([x[0], x[5], x[10], x[15], x[6], x[7], x[8], x[9]]);
}

/** `length` bytes of XSalsa20's key stream for (key, 24-byte nonce). */
function xsalsa20Stream(key, nonce, length) {
  const subkey = hsalsa20(key, nonce.subarray(0, 16));
  const out = new Uint8Array(length);
  const input = new Uint8Array(16);
  input.set(nonce.subarray(16, 24));
  for (let block = 0, at = 0; at < length; block++, at += 64) {
    let counter = block;
    for (let i = 8; i < 16; i++) {
      input[i] = counter & 0xff;
      counter = Math.floor(counter / 256);
    }
    out.set(wordsToBytes(salsaCore(subkey, input, true)).subarray(0, Math.min(64, length - at)), at);
  }
  return out;
}

// --- Poly1305 -------------------------------------------------------------------------------

const P1305 = (1n << 130n) - 5n;

/** The 16-byte Poly1305 tag of `message` under a one-time 32-byte key. */
export function poly1305(key, message) {
  const r = littleEndian(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = littleEndian(key.subarray(16, 32));
  let acc = 0n;
  for (let at = 0; at < message.length; at += 16) {
    const chunk = message.subarray(at, at + 16);
    acc = ((acc + littleEndian(chunk) + (1n << BigInt(8 * chunk.length))) * r) % P1305;
  }
  return toLittleEndian((acc + s) & ((1n << 128n) - 1n), 16);
}

/** crypto_secretbox: tag ‖ ciphertext of `message` under a 32-byte key and 24-byte nonce. */
export function secretbox(key, nonce, message) {
  const stream = xsalsa20Stream(key, nonce, 32 + message.length);
  const cipher = message.map((b, i) => b ^ stream[32 + i]);
  return concat(poly1305(stream.subarray(0, 32), cipher), cipher);
}

/** The message of a secretbox, or null when the tag does not match. */
export function secretboxOpen(key, nonce, boxed) {
  if (boxed.length < 16) return null;
  const cipher = boxed.subarray(16);
  const stream = xsalsa20Stream(key, nonce, 32 + cipher.length);
  if (!equal(poly1305(stream.subarray(0, 32), cipher), boxed.subarray(0, 16))) return null;
  return cipher.map((b, i) => b ^ stream[32 + i]);
}

// --- X25519 through WebCrypto -----------------------------------------------------------------

const X25519 = { name: "X25519" };
// PKCS#8 wrapping of a raw 32-byte X25519 private key (RFC 8410, OID 1.3.101.110).
const PKCS8_X25519_PREFIX = Uint8Array.of(
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
);

async function sharedKey(privateKey, publicBytes) {
  const subtle = globalThis.crypto.subtle;
  let shared;
  try {
    const peer = await subtle.importKey("raw", publicBytes, X25519, false, []);
    shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256));
  } catch {
    throw new NoteError("this key agreement failed (a key of small order?)");
  }
  return hsalsa20(shared, new Uint8Array(16)); // crypto_box_beforenm
}

/** The X25519 private key (a WebCrypto key) of an Ed25519 seed, as libsodium converts it. */
async function x25519PrivateOf(seed) {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-512", seed));
  const scalar = digest.slice(0, 32);
  scalar[0] &= 248;
  scalar[31] &= 127;
  scalar[31] |= 64;
  return globalThis.crypto.subtle.importKey("pkcs8", concat(PKCS8_X25519_PREFIX, scalar), X25519, false, ["deriveBits"]);
}

/** Seal `message` (bytes) so that only the holder of account `recipient` can read it. */
export async function sealNote(message, recipient) {
  if (!isBytes(message)) throw new TypeError("a note is bytes");
  if (message.length > MAX_NOTE_PLAINTEXT) throw new NoteError(`a note is at most ${MAX_NOTE_PLAINTEXT} bytes, got ${message.length}`);
  const recipientX = x25519PublicOf(recipient);
  const subtle = globalThis.crypto.subtle;
  const ephemeral = await subtle.generateKey(X25519, true, ["deriveBits"]);
  const epk = new Uint8Array(await subtle.exportKey("raw", ephemeral.publicKey));
  const key = await sharedKey(ephemeral.privateKey, recipientX);
  const nonce = blake2b(concat(epk, recipientX), 24);
  return concat(epk, secretbox(key, nonce, message));
}

/** The message of a note sealed to the account of `privateKey` (keys.js PrivateKey);
 * NoteError when it was sealed to another account or altered. */
export async function openNote(sealed, privateKey) {
  if (!isBytes(sealed) || sealed.length < SEAL_OVERHEAD) throw new NoteError("this note is too short to be a sealed note");
  const epk = sealed.subarray(0, 32);
  const mine = x25519PublicOf(privateKey.publicKey);
  const key = await sharedKey(await x25519PrivateOf(privateKey.seed), epk);
  const message = secretboxOpen(key, blake2b(concat(epk, mine), 24), sealed.subarray(32));
  if (message === null) throw new NoteError("this note was not sealed to this key (or was altered)");
  return message;
}

/** The two sealed notes order.place takes: for the seller, for the arbiter. */
export async function sealForOrder(message, seller, arbiter) {
  return [await sealNote(message, seller), await sealNote(message, arbiter)];
}

/** Whichever of an order's notes `privateKey` can open, or null when neither is for it. */
export async function openOrderNote(privateKey, forSeller, forArbiter) {
  for (const sealed of [forSeller, forArbiter]) {
    if (!sealed) continue;
    try {
      return await openNote(sealed, privateKey);
    } catch (error) {
      if (!(error instanceof NoteError)) throw error;
    }
  }
  return null;
}
