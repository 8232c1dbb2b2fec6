// Ed25519 keys, domain-bound signatures and account addresses (docs/protocol.md §4),
// mirroring ledger/keys.py. Signing and verifying use WebCrypto's Ed25519, hence async.
//
// A signature covers byte(len(domain)) ‖ domain ‖ byte(len(chain id)) ‖ chain id ‖ digest,
// so it can never be replayed for another chain or kind of message. An account is its
// 32-byte public key; its text form is "pasar1" + base32(key ‖ 4-byte checksum).

import { concat, equal, fromBase64url, isBytes, toHex, utf8 } from "./bytes.js";
import { ADDRESS, taggedHash, tagBytes } from "./hashing.js";

export const PUBLIC_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const SEED_SIZE = 32;
export const ADDRESS_PREFIX = "pasar1";

const ED25519 = { name: "Ed25519" };
// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): the only way WebCrypto imports one.
const PKCS8_SEED_PREFIX = Uint8Array.of(
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
);

/** The exact bytes an Ed25519 signature covers. */
export function signingMessage(domain, chainId, digest) {
  const d = tagBytes(domain);
  const chain = utf8(chainId);
  if (chain.length > 255) throw new RangeError("chain id too long");
  return concat(Uint8Array.of(d.length), d, Uint8Array.of(chain.length), chain, digest);
}

/** An Ed25519 signing key: its 32-byte seed, public key and WebCrypto key. */
export class PrivateKey {
  constructor(seed, publicKey, cryptoKey) {
    this.seed = seed;
    this.publicKey = publicKey;
    this.cryptoKey = cryptoKey;
  }

  /** A new random key (WebCrypto's generator). */
  static async generate() {
    const pair = await globalThis.crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]);
    const pkcs8 = new Uint8Array(await globalThis.crypto.subtle.exportKey("pkcs8", pair.privateKey));
    return PrivateKey.fromSeed(pkcs8.slice(pkcs8.length - SEED_SIZE));
  }

  /** The key of a 32-byte seed (the private key format of pasar key files). */
  static async fromSeed(seed) {
    if (!isBytes(seed) || seed.length !== SEED_SIZE) throw new RangeError("an Ed25519 seed is 32 bytes");
    const pkcs8 = concat(PKCS8_SEED_PREFIX, seed);
    const extractable = await globalThis.crypto.subtle.importKey("pkcs8", pkcs8, ED25519, true, ["sign"]);
    const jwk = await globalThis.crypto.subtle.exportKey("jwk", extractable);
    // Keep a non-extractable copy for signing so the page cannot leak it by accident.
    const cryptoKey = await globalThis.crypto.subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]);
    return new PrivateKey(Uint8Array.from(seed), fromBase64url(jwk.x), cryptoKey);
  }

  /** Signature over signingMessage(domain, chainId, digest). */
  async sign(domain, chainId, digest) {
    const message = signingMessage(domain, chainId, digest);
    return new Uint8Array(await globalThis.crypto.subtle.sign(ED25519, this.cryptoKey, message));
  }

  toString() {
    return `PrivateKey(public=${toHex(this.publicKey)})`; // never print key material
  }
}

// libsodium's crypto_sign_open, which the Python side uses, refuses keys and R values
// of small order and non-canonical keys; WebCrypto (OpenSSL, BoringSSL) does not, so
// those checks are made here, or a signature could verify in the browser only.
const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
// y of the order-8 points: y^2 = (-1 - sqrt(1 + d)) / d for the curve constant d.
const Y8 = 0x5fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8, P, P + 1n]);

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function pointY(encoded) {
  const copy = Uint8Array.from(encoded);
  copy[31] &= 0x7f; // the top bit is the sign of x
  return littleEndian(copy);
}

export const _forTests = { P, Y8, pointY };

/** True when `signature` is `publicKey`'s signature over the bound digest; never throws. */
export async function verify(publicKey, domain, chainId, digest, signature) {
  if (!isBytes(publicKey) || !isBytes(signature)) return false;
  if (publicKey.length !== PUBLIC_KEY_SIZE || signature.length !== SIGNATURE_SIZE) return false;
  if (littleEndian(signature.subarray(32)) >= L) return false;
  if (SMALL_ORDER_Y.has(pointY(signature.subarray(0, 32)))) return false;
  const keyY = pointY(publicKey);
  if (keyY >= P || SMALL_ORDER_Y.has(keyY)) return false;
  try {
    const key = await globalThis.crypto.subtle.importKey("raw", publicKey, ED25519, false, ["verify"]);
    return await globalThis.crypto.subtle.verify(ED25519, key, signature, signingMessage(domain, chainId, digest));
  } catch {
    return false; // not a point on the curve, or a bad domain or chain id
  }
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes) {
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

function fromBase32(text) {
  const out = [];
  let bits = 0;
  let acc = 0;
  for (const c of text) {
    const v = BASE32.indexOf(c);
    if (v < 0) throw new AddressError("address is not valid base32");
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** An address text that does not parse; the message says why. */
export class AddressError extends Error {
  constructor(message) {
    super(message);
    this.name = "AddressError";
  }
}

async function checksum(publicKey) {
  return (await taggedHash(ADDRESS, publicKey)).subarray(0, 4);
}

/** Readable form of an account: "pasar1" + lowercase base32(key ‖ checksum), unpadded. */
export async function addressToText(publicKey) {
  if (!isBytes(publicKey) || publicKey.length !== PUBLIC_KEY_SIZE) throw new RangeError("an account is a 32-byte public key");
  return ADDRESS_PREFIX + base32(concat(publicKey, await checksum(publicKey))).toLowerCase();
}

/** The public key of an address text (or of 64 hex digits); throws AddressError on a bad one. */
export async function addressFromText(text) {
  if (typeof text !== "string") throw new AddressError("an address is text");
  text = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    return Uint8Array.from(text.match(/../g), (h) => parseInt(h, 16));
  }
  if (!text.startsWith(ADDRESS_PREFIX)) throw new AddressError(`an address starts with "${ADDRESS_PREFIX}" or is 64 hex digits`);
  const body = text.slice(ADDRESS_PREFIX.length);
  if (!/^[A-Za-z2-7]*$/.test(body)) throw new AddressError("address is not valid base32");
  const raw = fromBase32(body.toUpperCase());
  if (raw.length !== PUBLIC_KEY_SIZE + 4) throw new AddressError("address has the wrong length");
  const publicKey = raw.slice(0, PUBLIC_KEY_SIZE);
  if (!equal(await checksum(publicKey), raw.subarray(PUBLIC_KEY_SIZE))) {
    throw new AddressError("address checksum does not match (typo?)");
  }
  // The last character carries two unused bits; only the form with them zero is
  // accepted, so one account has exactly one text form.
  if ((await addressToText(publicKey)) !== ADDRESS_PREFIX + body.toLowerCase()) {
    throw new AddressError("address is not in canonical form (typo in the last character?)");
  }
  return publicKey;
}
