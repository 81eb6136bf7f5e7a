// A flag's variations as the forms edit them: values as text, checked here as the server's engine
// checks them (experimently_sdk.validate: unique non-empty keys, values of the flag's type), so a
// simple mistake is said at its row before the server would refuse it with a 422.
import type { components } from "../api/schema";

export type FlagType = components["schemas"]["FlagType"];
export type Variation = components["schemas"]["Variation"];

export const FLAG_TYPES: { value: FlagType; label: string }[] = [
  { value: "boolean", label: "Boolean (on / off)" },
  { value: "string", label: "String" },
  { value: "number", label: "Number" },
  { value: "json", label: "JSON" },
];

/** One row of the editor: the value is the text typed (a string flag's value is the text itself). */
export interface VariationDraft {
  key: string;
  value: string;
  name: string;
  description: string;
}

/** The server's limits (src/experimently/flags/schemas.py `Variation`, `FlagCreate.variations`). */
export const MAX_VARIATIONS = 100;
const MAX_KEY = 100;
const MAX_NAME = 200;

/** What a new flag of `type` starts with. A boolean gets the server's own `on` / `off` (the form sends
 * none); the others need variations, and the server suggests none: two rows, `a` and `b`. */
export function defaultVariations(type: FlagType): VariationDraft[] {
  const row = (key: string, value: string): VariationDraft => ({ key, value, name: "", description: "" });
  if (type === "string") return [row("a", "a"), row("b", "b")];
  if (type === "number") return [row("a", "1"), row("b", "0")];
  if (type === "json") return [row("a", '{"variant": "a"}'), row("b", '{"variant": "b"}')];
  return [row("on", "true"), row("off", "false")];
}

/** A value as its text in the editor (a string as itself, everything else as JSON). */
export function valueText(type: FlagType, value: unknown): string {
  if (type === "string" && typeof value === "string") return value;
  return JSON.stringify(value) ?? "";
}

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

/** The text of a value read as the flag's type, or why it cannot be. */
export function parseValue(type: FlagType, text: string): Parsed {
  if (type === "string") return { ok: true, value: text };
  if (type === "boolean") {
    const word = text.trim();
    return word === "true" || word === "false" ? { ok: true, value: word === "true" } : { ok: false, message: "true or false" };
  }
  if (type === "number") {
    const trimmed = text.trim();
    const number = Number(trimmed);
    // Number("") is 0 and Number("0x10") is 16: only decimal notation, as JSON writes numbers
    if (!trimmed || !/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed) || !Number.isFinite(number)) return { ok: false, message: "a number, e.g. 10 or 2.5" };
    return { ok: true, value: number };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : "";
    return { ok: false, message: text.trim() ? `not valid JSON${detail}` : 'a JSON value, e.g. {"color": "green"}, [1, 2], "text", 3 or null' };
  }
}

/** Problems the server would refuse, as path -> message (`variations[1].key`, `variations[0].value`,
 * `variations`), named as the server names them so its errors land on the same rows. */
export function validateVariations(type: FlagType, rows: VariationDraft[]): Map<string, string> {
  const problems = new Map<string, string>();
  if (rows.length === 0) problems.set("variations", "at least one variation is required");
  if (rows.length > MAX_VARIATIONS) problems.set("variations", `at most ${MAX_VARIATIONS} variations`);
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    if (!row.key) problems.set(`variations[${i}].key`, "a key is required");
    else if (row.key.length > MAX_KEY) problems.set(`variations[${i}].key`, `at most ${MAX_KEY} characters`);
    else if (seen.has(row.key)) problems.set(`variations[${i}].key`, `"${row.key}" is used twice`);
    seen.add(row.key);
    const parsed = parseValue(type, row.value);
    if (!parsed.ok) problems.set(`variations[${i}].value`, parsed.message);
    if (row.name.length > MAX_NAME) problems.set(`variations[${i}].name`, `at most ${MAX_NAME} characters`);
  });
  return problems;
}

/** The rows as the API takes them (call after {@link validateVariations} found nothing); empty names
 * and descriptions are left out, as the server stores them. */
export function toVariations(type: FlagType, rows: VariationDraft[]): Variation[] {
  return rows.map((row) => {
    const parsed = parseValue(type, row.value);
    return {
      key: row.key,
      value: (parsed.ok ? parsed.value : null) as Variation["value"],
      ...(row.name.trim() ? { name: row.name.trim() } : {}),
      ...(row.description.trim() ? { description: row.description.trim() } : {}),
    };
  });
}

/** A flag's stored variations as editor rows. */
export function fromVariations(type: FlagType, variations: Record<string, unknown>[]): VariationDraft[] {
  return variations.map((v) => ({
    key: String(v.key ?? ""),
    value: valueText(type, v.value),
    name: typeof v.name === "string" ? v.name : "",
    description: typeof v.description === "string" ? v.description : "",
  }));
}

/** A key for a new row: the next letter not taken (`c` after `a`, `b`), else `variation-N`. */
export function nextVariationKey(rows: VariationDraft[]): string {
  const used = new Set(rows.map((r) => r.key));
  for (let i = 0; i < 26; i++) {
    const key = String.fromCharCode(97 + i);
    if (!used.has(key)) return key;
  }
  let n = rows.length + 1;
  while (used.has(`variation-${n}`)) n += 1;
  return `variation-${n}`;
}

/** A new row for `type`: a string's value is its key; a number's, the next whole number; JSON's, `{}`. */
export function newVariation(type: FlagType, rows: VariationDraft[]): VariationDraft {
  const key = nextVariationKey(rows);
  const value = type === "string" ? key : type === "number" ? String(rows.length) : type === "json" ? "{}" : "false";
  return { key, value, name: "", description: "" };
}
