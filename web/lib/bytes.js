// Byte helpers shared by the pasar library: hex, UTF-8, concatenation, comparison
// and base64url, written for Uint8Array so the same code runs in browsers and Node.js.

const HEX = "0123456789abcdef";

/** True for a Uint8Array (Node's Buffer is one too). */
export function isBytes(value) {
  return value instanceof Uint8Array;
}

/** Lowercase hex of some bytes. */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += HEX[b >> 4] + HEX[b & 15];
  return out;
}

/** Bytes from an even-length hex string (either case); throws on anything else. */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError("expected an even number of hexadecimal digits");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** One Uint8Array holding the given byte arrays in order. */
export function concat(...parts) {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bytewise equality. */
export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Bytewise (unsigned, lexicographic) order: negative, zero or positive. */
export function compare(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True when a JS string has no unpaired surrogate, i.e. it has a UTF-8 form. */
export function isWellFormed(text) {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** UTF-8 bytes of a string; throws on an unpaired surrogate instead of replacing it. */
export function utf8(text) {
  if (!isWellFormed(text)) throw new TypeError("text holds an unpaired surrogate");
  return encoder.encode(text);
}

/** The string of some UTF-8 bytes; throws on invalid UTF-8 (no replacement characters). */
export function fromUtf8(bytes) {
  return strictDecoder.decode(bytes);
}

/** Bytes of base64url text (padding optional), as JWK fields use it. */
export function fromBase64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
