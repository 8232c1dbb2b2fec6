// The canonical msgpack codec of docs/protocol.md §1, mirroring ledger/codec.py.
//
// Values: integers (decoded always as BigInt; numbers are accepted when encoding if
// they are safe integers), bytes (Uint8Array, msgpack bin), text (string, msgpack
// str), booleans, null and arrays. Maps, floats and extension types are refused.
// msgpack has several encodings per value, so `decode` re-encodes what it read and
// refuses input whose bytes differ: every value has exactly one accepted form.

import { fromUtf8, isBytes, utf8, equal } from "./bytes.js";

export const MAX_DECODE_BYTES = 1 << 20;
export const MIN_INT = -(1n << 63n);
export const MAX_INT = (1n << 64n) - 1n;
export const MAX_DEPTH = 32;

/** A value outside the codec or bytes that are not its canonical encoding; `code` says which rule. */
export class CodecError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "CodecError";
    this.code = code;
  }
}

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.len = 0;
  }
  room(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }
  byte(b) {
    this.room(1);
    this.buf[this.len++] = b;
  }
  uint(value, size) {
    // big-endian, `size` bytes; value is a BigInt already known to fit
    this.room(size);
    for (let i = size - 1; i >= 0; i--) {
      this.buf[this.len + i] = Number(value & 0xffn);
      value >>= 8n;
    }
    this.len += size;
  }
  raw(bytes) {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }
  bytes() {
    return this.buf.slice(0, this.len);
  }
}

function writeInt(w, n) {
  if (n < MIN_INT || n > MAX_INT) throw new CodecError("int_out_of_range", "integer does not fit in 64 bits");
  if (n >= 0n) {
    if (n <= 0x7fn) w.byte(Number(n));
    else if (n <= 0xffn) (w.byte(0xcc), w.uint(n, 1));
    else if (n <= 0xffffn) (w.byte(0xcd), w.uint(n, 2));
    else if (n <= 0xffffffffn) (w.byte(0xce), w.uint(n, 4));
    else (w.byte(0xcf), w.uint(n, 8));
  } else if (n >= -32n) w.byte(Number(n + 256n));
  else if (n >= -128n) (w.byte(0xd0), w.uint(n + (1n << 8n), 1));
  else if (n >= -32768n) (w.byte(0xd1), w.uint(n + (1n << 16n), 2));
  else if (n >= -(1n << 31n)) (w.byte(0xd2), w.uint(n + (1n << 32n), 4));
  else (w.byte(0xd3), w.uint(n + (1n << 64n), 8));
}

function writeLength(w, length, fix, fixLimit, markers) {
  // markers: the 8-, 16- and 32-bit length forms (null where the type has no 8-bit form)
  if (fix !== null && length < fixLimit) w.byte(fix | length);
  else if (markers[0] !== null && length < 0x100) (w.byte(markers[0]), w.uint(BigInt(length), 1));
  else if (length < 0x10000) (w.byte(markers[1]), w.uint(BigInt(length), 2));
  else (w.byte(markers[2]), w.uint(BigInt(length), 4));
}

function write(w, value, depth) {
  if (depth > MAX_DEPTH) throw new CodecError("too_deep", "value is nested too deeply");
  if (value === null) w.byte(0xc0);
  else if (value === false) w.byte(0xc2);
  else if (value === true) w.byte(0xc3);
  else if (typeof value === "bigint") writeInt(w, value);
  else if (typeof value === "number") {
    // A float has no canonical form here; a whole number beyond 2^53 may already be rounded.
    if (!Number.isSafeInteger(value)) throw new CodecError("bad_type", "numbers must be safe integers (use BigInt)");
    writeInt(w, BigInt(value));
  } else if (isBytes(value)) {
    writeLength(w, value.length, null, 0, [0xc4, 0xc5, 0xc6]);
    w.raw(value);
  } else if (typeof value === "string") {
    let data;
    try {
      data = utf8(value);
    } catch {
      throw new CodecError("bad_type", "text holds an unpaired surrogate");
    }
    writeLength(w, data.length, 0xa0, 32, [0xd9, 0xda, 0xdb]);
    w.raw(data);
  } else if (Array.isArray(value)) {
    writeLength(w, value.length, 0x90, 16, [null, 0xdc, 0xdd]);
    for (const item of value) write(w, item, depth + 1);
  } else {
    throw new CodecError("bad_type", `a ${typeof value} cannot be encoded canonically`);
  }
}

/** Canonical bytes of a value (nested arrays of ints, bytes, text, booleans, null). */
export function encode(value) {
  const w = new Writer();
  write(w, value, 0);
  return w.bytes();
}

class Reader {
  constructor(data) {
    this.data = data;
    this.pos = 0;
  }
  take(n) {
    if (this.pos + n > this.data.length) throw new CodecError("malformed", "input ends inside a value");
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  uint(size) {
    let n = 0n;
    for (const b of this.take(size)) n = (n << 8n) | BigInt(b);
    return n;
  }
  int(size) {
    const n = this.uint(size);
    const bits = BigInt(size * 8);
    return n >= 1n << (bits - 1n) ? n - (1n << bits) : n;
  }
}

function readArray(r, count, depth) {
  // Every item takes at least one byte: a count beyond what is left is malformed, and
  // checking it first keeps a forged 32-bit count from looping.
  if (count > r.data.length - r.pos) throw new CodecError("malformed", "array is longer than the input");
  const out = [];
  for (let i = 0; i < count; i++) out.push(read(r, depth + 1));
  return out;
}

function readText(r, size) {
  try {
    return fromUtf8(r.take(size));
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError("malformed", "text is not valid UTF-8");
  }
}

function read(r, depth) {
  if (depth > MAX_DEPTH) throw new CodecError("non_canonical", "value is nested too deeply");
  const b = r.take(1)[0];
  if (b <= 0x7f) return BigInt(b);
  if (b >= 0xe0) return BigInt(b - 256);
  if (b >= 0x90 && b <= 0x9f) return readArray(r, b & 0x0f, depth);
  if (b >= 0xa0 && b <= 0xbf) return readText(r, b & 0x1f);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return r.take(Number(r.uint(1 << (b - 0xc4)))).slice();
    case 0xca:
    case 0xcb:
      throw new CodecError("non_canonical", "floats are not part of the codec");
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
      return r.uint(1 << (b - 0xcc));
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
      return r.int(1 << (b - 0xd0));
    case 0xd9:
    case 0xda:
    case 0xdb:
      return readText(r, Number(r.uint(1 << (b - 0xd9))));
    case 0xdc:
    case 0xdd:
      return readArray(r, Number(r.uint(b === 0xdc ? 2 : 4)), depth);
    default:
      // fixmap, map16/32, ext types and the unused c1
      throw new CodecError("malformed", `type byte 0x${b.toString(16)} is not part of the codec`);
  }
}

/** Decode canonical bytes; refuse oversize, empty, trailing, malformed or non-canonical input. */
export function decode(data, maxBytes = MAX_DECODE_BYTES) {
  if (!isBytes(data)) throw new CodecError("bad_type", "input must be bytes");
  if (data.length > maxBytes) throw new CodecError("too_large", `input is ${data.length} bytes, the limit is ${maxBytes}`);
  if (data.length === 0) throw new CodecError("empty", "input is empty");
  const r = new Reader(data);
  const value = read(r, 0);
  if (r.pos !== data.length) throw new CodecError("trailing_bytes", "input has bytes after the encoded value");
  if (!equal(encode(value), data)) throw new CodecError("non_canonical", "input is not in canonical form");
  return value;
}

// Shape checks for decoded objects, as ledger/codec.py's expect_* functions.

/** A decoded array of exactly `length` items. */
export function expectList(value, length, what) {
  if (!Array.isArray(value) || value.length !== length) throw new CodecError("bad_shape", `${what} must be an array of ${length} items`);
  return value;
}

/** A decoded integer (never a boolean) within [low, high]; returned as BigInt. */
export function expectInt(value, what, low = 0n, high = MAX_INT) {
  if (typeof value !== "bigint") throw new CodecError("bad_type", `${what} must be an integer`);
  if (value < low || value > high) throw new CodecError("out_of_range", `${what} must be between ${low} and ${high}`);
  return value;
}

/** Decoded bytes, of an exact length when one is given. */
export function expectBytes(value, what, length = null, maxLength = MAX_DECODE_BYTES) {
  if (!isBytes(value)) throw new CodecError("bad_type", `${what} must be bytes`);
  if (length !== null && value.length !== length) throw new CodecError("bad_length", `${what} must be ${length} bytes`);
  if (value.length > maxLength) throw new CodecError("too_long", `${what} must be at most ${maxLength} bytes`);
  return value;
}

/** Decoded text of at most `maxLength` Unicode code points. */
export function expectStr(value, what, maxLength = 256) {
  if (typeof value !== "string") throw new CodecError("bad_type", `${what} must be text`);
  let points = 0;
  for (const _ of value) points++;
  if (points > maxLength) throw new CodecError("too_long", `${what} must be at most ${maxLength} characters`);
  return value;
}

/** A decoded boolean. */
export function expectBool(value, what) {
  if (typeof value !== "boolean") throw new CodecError("bad_type", `${what} must be a boolean`);
  return value;
}

/** Check an object's [tag, version, ...] head: integers, never booleans. */
export function expectTag(fields, tag, version, what) {
  if (fields[0] !== BigInt(tag)) throw new CodecError("bad_tag", `not a ${what}`);
  if (fields[1] !== BigInt(version)) throw new CodecError("bad_version", `unsupported ${what} version ${fields[1]}`);
}
