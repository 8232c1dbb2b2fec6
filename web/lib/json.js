// JSON for the node's API with integers kept exact: amounts and nonces can exceed
// 2^53, where JSON.parse would silently round them. `parse` gives integers beyond
// Number.MAX_SAFE_INTEGER as BigInt (others as numbers); `stringify` writes BigInt
// as plain JSON integers.

const WS = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const MAX_DEPTH = 512;

/** Parse JSON text; integers that do not fit a safe JS number come back as BigInt. */
export function parse(text) {
  let i = 0;
  const fail = (what) => {
    throw new SyntaxError(`JSON: ${what} at offset ${i}`);
  };
  const skip = () => {
    while (WS.has(text[i])) i++;
  };
  const literal = (word, value) => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return value;
    }
    return fail("unexpected token");
  };
  const string = () => {
    i++; // opening quote
    let out = "";
    for (;;) {
      const c = text[i++];
      if (c === undefined) fail("unterminated string");
      if (c === '"') return out;
      if (c < " ") fail("control character in string");
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = text[i++];
      if (e === "u") {
        const code = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(code)) fail("bad \\u escape");
        out += String.fromCharCode(parseInt(code, 16));
        i += 4;
      } else if (e in ESCAPES) out += ESCAPES[e];
      else fail("bad escape");
    }
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match) fail("bad number");
    i += match[0].length;
    if (match[2] === undefined && match[3] === undefined) {
      const n = Number(match[0]);
      return Number.isSafeInteger(n) ? n : BigInt(match[0]);
    }
    return Number(match[0]);
  };
  const value = (depth) => {
    if (depth > MAX_DEPTH) fail("nested too deeply");
    skip();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = {};
      skip();
      if (text[i] === "}") return i++, out;
      for (;;) {
        skip();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        skip();
        if (text[i++] !== ":") fail("expected ':'");
        Object.defineProperty(out, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return i++, out;
        else fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out = [];
      skip();
      if (text[i] === "]") return i++, out;
      for (;;) {
        out.push(value(depth + 1));
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return i++, out;
        else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === "t") return literal("true", true);
    if (c === "f") return literal("false", false);
    if (c === "n") return literal("null", null);
    return number();
  };
  const result = value(0);
  skip();
  if (i !== text.length) fail("trailing characters");
  return result;
}

/** JSON text of a value; BigInt becomes a JSON integer (undefined members are left out). */
export function stringify(value) {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (typeof value.toJSON === "function") return stringify(value.toJSON());
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? "null" : stringify(item))).join(",")}]`;
  const members = Object.entries(value).filter(([, item]) => item !== undefined && typeof item !== "function");
  return `{${members.map(([key, item]) => `${JSON.stringify(key)}:${stringify(item)}`).join(",")}}`;
}
