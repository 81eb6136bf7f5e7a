// The two flags of bench/eval_engine.py, in the engine's format, and the 200,000 distinct contexts
// (shared by bench/engine.mjs and bench/peers.mjs): SIMPLE (on, 50/50 rollout) and COMPLEX (10 rules x
// 3 conditions: every rule's first two conditions hold, only the last rule matches, 3-way split).
export const N = 200_000;

export const simple = {
  key: "simple", type: "boolean", version: 1, salt: "simple", enabled: true, off_variation: "off",
  variations: [{ key: "on", value: true }, { key: "off", value: false }],
  fallthrough: { rollout: { variations: [{ variation: "on", weight: 50 }, { variation: "off", weight: 50 }] } },
};

// COMPLEX as bench/eval_engine.py's complex_flag(): for every context the first two conditions of every
// rule hold (`country in` 20 values, `age gt 17`); the third fails in rules 0-8 (`app_version
// semver_gte <90+r>.0.0` in the even rules, `email matches @example<r>\.(net|io)$` in the odd ones) and
// holds in rule 9 (`semver_gte 2.0.0`): 30 conditions and 6 version tests per evaluation.
export const COUNTRIES = ["DE", "FR", "IT", "ES", "NL", "BE", "AT", "PL", "SE", "DK"];
const rules = [];
for (let r = 0; r < 10; r++) {
  const third = r === 9
    ? { attribute: "app_version", operator: "semver_gte", values: ["2.0.0"] }
    : r % 2 === 0
      ? { attribute: "app_version", operator: "semver_gte", values: [`${90 + r}.0.0`] }
      : { attribute: "email", operator: "matches", values: [`@example${r}\\.(net|io)$`] };
  rules.push({
    id: `rule-${r}`,
    conditions: [
      { attribute: "country", operator: "in", values: [...COUNTRIES, ...Array.from({ length: 10 }, (_, i) => `R${r}C${i}`)] },
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

// Distinct users with distinct values (as bench/eval_engine.py's contexts()): no memo keyed on a value
// is ever hit twice.
export const contexts = Array.from({ length: N }, (_, i) => ({
  user_id: `user-${i}`, country: COUNTRIES[i % COUNTRIES.length], age: 18 + i,
  app_version: `${2 + (i % 5)}.${Math.floor(i / 1000)}.${i % 1000}`, email: `person${i}@example.com`,
}));
