import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { formatDate } from "../ui";
import { formatCount, formatLift, formatPEquals, formatPValue, formatWait } from "./format";
import type { components } from "../api/schema";
import type { Breach, Results, Warning } from "./types";

/** While paused: when, by whom, why, and whether the guardrail monitor did it (`automatic`). */
export type Pause = components["schemas"]["Pause"];

const TONES = {
  red: "bg-red-50 text-red-900 ring-red-600/30",
  amber: "bg-amber-50 text-amber-900 ring-amber-600/30",
  blue: "bg-sky-50 text-sky-900 ring-sky-600/30",
};

export function Banner({
  tone,
  title,
  children,
  code,
}: {
  tone: keyof typeof TONES;
  title: string;
  children: ReactNode;
  code?: string;
}) {
  return (
    <section
      role={tone === "red" ? "alert" : "status"}
      aria-label={title}
      data-banner={code}
      className={`rounded-md p-3 text-sm ring-1 ring-inset ${TONES[tone]}`}
    >
      <h2 className="font-semibold">{title}</h2>
      <div className="mt-1 space-y-1">{children}</div>
    </section>
  );
}

function observedSplit(results: Results): string {
  const total = Object.values(results.srm.observed ?? {}).reduce((a, b) => a + b, 0);
  return Object.entries(results.srm.observed ?? {})
    .map(([variant, units]) => {
      const expected = results.srm.expected?.[variant];
      const share = total ? ` (${((units / total) * 100).toFixed(1)}%` : " (";
      const planned = expected !== undefined && total ? `, expected ${((expected / total) * 100).toFixed(1)}%)` : ")";
      return `${variant}: ${formatCount(units)}${share}${planned}`;
    })
    .join(" · ");
}

/** Only running and paused experiments are aggregated (the server's job and Refresh now alike). */
export const AGGREGATED_STATUSES = ["running", "paused"];

function WarningBanner({
  warning,
  results,
  nextRun,
  now,
  canRefresh,
}: {
  warning: Warning;
  results: Results;
  nextRun: string | null;
  now: number;
  canRefresh: boolean;
}) {
  switch (warning.code) {
    case "SRM":
      return (
        <Banner tone="red" code="SRM" title="Sample ratio mismatch: do not trust these results yet">
          <p>
            The units per variant do not match the configured weights ({formatPEquals(results.srm.p_value)}, below{" "}
            {results.srm.threshold}). Observed: {observedSplit(results)}.
          </p>
          <p>
            Something between assignment and the exposure record loses or adds units in one variant: a redirect or a crash
            before the exposure is sent, bots filtered in one variant only, a variant that is slower to load. Every lift on this
            page may be biased. Find the cause (compare exposures per variant by day, look at recent deploys), fix it, then
            start a new experiment.
          </p>
        </Banner>
      );
    case "MULTIPLE_EXPOSURES":
      return (
        <Banner tone="amber" code="MULTIPLE_EXPOSURES" title={`${formatCount(warning.count ?? 0)} units saw more than one variant`}>
          <p>
            These units were exposed to two or more variants; each counts in the variant of its first exposure. A few are
            normal (a shared device); many mean the unit id changes (signed-out then signed-in) or an application tracks
            exposures with a variant other than the one the server assigned. Bucket by a stable id and track the variant the
            assignment returned.
          </p>
        </Banner>
      );
    case "NO_DATA": {
      const status = results.experiment.status;
      if (status === "completed" && !nextRun) {
        return (
          <Banner tone="blue" code="NO_DATA" title="No data">
            <p>
              This experiment is <strong>completed</strong> and no exposure from before its end has been aggregated.
              {canRefresh ? (
                <>
                  {" "}
                  <strong>Refresh now</strong> aggregates its events up to the end.
                </>
              ) : null}
            </p>
          </Banner>
        );
      }
      if (!AGGREGATED_STATUSES.includes(status) && status !== "completed") {
        const before = status === "draft" || status === "scheduled";
        return (
          <Banner tone="blue" code="NO_DATA" title="No data yet">
            {before ? (
              <p>
                This experiment is <strong>{status}</strong>: nobody is assigned yet, and aggregation covers running and paused
                experiments only. Results appear here after it starts and the first aggregation run after that.
              </p>
            ) : (
              <p>
                This experiment is <strong>{status}</strong> and no exposure was aggregated while it ran; its statistics are
                kept as they were, so no further run will add any.
              </p>
            )}
          </Banner>
        );
      }
      nextRun ??= warning.next_aggregation_at ?? null;
      const wait = nextRun ? formatWait((Date.parse(nextRun) - now) / 1000) : null;
      return (
        <Banner tone="blue" code="NO_DATA" title="No data yet">
          <p>
            No exposure has been aggregated for this experiment.{" "}
            {nextRun ? (
              <>
                The next aggregation run is due <strong>{wait}</strong> ({formatDate(nextRun)})
                {canRefresh ? (
                  <>
                    ; <strong>Refresh now</strong> runs it at once.
                  </>
                ) : (
                  "."
                )}
              </>
            ) : canRefresh ? (
              <>
                <strong>Refresh now</strong> runs the aggregation at once.
              </>
            ) : (
              "The first aggregation run is due as soon as the server's job runs."
            )}
          </p>
          <p>
            If it stays empty, check that the experiment is running and that applications assign units (the assign
            endpoint, or a flag that serves this experiment) with an API key of the experiment&apos;s environment.
          </p>
        </Banner>
      );
    }
    case "LOW_SAMPLE":
      return (
        <Banner tone="amber" code="LOW_SAMPLE" title="Below the planned sample size">
          <p>
            {warning.message}. Early results swing widely and a fixed-horizon p-value read before the planned sample is
            reached overstates the evidence. Wait for the planned sample, or read the sequential engine, which stays valid
            however often you look.
          </p>
        </Banner>
      );
    case "METRIC_NOT_FOUND":
      return (
        <Banner tone="amber" code="METRIC_NOT_FOUND" title="A metric of this experiment is not defined">
          <p>
            {warning.message}: it was deleted, or the experiment names a key that never existed, so it has no results.
            Define a metric with that key again (its events are still there) or remove it from the experiment.
          </p>
        </Banner>
      );
    default:
      return (
        <Banner tone="amber" code={warning.code} title={warning.code}>
          <p>{warning.message}</p>
        </Banner>
      );
  }
}

export function WarningBanners({
  results,
  nextRun,
  now,
  canRefresh = false,
}: {
  results: Results;
  nextRun: string | null;
  now: number;
  /** whether this page shows Refresh now (a person who may edit a running or paused experiment) */
  canRefresh?: boolean;
}) {
  if (results.warnings.length === 0) return null;
  return (
    <div className="space-y-2" data-testid="warnings">
      {results.warnings.map((warning) => (
        <WarningBanner key={`${warning.code}:${warning.message}`} warning={warning} results={results} nextRun={nextRun} now={now} canRefresh={canRefresh} />
      ))}
    </div>
  );
}

function breachText(breach: Breach): string {
  const p = breach.p_value === null ? "" : `, always-valid p ${breach.p_value < 0.0001 ? "< 0.0001" : `= ${formatPValue(breach.p_value)}`}`;
  return `'${breach.metric_key}' is significantly worse in '${breach.variant}' (${formatLift(breach.relative_lift)}${p})`;
}

/** The pausing breaches of the present pause: none when a person or key paused it (`pause.automatic`
 * false: an earlier guardrail pause was resumed, so its breach is not why it is paused now); those found
 * with the monitor's pause (the same minute); with no `pause` (paused before the server kept one), the
 * latest. */
function pausingBreaches(status: string, breaches: Breach[], pause: Pause | null | undefined): Breach[] {
  const paused = breaches.filter((b) => b.action === "paused");
  if (status !== "paused" || !paused.length) return [];
  if (!pause) return paused.slice(-1);
  if (!pause.automatic) return [];
  const at = Date.parse(pause.at);
  const same = paused.filter((b) => Math.abs(Date.parse(b.detected_at) - at) <= 60_000);
  return same.length ? same : paused.slice(-1);
}

/** While paused by the guardrail monitor, its latest pausing breach as "metric in variant"; else null. */
export function pausedByGuardrail(status: string, breaches: Breach[], pause?: Pause | null): string | null {
  const last = pausingBreaches(status, breaches, pause).at(-1);
  return last ? `'${last.metric_key}' in '${last.variant}'` : null;
}

export type Shipped = components["schemas"]["Shipped"];

/** The experiment shipped a variant: which, when, by whom (what changed is on the experiment's page). */
export function ShippedBanner({ shipped, experimentKey }: { shipped: Shipped | null | undefined; experimentKey: string }) {
  if (!shipped) return null;
  return (
    <Banner tone="blue" code="SHIPPED" title={`Shipped: ${shipped.variant}`}>
      <p>
        {shipped.by ? `${shipped.by} shipped` : "Shipped"} <span className="font-mono">{shipped.variant}</span> on {formatDate(shipped.at)}: “
        {shipped.reason}”. {shipped.flags.length ? `${shipped.flags.length === 1 ? "One flag serves" : `${shipped.flags.length} flags serve`} it now` : "No flag rule served the experiment"}{" "}
        (
        <Link className="font-medium underline" to={`/experiments/${encodeURIComponent(experimentKey)}`}>
          the experiment&apos;s page
        </Link>{" "}
        says which). These results are as they were when the experiment ended.
      </p>
    </Banner>
  );
}

/** Paused by a person or an API key: who, when and why (the guardrail monitor's pauses have their own banner). */
export function PausedBanner({ status, pause }: { status: string; pause: Pause | null | undefined }) {
  if (status !== "paused" || !pause || pause.automatic) return null;
  return (
    <Banner tone="amber" code="PAUSED" title="Paused">
      <p>
        {pause.by} paused the experiment on {formatDate(pause.at)}
        {pause.reason ? `: “${pause.reason}”` : ""}. While paused nobody new is assigned and exposures stop: applications serve their
        default to everyone the experiment would have reached.
      </p>
    </Banner>
  );
}

/** The experiment was paused by the guardrail monitor (its latest pause came from a breach). */
export function AutoPauseBanner({
  status,
  breaches,
  experimentKey,
  on = "results",
  pause,
}: {
  status: string;
  breaches: Breach[];
  experimentKey: string;
  /** the results page (the guardrails are below) or the experiment's overview (Resume is above) */
  on?: "results" | "overview";
  /** the experiment's `pause`: a person's later pause is not the monitor's */
  pause?: Pause | null;
}) {
  const paused = pausingBreaches(status, breaches, pause);
  const last = paused.at(-1);
  if (!last) return null;
  return (
    <Banner tone="red" code="GUARDRAIL_PAUSED" title="Paused automatically by a guardrail">
      <p>
        On {formatDate(pause?.at ?? last.detected_at)} the guardrail monitor found {paused.map(breachText).join("; ")} and paused the
        experiment. While paused nobody is assigned: applications serve their default.
      </p>
      {on === "results" ? (
        <p>
          Look at the guardrail below and at what changed in the treatment. Resuming (on the{" "}
          <Link className="font-medium underline" to={`/experiments/${encodeURIComponent(experimentKey)}`}>
            experiment&apos;s page
          </Link>
          ) is a person&apos;s decision and acknowledges this breach; completing the experiment ends it.
        </p>
      ) : (
        <p>
          Look at the guardrail on the{" "}
          <Link className="font-medium underline" to={`/experiments/${encodeURIComponent(experimentKey)}/results`}>
            results
          </Link>{" "}
          and at what changed in the treatment. <strong>Resume</strong> is a person&apos;s decision and acknowledges this
          breach: the monitor will not pause the experiment again for the same metric and variant (another metric or variant
          still can). <strong>Stop</strong> ends the experiment.
        </p>
      )}
    </Banner>
  );
}

export function BreachList({ breaches }: { breaches: Breach[] }) {
  if (breaches.length === 0) return null;
  return (
    <ul className="space-y-1 text-sm" data-testid="breaches">
      {breaches.map((b) => (
        <li
          key={`${b.metric_key}:${b.variant}:${b.detected_at}`}
          data-breach={`${b.metric_key}:${b.variant}`}
          className="rounded bg-red-50 px-2 py-1 text-red-900"
        >
          <span className="font-medium">{formatDate(b.detected_at)}</span> — {breachText(b)};{" "}
          {b.action === "paused" ? "the experiment was paused" : "announced (the experiment kept running)"}.
        </li>
      ))}
    </ul>
  );
}
