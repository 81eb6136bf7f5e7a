// Used by tests/sdk/test_js_differential.py: the browser client (run in Node, whose fetch stands in for
// the browser's) identifies each user of the request file and prints {flag: [[value, variation, reason,
// error code, experiment, variant]]} for the flags it was given.
import { readFileSync } from "node:fs";

import { BrowserClient } from "../dist/browser.js";

const input = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const client = new BrowserClient({ clientKey: input.key, baseUrl: input.baseUrl, sendEvents: false, storage: null });
await client.ready;
const out = Object.fromEntries(input.flags.map((f) => [f, []]));
for (const [user, attributes] of input.users) {
  if (!(await client.identify({ ...attributes, user_id: user }))) {
    console.error(`no values for ${user}`);
    process.exit(2);
  }
  for (const flag of input.flags) {
    const d = client.variationDetail(flag);
    out[flag].push([d.value, d.variation, d.reason, d.errorCode, d.experimentKey, d.experimentVariant]);
  }
}
process.stdout.write(JSON.stringify(out));
