/**
 * The `matches` pattern language (port of `experimently_sdk/patterns.py`), run on RE2JS, a pure
 * JavaScript port of RE2: linear time in the value's length, no backtracking, the same syntax as the
 * server's RE2.
 *
 * `checkPattern` refuses what the engines disagree on or what RE2 cannot run; `compilePattern`
 * translates accepted text into the same RE2 text as the Python engine, with JavaScript's meaning:
 *
 * - `$` is the end of the value (never "before a trailing newline"): `\z`;
 * - `.` never matches a line break (`\n`, `\r`, U+2028, U+2029);
 * - `\d`, `\w`, `\b` are ASCII (as in RE2); `\s` is JavaScript's white-space set;
 * - with `case_insensitive` the value and the pattern's literal characters are case-folded.
 *
 * `^(a+)+$` costs microseconds on any value. The server also refuses, at save time, a pattern whose
 * RE2 program exceeds 1,500 instructions; that count belongs to the C++ RE2 (RE2JS compiles to other
 * instructions), so this port does not repeat the check: a payload from the server never holds such a
 * pattern.
 */

import { RE2JS } from "re2js";

import { casefold } from "./values.js";

export const MAX_PATTERN_LENGTH = 256;
export const MAX_VALUE_LENGTH = 4096;

const JS_SPACE =
  "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
const DOT = "[^\\n\\r\\x{2028}\\x{2029}]";
const CLASS_ESCAPES = new Set("dDwWtnrfv");
const ATOM_ESCAPES = new Set("dDwWsSbBtnrfv");
const BRACE_RE = /^\{[0-9]+(?:,[0-9]*)?\}/;
const ASCII_ALNUM = /^[A-Za-z0-9]$/;
const DIGIT = /^\p{Nd}$/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export class PatternError extends Error {}

/** One compiled `matches` condition value (or several joined): `test` searches a prepared value. */
export interface Pattern {
  test(text: string): boolean;
}

/** A literal character (one code point) in RE2 syntax, inside or outside a class. */
function escapeChar(char: string): string {
  const cp = char.codePointAt(0)!;
  if (cp < 0x80 && (ASCII_ALNUM.test(char) || char === "_")) return char;
  if (cp > 0x20 && cp < 0x7f) return "\\" + char;
  return `\\x{${cp.toString(16)}}`;
}

class Scan {
  readonly chars: string[];

  constructor(
    pattern: string,
    readonly fold: boolean,
  ) {
    this.chars = [...pattern]; // code points, as Python indexes a str
  }

  literal(char: string): string {
    let c = char;
    if (this.fold) {
      const folded = casefold(char);
      if ([...folded].length === 1) c = folded;
    }
    return escapeChar(c);
  }
}

function escapeSequence(scan: Scan, i: number, inClass: boolean): [string, number] {
  const p = scan.chars;
  if (i + 1 >= p.length) throw new PatternError("pattern ends with a lone backslash");
  const c = p[i + 1]!;
  if ("123456789k".includes(c)) throw new PatternError("backreferences are not supported");
  if (c === "0") {
    if (i + 2 < p.length && DIGIT.test(p[i + 2]!)) throw new PatternError("octal escapes are not supported");
    return ["\\x{0}", i + 2];
  }
  if (c === "x") return [hex(scan, i, 2), i + 4];
  if (c === "u") return [hex(scan, i, 4), i + 6];
  if (c === "s" || c === "S") {
    if (inClass) {
      if (c === "S") throw new PatternError("\\S inside a character class is not supported");
      return [JS_SPACE, i + 2];
    }
    return [`[${c === "S" ? "^" : ""}${JS_SPACE}]`, i + 2];
  }
  if ((inClass ? CLASS_ESCAPES : ATOM_ESCAPES).has(c)) return ["\\" + c, i + 2];
  if (ASCII_ALNUM.test(c)) throw new PatternError(`escape \\${c} is not supported`);
  return [scan.literal(c), i + 2];
}

function hex(scan: Scan, i: number, width: number): string {
  const p = scan.chars;
  const digits = p.slice(i + 2, i + 2 + width).join("");
  if (digits.length !== width || !/^[0-9a-fA-F]+$/.test(digits)) {
    throw new PatternError(`\\${p[i + 1]} needs ${width} hexadecimal digits`);
  }
  const code = parseInt(digits, 16);
  if (code >= 0xd800 && code <= 0xdfff) {
    throw new PatternError("surrogate code points (\\ud800-\\udfff) are not supported");
  }
  return scan.literal(String.fromCodePoint(code));
}

function charClass(scan: Scan, i: number): [string, number] {
  const p = scan.chars;
  let j = i + 1;
  let out = "[";
  if (j < p.length && p[j] === "^") {
    out += "^";
    j++;
  }
  if (j < p.length && p[j] === "]") throw new PatternError("empty character classes ([] and [^]) are not supported");
  while (j < p.length && p[j] !== "]") {
    const c = p[j]!;
    if (c === "\\") {
      const [text, next] = escapeSequence(scan, j, true);
      out += text;
      j = next;
      continue;
    }
    const pair = c + (p[j + 1] ?? "");
    if (c === "[" || pair === "--" || pair === "&&" || pair === "~~" || pair === "||") {
      throw new PatternError("nested sets and set operations in a class are not supported");
    }
    out += c === "^" || c === "-" ? c : scan.literal(c);
    j++;
  }
  if (j >= p.length) throw new PatternError("unterminated character class");
  return [out + "]", j + 1];
}

function groupOpen(p: string[], i: number): [string, number] {
  if (p[i + 1] !== "?") return ["(", i + 1];
  const opener = p.slice(i, i + 3).join("");
  if (opener === "(?:") return [opener, i + 3];
  if (opener === "(?=" || opener === "(?!") {
    throw new PatternError("lookahead is not supported (patterns run on a linear-time engine)");
  }
  const four = p.slice(i, i + 4).join("");
  if (four === "(?<=" || four === "(?<!") throw new PatternError("lookbehind is not supported");
  if (opener === "(?<" || opener === "(?P") throw new PatternError("named groups are not supported");
  if (opener === "(?>") throw new PatternError("atomic groups are not supported");
  throw new PatternError("inline flags and other (?...) groups are not supported; use case_insensitive");
}

/** The RE2 text of an accepted pattern (the Python engine's translation, character for character). */
export function translatePattern(pattern: string, caseInsensitive: boolean): string {
  const scan = new Scan(pattern, caseInsensitive);
  const p = scan.chars;
  let out = "";
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    let token: string;
    if (c === "\\") {
      [token, i] = escapeSequence(scan, i, false);
    } else if (c === "[") {
      [token, i] = charClass(scan, i);
    } else if (c === "(") {
      [token, i] = groupOpen(p, i);
    } else if (c === "*" || c === "+" || c === "?") {
      token = c;
      i++;
      if (p[i] === "+") throw new PatternError("possessive quantifiers are not supported");
    } else if (c === "{") {
      const m = BRACE_RE.exec(p.slice(i).join(""));
      if (m === null) throw new PatternError("'{' must start a quantifier {n}, {n,} or {n,m} (escape it as \\{)");
      token = m[0];
      i += m[0].length;
      if (p[i] === "+") throw new PatternError("possessive quantifiers are not supported");
    } else if (c === ".") {
      token = DOT;
      i++;
    } else if (c === "$") {
      token = "\\z";
      i++;
    } else if (c === "^" || c === "|" || c === ")") {
      token = c;
      i++;
    } else {
      token = scan.literal(c);
      i++;
    }
    out += token;
  }
  return "(?:" + out + ")";
}

function compileText(text: string, caseInsensitive: boolean): RE2JS {
  try {
    return RE2JS.compile(text, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (exc) {
    throw new PatternError(`invalid pattern: ${(exc as Error).message}`);
  }
}

// compiled once per (pattern, case_insensitive), also across rulesets (a new payload recompiles
// every flag); bounded like the Python engine's cache
const CACHE = new Map<string, RE2JS>();
const CACHE_SIZE = 4096;

function compiled(pattern: string, caseInsensitive: boolean): RE2JS {
  const key = (caseInsensitive ? "i:" : "s:") + pattern;
  let re = CACHE.get(key);
  if (re === undefined) {
    if ([...pattern].length > MAX_PATTERN_LENGTH) {
      throw new PatternError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
    }
    re = compileText(translatePattern(pattern, caseInsensitive), caseInsensitive);
    if (CACHE.size >= CACHE_SIZE) CACHE.clear();
    CACHE.set(key, re);
  }
  return re;
}

/** Translate and compile; throws `PatternError` (with a message) on a refused pattern. */
export function compilePattern(pattern: string, caseInsensitive: boolean): Pattern {
  return compiled(pattern, caseInsensitive);
}

/**
 * One test for "ANY of `patterns` is found in the value" (one RE2 program, one pass over the value);
 * throws `PatternError` on a refused pattern. Values longer than `MAX_VALUE_LENGTH` code points and
 * values holding a lone surrogate (not text RE2 can read) never match; with `caseInsensitive` the
 * value is case-folded first.
 */
export function compilePatterns(patterns: readonly string[], caseInsensitive: boolean): (value: string) => boolean {
  const each = patterns.map((p) => compiled(p, caseInsensitive));
  const joined =
    each.length === 1
      ? each[0]!
      : compileText(patterns.map((p) => translatePattern(p, caseInsensitive)).join("|"), caseInsensitive);
  return (value) => {
    if (value.length > MAX_VALUE_LENGTH && tooLong(value)) return false;
    const text = caseInsensitive ? casefold(value) : value;
    if (LONE_SURROGATE.test(text)) return false;
    return joined.test(text);
  };
}

/** `null` when the pattern is accepted, else the reason it is refused. */
export function checkPattern(pattern: string, caseInsensitive = false): string | null {
  try {
    compiled(pattern, caseInsensitive);
    return null;
  } catch (exc) {
    return exc instanceof PatternError ? exc.message : String(exc);
  }
}

/** Code points of `text`, counted only as far as needed for the length bound. */
export function tooLong(text: string): boolean {
  if (text.length <= MAX_VALUE_LENGTH) return false;
  let count = 0;
  for (const _ of text) if (++count > MAX_VALUE_LENGTH) return true;
  return false;
}
