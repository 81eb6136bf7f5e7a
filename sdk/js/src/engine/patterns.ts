/**
 * The `matches` pattern language (port of `experimently_sdk/patterns.py`): the regular-expression subset
 * Python and JavaScript run alike. `checkPattern` refuses what the engines disagree on (the same
 * refusals as the server); `compilePattern` translates accepted text into a JavaScript RegExp.
 *
 * JavaScript's own semantics (no `u`, `s` or `m` flag) already give the pinned meaning: `$` is the end
 * of the value, `.` never matches a line break, `\d \w \b` are ASCII and `\s` is JavaScript's set.
 * With `case_insensitive` the value and the pattern's literal characters are case-folded.
 */

import { casefold } from "./values.js";

export const MAX_PATTERN_LENGTH = 256;
export const MAX_VALUE_LENGTH = 4096;

const CLASS_ESCAPES = new Set("dDwWtnrfv");
const ATOM_ESCAPES = new Set("dDwWsSbBtnrfv");
const BRACE_RE = /^\{[0-9]+(?:,[0-9]*)?\}/;

export class PatternError extends Error {}

function literal(char: string, fold: boolean): string {
  let c = char;
  if (fold) {
    const folded = casefold(char);
    if ([...folded].length === 1) c = folded;
  }
  if (/^[A-Za-z0-9]$/.test(c)) return c;
  let out = "";
  for (let i = 0; i < c.length; i++) out += "\\u" + c.charCodeAt(i).toString(16).padStart(4, "0");
  return out;
}

function escape(p: string, i: number, inClass: boolean, fold: boolean): [string, number] {
  if (i + 1 >= p.length) throw new PatternError("pattern ends with a lone backslash");
  const c = p[i + 1]!;
  if ("123456789k".includes(c)) throw new PatternError("backreferences are not supported");
  if (c === "0") {
    if (i + 2 < p.length && /[0-9]/.test(p[i + 2]!)) throw new PatternError("octal escapes are not supported");
    return ["\\x00", i + 2];
  }
  if (c === "x" || c === "u") {
    const width = c === "x" ? 2 : 4;
    const hex = p.slice(i + 2, i + 2 + width);
    if (hex.length !== width || !/^[0-9a-fA-F]+$/.test(hex)) {
      throw new PatternError(`\\${c} needs ${width} hexadecimal digits`);
    }
    return [literal(String.fromCharCode(parseInt(hex, 16)), fold), i + 2 + width];
  }
  if (c === "s" || c === "S") {
    if (inClass && c === "S") throw new PatternError("\\S inside a character class is not supported");
    return ["\\" + c, i + 2];
  }
  if ((inClass ? CLASS_ESCAPES : ATOM_ESCAPES).has(c)) return ["\\" + c, i + 2];
  const cp = p.codePointAt(i + 1)!;
  if (/^[A-Za-z0-9]$/.test(c)) throw new PatternError(`escape \\${c} is not supported`);
  const ch = String.fromCodePoint(cp);
  return [literal(ch, fold), i + 1 + ch.length];
}

function charClass(p: string, i: number, fold: boolean): [string, number] {
  let j = i + 1;
  let out = "[";
  if (p[j] === "^") {
    out += "^";
    j++;
  }
  if (p[j] === "]") throw new PatternError("empty character classes ([] and [^]) are not supported");
  while (j < p.length && p[j] !== "]") {
    const c = p[j]!;
    if (c === "\\") {
      const [text, next] = escape(p, j, true, fold);
      out += text;
      j = next;
      continue;
    }
    if (c === "[" || ["--", "&&", "~~", "||"].includes(p.slice(j, j + 2))) {
      throw new PatternError("nested sets and set operations in a class are not supported");
    }
    const ch = String.fromCodePoint(p.codePointAt(j)!);
    out += c === "^" || c === "-" ? c : literal(ch, fold);
    j += ch.length;
  }
  if (j >= p.length) throw new PatternError("unterminated character class");
  return [out + "]", j + 1];
}

function translate(p: string, fold: boolean): string {
  let out = "";
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === "\\") {
      const [text, next] = escape(p, i, false, fold);
      out += text;
      i = next;
    } else if (c === "[") {
      const [text, next] = charClass(p, i, fold);
      out += text;
      i = next;
    } else if (c === "(") {
      if (!p.startsWith("(?", i)) {
        out += "(";
        i++;
        continue;
      }
      const opener = p.slice(i, i + 3);
      if (opener === "(?:" || opener === "(?=" || opener === "(?!") {
        out += opener;
        i += 3;
        continue;
      }
      if (p.startsWith("(?<=", i) || p.startsWith("(?<!", i)) throw new PatternError("lookbehind is not supported");
      if (p.startsWith("(?<", i) || p.startsWith("(?P", i)) throw new PatternError("named groups are not supported");
      if (opener === "(?>") throw new PatternError("atomic groups are not supported");
      throw new PatternError("inline flags and other (?...) groups are not supported; use case_insensitive");
    } else if (c === "*" || c === "+" || c === "?") {
      out += c;
      i++;
      if (p[i] === "+") throw new PatternError("possessive quantifiers are not supported");
    } else if (c === "{") {
      const m = BRACE_RE.exec(p.slice(i));
      if (m === null) throw new PatternError("'{' must start a quantifier {n}, {n,} or {n,m} (escape it as \\{)");
      out += m[0];
      i += m[0].length;
      if (p[i] === "+") throw new PatternError("possessive quantifiers are not supported");
    } else if (c === "." || c === "$" || c === "^" || c === "|" || c === ")") {
      out += c;
      i++;
    } else {
      const ch = String.fromCodePoint(p.codePointAt(i)!);
      out += literal(ch, fold);
      i += ch.length;
    }
  }
  return out;
}

/** Translate and compile; throws `PatternError` (with a message) on a refused pattern. */
export function compilePattern(pattern: string, caseInsensitive: boolean): RegExp {
  if ([...pattern].length > MAX_PATTERN_LENGTH) {
    throw new PatternError(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  const source = translate(pattern, caseInsensitive);
  try {
    return new RegExp(source, caseInsensitive ? "i" : "");
  } catch (exc) {
    throw new PatternError(`invalid pattern: ${(exc as Error).message}`);
  }
}

/** `null` when the pattern is accepted, else the reason it is refused. */
export function checkPattern(pattern: string): string | null {
  try {
    compilePattern(pattern, false);
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
