// Used by tests/sdk/test_js_differential.py: reads {baseUrl, key, users, flags, experiments} from the
// file named on the command line, answers every flag and experiment for every user with the Node client
// (local evaluation), and prints {version, flags: {key: [[...detail]]}, experiments: {key: [variant]}}.
import { readFileSync } from "node:fs";

import { ExperimentationClient } from "../dist/index.js";

const input = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const client = new ExperimentationClient({
  apiKey: input.key,
  baseUrl: input.baseUrl,
  initTimeout: 30_000,
  sendEvents: false,
  stickyTimeout: 10_000,
});
if (!(await client.waitForInitialization())) {
  console.error("the client did not initialize");
  process.exit(2);
}
const out = { version: client.version, flags: {}, experiments: {}, enabled: {} };
for (const exp of input.experiments) {
  out.experiments[exp] = [];
  for (const [user, attributes] of input.users) out.experiments[exp].push(await client.getVariant(exp, user, attributes));
}
for (const flag of input.flags) {
  out.flags[flag] = [];
  out.enabled[flag] = [];
  for (const [user, attributes] of input.users) {
    const d = await client.variationDetail(flag, user, attributes);
    out.flags[flag].push([d.value, d.variation, d.reason, d.ruleId, d.errorCode, d.experimentKey, d.experimentVariant]);
    out.enabled[flag].push(await client.isFeatureEnabled(flag, user, attributes));
  }
}
await client.close();
process.stdout.write(JSON.stringify(out));
