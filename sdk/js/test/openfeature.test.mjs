// The OpenFeature server provider: typed resolution, reasons, variants, error codes, metadata,
// configuration-change events and tracking (over an offline client with a bootstrap ruleset).
import assert from "node:assert/strict";
import { test } from "node:test";

import { OpenFeature, ProviderEvents } from "@openfeature/server-sdk";

import { ExperimentationClient } from "../dist/index.js";
import { ExperimentlyProvider } from "../dist/openfeature.js";

const flag = (key, type, values, rules = []) => ({
  key, type, version: 1, salt: key, enabled: true, off_variation: "a", targets: [], prerequisites: [],
  variations: values.map((value, i) => ({ key: "abc"[i], value })), rules, fallthrough: { variation: "a" },
});

test("typed resolution, reasons, variants, error codes, change events", async () => {
  const rule = { id: "de", conditions: [{ attribute: "country", operator: "eq", values: ["DE"] }], serve: { variation: "b" } };
  const payload = { flags: [flag("bool", "boolean", [false, true], [rule]), flag("text", "string", ["x", "y"]), flag("num", "number", [1, 2.5]), flag("obj", "json", [{ a: 1 }, { b: 2 }])], segments: [], experiments: [] };
  const client = new ExperimentationClient({ apiKey: "k", offline: true, bootstrap: payload });
  const provider = new ExperimentlyProvider(client);
  await OpenFeature.setProviderAndWait(provider);
  const of = OpenFeature.getClient();

  const hit = await of.getBooleanDetails("bool", false, { targetingKey: "u1", country: "DE" });
  assert.equal(hit.value, true);
  assert.equal(hit.variant, "b");
  assert.equal(hit.reason, "TARGETING_MATCH");
  assert.equal(hit.flagMetadata.rule_id, "de");
  assert.equal((await of.getBooleanDetails("bool", true, { targetingKey: "u1" })).reason, "DEFAULT");
  assert.equal(await of.getStringValue("text", "z", { targetingKey: "u1" }), "x");
  assert.equal(await of.getNumberValue("num", 0, { targetingKey: "u1" }), 1);
  assert.deepEqual(await of.getObjectValue("obj", {}, { targetingKey: "u1" }), { a: 1 });

  const wrongType = await of.getStringDetails("bool", "dflt", { targetingKey: "u1" });
  assert.equal(wrongType.value, "dflt");
  assert.equal(wrongType.errorCode, "TYPE_MISMATCH");
  const missing = await of.getBooleanDetails("nope", true, { targetingKey: "u1" });
  assert.equal(missing.value, true);
  assert.equal(missing.errorCode, "FLAG_NOT_FOUND");

  const changed = new Promise((resolve) => of.addHandler(ProviderEvents.ConfigurationChanged, resolve));
  client["install"]("v2", { ...payload, flags: [{ ...flag("bool", "boolean", [true, false]), version: 2 }, ...payload.flags.slice(1)] });
  assert.deepEqual((await changed).flagsChanged, ["bool"]);
  assert.equal(await of.getBooleanValue("bool", false, { targetingKey: "u1" }), true);
  await OpenFeature.close();
});

test("tracking through OpenFeature becomes an Experimently event", async () => {
  const sent = [];
  const fetchStub = async (url, init) => {
    if (String(url).endsWith("/api/v1/events/batch")) {
      sent.push(...JSON.parse(init.body).events);
      return new Response(JSON.stringify({ data: { accepted: 1, rejected: [] } }), { status: 202 });
    }
    return new Response(JSON.stringify({ data: { flags: [], segments: [], experiments: [] } }), { status: 200, headers: { ETag: '"v1"', "Content-Type": "application/json" } });
  };
  const client = new ExperimentationClient({ apiKey: "k", stream: false, pollInterval: 60_000, fetch: fetchStub, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  await OpenFeature.setProviderAndWait(new ExperimentlyProvider(client));
  OpenFeature.getClient().track("purchase", { targetingKey: "u9" }, { value: 12.5, sku: "a" });
  OpenFeature.getClient().track("purchase", {}, { value: 1 }); // no targeting key: refused, counted
  assert.equal(await client.flush(5000), true);
  assert.deepEqual(sent.map((e) => [e.name, e.user_id, e.value, e.properties]), [["purchase", "u9", 12.5, { sku: "a" }]]);
  assert.equal(client.droppedEvents, 1);
  await OpenFeature.close();
});
