import { describe, expect, it } from "vitest";
import type { GuardedRollout } from "./api";
import { formatDuration, guardrailSeries, nextStep, rolloutState, stepUnits, type HistoryPoint } from "./progress";

function rollout(patch: Partial<GuardedRollout> = {}): GuardedRollout {
  return {
    id: "r1",
    flag_key: "checkout",
    environment: "production",
    variation: "on",
    control: "off",
    schedule_id: "s1",
    percentage: 25,
    step: 1,
    step_started_at: "2026-06-01T12:00:00Z",
    guardrail_metrics: ["errors"],
    success_metric: null,
    min_units: 100,
    alpha: 0.05,
    action: "rollback",
    max_wait_seconds: null,
    status: "running",
    hold: null,
    waiting_since: null,
    steps: [
      { at: "2026-06-01T12:00:00Z", percentage: 25, applied_at: "2026-06-01T12:00:05Z" },
      { at: "2026-06-01T14:00:00Z", percentage: 100, applied_at: null },
    ],
    next_step_at: "2026-06-01T14:00:00Z",
    last_check: { step: 1, status: "NOT_ENOUGH_DATA", units: { off: 60, on: 20 } },
    breaches: [],
    history: [],
    outcome: null,
    created_by: null,
    created_at: "2026-06-01T11:59:00Z",
    ended_at: null,
    ...patch,
  };
}

const at = (iso: string) => Date.parse(iso);

describe("a guarded rollout's state and next step", () => {
  it("names each state, held for traffic apart from running", () => {
    expect(rolloutState(rollout()).key).toBe("running");
    expect(rolloutState(rollout({ hold: "waiting_for_traffic" }))).toEqual({ key: "held", label: "held for traffic", tone: "amber" });
    expect(rolloutState(rollout({ status: "rolled_back" })).label).toBe("rolled back");
    expect(rolloutState(rollout({ status: "released" })).tone).toBe("green");
    // a paused rollout is paused even if it was held before
    expect(rolloutState(rollout({ status: "paused", hold: null })).key).toBe("paused");
  });

  it("says when the next step comes, or what it waits for", () => {
    expect(nextStep(rollout(), at("2026-06-01T12:30:00Z"))).toMatch(/^Next step: 100% in 1 h 30 min/);
    const held = rollout({ hold: "waiting_for_traffic", waiting_since: "2026-06-01T14:00:00Z", max_wait_seconds: 86_400 });
    expect(nextStep(held, at("2026-06-01T14:45:00Z"))).toBe(
      "Held for traffic for 45 min: the step to 100% waits until each group has 100 units (now 60 on off, 20 on on); pauses after 24 h.",
    );
    expect(nextStep(rollout({ steps: null, schedule_id: null }), 0)).toMatch(/^Manual rollout at 25%/);
    expect(nextStep(rollout({ status: "released" }), 0)).toBe("");
  });

  it("counts the current step's units only", () => {
    expect(stepUnits(rollout())).toEqual({ old: 60, new: 20 });
    expect(stepUnits(rollout({ step: 2 }))).toEqual({ old: 0, new: 0 });
    expect(stepUnits(rollout({ last_check: null }))).toEqual({ old: 0, new: 0 });
  });

  it("formats durations for people", () => {
    expect(formatDuration(45_000)).toBe("45 s");
    expect(formatDuration(3_600_000)).toBe("1 h");
    expect(formatDuration(3 * 86_400_000 + 2 * 3_600_000)).toBe("3 d 2 h");
  });
});

describe("the guardrail chart's series", () => {
  const point = (iso: string, step: number, lift: number | null, lo: number | null, hi: number | null): HistoryPoint => ({
    at: iso,
    step,
    percentage: 50,
    status: "HEALTHY",
    units: {},
    srm_p_value: null,
    metrics: { errors: { relative_lift: lift, relative_interval: [lo, hi], absolute_lift: lift === null ? null : lift / 10, absolute_interval: [lo, hi], p_value: 0.5, verdict: "inconclusive" } },
  });

  it("gives lift, band and threshold in percent, with a gap between steps", () => {
    const history = [point("2026-06-01T12:00:00Z", 1, 0.1, -0.2, 0.4), point("2026-06-01T12:01:00Z", 1, 2, 1.5, 2.5), point("2026-06-01T12:03:00Z", 2, 1, null, 3)];
    const [xs, lift, lower, upper, zero, breach] = guardrailSeries(history, "errors", "relative");
    expect(xs).toEqual([at("2026-06-01T12:00:00Z") / 1000, at("2026-06-01T12:01:00Z") / 1000, at("2026-06-01T12:02:00Z") / 1000, at("2026-06-01T12:03:00Z") / 1000]);
    expect(lift).toEqual([10, 200, null, 100]);
    expect(lower).toEqual([-20, 150, null, null]); // unbounded: no band there
    expect(upper).toEqual([40, 250, null, 300]);
    expect(zero).toEqual([0, 0, 0, 0]);
    expect(breach).toEqual([null, null, null, null]);
  });

  it("marks the checks that found the new variation worse", () => {
    const worse = { ...point("2026-06-01T12:02:00Z", 1, 0.5, 0.1, 0.9) };
    worse.metrics.errors = { ...worse.metrics.errors!, verdict: "loser" };
    const [, , , , , breach] = guardrailSeries([point("2026-06-01T12:00:00Z", 1, 0.2, -0.1, 0.5), worse], "errors", "relative");
    expect(breach).toEqual([null, 50]);
  });

  it("reads the absolute difference when asked, and nulls for a metric not compared", () => {
    const history = [point("2026-06-01T12:00:00Z", 1, 0.5, 0.1, 0.9)];
    expect(guardrailSeries(history, "errors", "absolute")[1]).toEqual([0.05]);
    expect(guardrailSeries(history, "latency", "relative")[1]).toEqual([null]);
  });
});
