// What turning a flag on or off in an environment does, in plain words, from its saved configuration:
// the confirmation of the status switch says it before anything changes.
import type { EnvConfig, Serve } from "./api";

const quote = (variation: string) => `“${variation}”`;

/** What a serve gives a user: `“on”`, `a percentage rollout: 30% “on”, 70% “off”`, or the experiment's
 * variations (the users it does not assign get the off variation, as the engine does). */
export function describeServe(serve: Serve | null | undefined, variations: string[], offVariation: string | null): string {
  const current = serve ?? { variation: variations[0] ?? "" };
  if (current.rollout) {
    const shares = current.rollout.variations.filter((v) => Number(v.weight) > 0).map((v) => `${Number(v.weight)}% ${quote(v.variation)}`);
    return shares.length ? `a percentage rollout: ${shares.join(", ")}` : "a percentage rollout with no weight set";
  }
  if (current.experiment) {
    const key = (current.experiment as { key?: string }).key;
    const off = offVariation ? quote(offVariation) : "the off variation";
    return `the variation of their variant in experiment ${key ? quote(key) : "(none chosen)"} (those it does not assign get ${off})`;
  }
  return current.variation ? quote(current.variation) : "the first variation";
}

/** The sentences of the status switch's confirmation: what everyone gets once the flag is `on` (or off). */
export function switchConsequences(config: EnvConfig, variations: string[], on: boolean): string[] {
  const off = config.off_variation ? quote(config.off_variation) : "the off variation";
  if (!on) return [`Everyone gets ${off}.`];
  const lines: string[] = [];
  if (config.prerequisites.length) {
    const names = config.prerequisites.map((p) => `${p.flag} serving ${quote(p.variation)}`).join(", ");
    lines.push(`Users for whom a prerequisite does not hold (${names}) get ${off}.`);
  }
  const targeted = config.targets.reduce((n, t) => n + t.values.length, 0);
  if (targeted) lines.push(`${targeted.toLocaleString("en-US")} individually targeted user${targeted === 1 ? " gets" : "s get"} the variation they are targeted with.`);
  const fallthrough = describeServe(config.fallthrough, variations, config.off_variation);
  if (config.rules.length) {
    lines.push(`Users matched by a rule get what the rule serves; everyone else gets ${fallthrough}.`);
  } else {
    lines.push(`${targeted || config.prerequisites.length ? "Everyone else" : "Everyone"} gets ${fallthrough}.`);
  }
  return lines;
}
