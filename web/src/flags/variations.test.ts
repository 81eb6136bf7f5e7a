import { describe, expect, it } from "vitest";
import { defaultVariations, fromVariations, newVariation, nextVariationKey, parseValue, toVariations, validateVariations, type VariationDraft } from "./variations";

const row = (key: string, value: string, name = ""): VariationDraft => ({ key, value, name, description: "" });

describe("parseValue", () => {
  it("takes a string's text as it is, empty included", () => {
    expect(parseValue("string", " blue ")).toEqual({ ok: true, value: " blue " });
    expect(parseValue("string", "")).toEqual({ ok: true, value: "" });
  });

  it("reads numbers in JSON's notation only", () => {
    expect(parseValue("number", "2.5")).toEqual({ ok: true, value: 2.5 });
    expect(parseValue("number", " -10 ")).toEqual({ ok: true, value: -10 });
    expect(parseValue("number", "1e3")).toEqual({ ok: true, value: 1000 });
    for (const bad of ["", "abc", "0x10", "1,5", "Infinity", "NaN", "1e999"]) expect(parseValue("number", bad).ok, bad).toBe(false);
  });

  it("parses JSON with the parser's reason when it fails", () => {
    expect(parseValue("json", '{"color": "green"}')).toEqual({ ok: true, value: { color: "green" } });
    expect(parseValue("json", "null")).toEqual({ ok: true, value: null });
    const bad = parseValue("json", "{color: green}");
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/^not valid JSON/);
    const empty = parseValue("json", " ");
    expect(!empty.ok && empty.message).toMatch(/^a JSON value/);
  });

  it("takes true or false for a boolean", () => {
    expect(parseValue("boolean", "true")).toEqual({ ok: true, value: true });
    expect(parseValue("boolean", "yes").ok).toBe(false);
  });
});

describe("validateVariations", () => {
  it("passes the defaults of every type", () => {
    for (const type of ["boolean", "string", "number", "json"] as const) expect(validateVariations(type, defaultVariations(type)).size, type).toBe(0);
  });

  it("names each row's problem at the path the server uses", () => {
    const problems = validateVariations("number", [row("a", "1"), row("", "2"), row("a", "x"), row("b", "3", "n".repeat(201))]);
    expect(Object.fromEntries(problems)).toEqual({
      "variations[1].key": "a key is required",
      "variations[2].key": '"a" is used twice',
      "variations[2].value": "a number, e.g. 10 or 2.5",
      "variations[3].name": "at most 200 characters",
    });
  });

  it("needs one variation, and keys of at most 100 characters", () => {
    expect(validateVariations("string", []).get("variations")).toBe("at least one variation is required");
    expect(validateVariations("string", [row("k".repeat(101), "x")]).get("variations[0].key")).toBe("at most 100 characters");
  });
});

describe("toVariations and fromVariations", () => {
  it("sends typed values and leaves empty names out", () => {
    expect(toVariations("json", [row("a", '{"n": 1}', " Big "), row("b", "[]")])).toEqual([
      { key: "a", value: { n: 1 }, name: "Big" },
      { key: "b", value: [] },
    ]);
    expect(toVariations("number", [row("a", "2.5")])).toEqual([{ key: "a", value: 2.5 }]);
  });

  it("reads stored variations back as rows, and round-trips", () => {
    const stored = [{ key: "a", value: { n: 1 }, name: "Big", description: "kept" }, { key: "b", value: "x" }];
    const rows = fromVariations("json", stored);
    expect(rows).toEqual([
      { key: "a", value: '{"n":1}', name: "Big", description: "kept" },
      { key: "b", value: '"x"', name: "", description: "" },
    ]);
    expect(toVariations("json", rows)).toEqual(stored);
    expect(fromVariations("string", [{ key: "a", value: "plain" }])[0]?.value).toBe("plain");
  });
});

describe("new rows", () => {
  it("take the next free letter, then numbered keys", () => {
    expect(nextVariationKey([row("a", ""), row("b", "")])).toBe("c");
    expect(nextVariationKey([row("b", "")])).toBe("a");
    const all = Array.from({ length: 26 }, (_, i) => row(String.fromCharCode(97 + i), ""));
    expect(nextVariationKey(all)).toBe("variation-27");
  });

  it("start with a value of the type", () => {
    const rows = defaultVariations("string");
    expect(newVariation("string", rows)).toEqual(row("c", "c"));
    expect(newVariation("number", rows).value).toBe("2");
    expect(validateVariations("json", [...defaultVariations("json"), newVariation("json", rows)]).size).toBe(0);
  });
});
