// The wallet's key file: a 32-byte Ed25519 seed encrypted with a passphrase, as JSON.
//
//   {"format": "pasar-key-v1", "address", "kdf": {"name": "PBKDF2", "hash": "SHA-256",
//    "iterations", "salt"}, "cipher": {"name": "AES-GCM", "iv"}, "ciphertext"}   (hex fields)
//
// PBKDF2-SHA-256 stretches the passphrase into an AES-256-GCM key; the address is the
// additional authenticated data, so a file whose address was edited does not decrypt.
// The seed never leaves the page: this file is what is stored and exported.

import { fromHex, toHex, utf8 } from "../lib/bytes.js";
import { PrivateKey, addressToText } from "../lib/keys.js";

export const FORMAT = "pasar-key-v1";
export const ITERATIONS = 600_000; // OWASP's 2023 figure for PBKDF2-HMAC-SHA256
const MIN_ITERATIONS = 100_000;

async function aesKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", utf8(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** The key file of `key` under `passphrase`. */
export async function seal(key, passphrase, iterations = ITERATIONS) {
  if (passphrase.length < 8) throw new Error("the passphrase must be at least 8 characters");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const address = await addressToText(key.publicKey);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(address) },
    await aesKey(passphrase, salt, iterations),
    key.seed,
  );
  return {
    format: FORMAT,
    address,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations, salt: toHex(salt) },
    cipher: { name: "AES-GCM", iv: toHex(iv) },
    ciphertext: toHex(new Uint8Array(sealed)),
  };
}

/** The PrivateKey in a key file; throws Error with a reason a person can act on. */
export async function open(file, passphrase) {
  if (file?.kind === "pasar-ed25519-key") {
    throw new Error("this is a `pasar keys` file: export it for the browser with `pasar keys export NAME --wallet-file FILE`");
  }
  if (!file || file.format !== FORMAT) throw new Error("this is not a pasar key file");
  const iterations = Number(file.kdf?.iterations);
  if (file.kdf?.name !== "PBKDF2" || file.kdf?.hash !== "SHA-256" || file.cipher?.name !== "AES-GCM") {
    throw new Error("this key file uses a method this page does not know");
  }
  if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > 10_000_000) {
    throw new Error("this key file's iteration count is out of range");
  }
  let seed;
  try {
    const aes = await aesKey(passphrase, fromHex(file.kdf.salt), iterations);
    const iv = fromHex(file.cipher.iv);
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: utf8(String(file.address)) }, aes, fromHex(file.ciphertext));
    seed = new Uint8Array(plain);
  } catch {
    throw new Error("wrong passphrase (or a damaged key file)");
  }
  const key = await PrivateKey.fromSeed(seed);
  if ((await addressToText(key.publicKey)) !== file.address) throw new Error("the key file's address does not match its key");
  return key;
}
