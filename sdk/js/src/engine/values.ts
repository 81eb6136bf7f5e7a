/**
 * Value interpretation shared by validation and evaluation (port of `experimently_sdk/values.py`).
 * Every parser returns `null` for a value it cannot interpret; none of them throws.
 */

const NUMERIC_RE = /^ *[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *$/;

export function isNumber(value: unknown): value is number {
  return typeof value === "number";
}

/** A number or numeric string as a double; `null` when not numeric. */
export function parseNumber(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string" && NUMERIC_RE.test(value)) return Number(value.trim());
  return null;
}

export function isNumericText(value: string): boolean {
  return NUMERIC_RE.test(value);
}

/** The text a bucketing attribute hashes as; `null` when it cannot be bucketed. */
export function unitText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    if (Number.isInteger(value)) {
      return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
    }
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  return null;
}

/** Text for string operators: strings as-is, numbers as JavaScript writes them, booleans lower-case. */
export function valueText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return String(value);
  return null;
}

/** A JSON scalar usable in equality: string, finite number or boolean. */
export function isScalar(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  return typeof value === "string" || typeof value === "boolean";
}

/**
 * Python's `str.casefold()`, approximated: upper- then lower-casing gives the full folds that matter
 * (`ß` -> `ss`), and the final sigma is folded like any sigma. See docs/sdk-js.md.
 */
export function casefold(text: string): string {
  // ASCII fast path
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text.toLowerCase();
  return text.toUpperCase().toLowerCase().replace(/ς/g, "σ");
}

// -------------------------------------------------------------------------------------------------
// Versions

const SEMVER_RE =
  /^[vV]?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Release parts as digit strings without leading zeros, then the pre-release identifiers. */
export interface SemVer {
  parts: [string, string, string];
  pre: Array<string | bigint> | null; // null: a release (sorts after any pre-release)
}

function digits(text: string | undefined): string {
  if (text === undefined) return "0";
  const stripped = text.replace(/^0+/, "");
  return stripped === "" ? "0" : stripped;
}

/** A text longer than this is not a version (the Python engine's bound; the server refuses longer values). */
export const MAX_VERSION_LENGTH = 256;

export function parseSemver(value: unknown): SemVer | null {
  if (typeof value !== "string" || value.length > MAX_VERSION_LENGTH) return null;
  const m = SEMVER_RE.exec(value);
  if (m === null) return null;
  const parts: [string, string, string] = [digits(m[1]), digits(m[2]), digits(m[3])];
  if (m[4] === undefined) return { parts, pre: null };
  const pre: Array<string | bigint> = [];
  for (const ident of m[4].split(".")) {
    if (/^[0-9]+$/.test(ident)) {
      if (ident.length > 1 && ident[0] === "0") return null;
      pre.push(BigInt(ident));
    } else {
      pre.push(ident);
    }
  }
  return { parts, pre };
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareSemver(a: SemVer, b: SemVer): number {
  for (let i = 0; i < 3; i++) {
    const c = compareDigits(a.parts[i]!, b.parts[i]!);
    if (c !== 0) return c;
  }
  if (a.pre === null || b.pre === null) {
    return a.pre === b.pre ? 0 : a.pre === null ? 1 : -1;
  }
  const n = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < n; i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (typeof x !== typeof y) return typeof x === "bigint" ? -1 : 1; // numeric < alphanumeric
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

// -------------------------------------------------------------------------------------------------
// Instants: exact decimals (mantissa x 10^exponent), compared exactly like Python's Decimal. Both
// parts are bigints and never expanded, so "1e-10000000" costs what "1e-1" costs.

export interface Decimal {
  m: bigint;
  e: bigint;
}

const DATE_RE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?$/;

/** A text longer than this is not a date (the Python engine's bound; the server refuses longer values). */
export const MAX_INSTANT_LENGTH = 64;

function decimalFromText(text: string): Decimal | null {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(text.trim());
  if (m === null) return null;
  const frac = m[3] ?? "";
  const exp = m[4] === undefined ? 0n : BigInt(m[4]);
  const mantissa = BigInt((m[2] ?? "") + frac || "0");
  return { m: m[1] === "-" ? -mantissa : mantissa, e: exp - BigInt(frac.length) };
}

function compareMagnitude(a: Decimal, b: Decimal): number {
  const da = (a.m < 0n ? -a.m : a.m).toString();
  const db = (b.m < 0n ? -b.m : b.m).toString();
  // the position of the leading digit decides, then the digits themselves
  const lead = a.e + BigInt(da.length) - (b.e + BigInt(db.length));
  if (lead !== 0n) return lead < 0n ? -1 : 1;
  const width = Math.max(da.length, db.length);
  const x = da.padEnd(width, "0");
  const y = db.padEnd(width, "0");
  return x < y ? -1 : x > y ? 1 : 0;
}

export function compareDecimal(a: Decimal, b: Decimal): number {
  const sa = a.m > 0n ? 1 : a.m < 0n ? -1 : 0;
  const sb = b.m > 0n ? 1 : b.m < 0n ? -1 : 0;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  return sa * compareMagnitude(a, b);
}

function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/** Epoch seconds (exact) for an ISO-8601 text, a date, or epoch seconds; `null` otherwise. */
export function parseInstant(value: unknown): Decimal | null {
  if (typeof value === "number") {
    // the number as written (shortest decimal), so 1.1 is exactly 11/10
    return Number.isFinite(value) ? decimalFromText(String(value)) : null;
  }
  if (typeof value !== "string" || value.length > MAX_INSTANT_LENGTH) return null;
  if (NUMERIC_RE.test(value)) {
    return Number.isFinite(Number(value.trim())) ? decimalFromText(value) : null;
  }
  const m = DATE_RE.exec(value);
  if (m === null) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0;
  const tz = m[8];
  if (tz !== undefined && tz !== "Z" && tz !== "z") {
    const d = tz.slice(1).replace(":", "");
    const oh = Number(d.slice(0, 2));
    const om = Number(d.slice(2));
    if (oh > 23 || om > 59) return null;
    offset = (oh * 60 + om) * 60 * (tz[0] === "-" ? -1 : 1);
  }
  const whole = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  const frac = m[7] ?? "";
  return { m: BigInt(whole) * 10n ** BigInt(frac.length) + BigInt(frac || "0"), e: -BigInt(frac.length) };
}

// -------------------------------------------------------------------------------------------------
// Networks

export interface Address {
  v: 4 | 6;
  n: bigint;
}

export interface Network {
  v: 4 | 6;
  net: bigint;
  mask: bigint;
}

function parseV4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(text: string): bigint | null {
  let tail: bigint[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.slice(lastColon + 1).includes(".")) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >> 16n, v4 & 0xffffn];
    body = text.slice(0, lastColon + 1) + "0"; // placeholder hextet, replaced below
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string): bigint[] | null => {
    if (s === "") return [];
    const out: bigint[] = [];
    for (const h of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(h)) return null;
      out.push(BigInt("0x" + h));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || rest === null) return null;
  let groups: bigint[];
  if (tail.length) {
    const target = halves.length === 2 ? rest : head;
    target.pop();
    target.push(...tail);
  }
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    groups = [...head, ...Array<bigint>(missing).fill(0n), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** An IP address; zone ids, leading-zero octets and anything else give `null`. */
export function parseAddress(value: unknown): Address | null {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== "string" || value.includes("%") || !/^[\x00-\x7f]*$/.test(value)) return null;
  if (value.includes(":")) {
    const n = parseV6(value);
    return n === null ? null : { v: 6, n };
  }
  const n = parseV4(value);
  return n === null ? null : { v: 4, n };
}

/** A network in prefix-length form (or a single address); an error message when refused. */
export function parseNetwork(value: unknown): Network | string {
  if (typeof value !== "string") return "must be a string";
  const slash = value.indexOf("/");
  const addressText = slash < 0 ? value : value.slice(0, slash);
  const address = parseAddress(addressText);
  if (address === null) return `'${value}' is not an IP address or CIDR network`;
  const bits = address.v === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = value.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > bits) {
      return `'${value}' has an invalid prefix length (use /N)`;
    }
    prefix = Number(p);
  }
  const all = (1n << BigInt(bits)) - 1n;
  const mask = (all << BigInt(bits - prefix)) & all;
  if ((address.n & mask) !== address.n) return `'${value}' has host bits set`;
  return { v: address.v, net: address.n, mask };
}
