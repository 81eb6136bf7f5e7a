// The two flags of bench/eval_engine.py, in the engine's format, and the 200,000 distinct contexts
// (shared by bench/engine.mjs and bench/peers.mjs): SIMPLE (on, 50/50 rollout) and COMPLEX (10 rules x
// 3 conditions, only the last matches, 3-way split).
export const N = 200_000;

export const simple = {
  key: "simple", type: "boolean", version: 1, salt: "simple", enabled: true, off_variation: "off",
  variations: [{ key: "on", value: true }, { key: "off", value: false }],
  fallthrough: { rollout: { variations: [{ variation: "on", weight: 50 }, { variation: "off", weight: 50 }] } },
};

const rules = [];
for (let r = 0; r < 10; r++) {
  const countries = r < 9
    ? Array.from({ length: 20 }, (_, i) => `C${r}${String(i).padStart(2, "0")}`)
    : ["DE", ...Array.from({ length: 19 }, (_, i) => `X${String(i).padStart(2, "0")}`)];
  const third = r % 2
    ? { attribute: "app_version", operator: "semver_gte", values: ["2.0.0"] }
    : { attribute: "email", operator: "matches", values: ["@example\\.(com|org)$"] };
  rules.push({
    id: `rule-${r}`,
    conditions: [
      { attribute: "country", operator: "in", values: countries },
      { attribute: "age", operator: "gt", values: [17] },
      third,
    ],
    serve: r < 9 ? { variation: "a" } : { rollout: { variations: [["a", 33.34], ["b", 33.33], ["c", 33.33]].map(([variation, weight]) => ({ variation, weight })) } },
  });
}
export const complex = {
  key: "complex", type: "string", version: 1, salt: "complex", enabled: true, off_variation: "a",
  variations: ["a", "b", "c"].map((k) => ({ key: k, value: k })), rules, fallthrough: { variation: "a" },
};

export const contexts = Array.from({ length: N }, (_, i) => ({
  user_id: `user-${i}`, country: "DE", age: 18 + (i % 50), app_version: `2.${i % 7}.${i % 3}`, email: `person${i}@example.com`,
}));
