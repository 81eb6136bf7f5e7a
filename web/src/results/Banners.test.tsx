import { cleanup, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it } from "vitest";
import { AutoPauseBanner, PausedBanner, pausedByGuardrail, ShippedBanner, WarningBanners } from "./Banners";
import type { Results, Warning } from "./types";

const breach = {
  metric_key: "errors",
  variant: "treatment",
  action: "paused",
  relative_lift: 2.294,
  p_value: 0.00001,
  details: {},
  detected_at: "2026-12-02T07:51:00Z",
};

function results(warnings: Warning[], status = "running"): Results {
  return {
    experiment: { id: "e", key: "exp", status, control: "control", started_at: null },
    engine: "frequentist",
    cuped: false,
    correction: "holm",
    aggregated_at: null,
    units: { control: 600, treatment: 400 },
    srm: { p_value: 0.0000012, flagged: true, expected: { control: 500, treatment: 500 }, observed: { control: 600, treatment: 400 }, threshold: 0.001 },
    warnings,
    family_size: 1,
    intervals_adjusted: false,
    metrics: [],
    timeseries: {},
  };
}

afterEach(cleanup);

describe("data-quality banners", () => {
  it("explain each warning and what to do", () => {
    const now = Date.parse("2026-12-02T08:00:00Z");
    render(
      <WarningBanners
        results={results([
          { code: "SRM", message: "units per variant do not match" },
          { code: "MULTIPLE_EXPOSURES", message: "12 units", count: 1234 },
          { code: "NO_DATA", message: "no exposures aggregated yet", next_aggregation_at: "2026-12-02T08:00:45Z" },
          { code: "LOW_SAMPLE", message: "fewer than 1000 units in a variant" },
          { code: "METRIC_NOT_FOUND", message: "metric 'gone' is not defined" },
          { code: "SOMETHING_NEW", message: "a warning this console does not know yet" },
        ])}
        nextRun={null}
        now={now}
      />,
    );
    const srm = screen.getByRole("alert", { name: /Sample ratio mismatch/ });
    expect(srm.textContent).toContain("control: 600 (60.0%, expected 50.0%)");
    expect(srm.textContent).toContain("Find the cause");
    expect(screen.getByRole("status", { name: "1,234 units saw more than one variant" }).textContent).toContain("stable id");
    // the next run from the warning itself when meta has none
    expect(screen.getByRole("status", { name: "No data yet" }).textContent).toContain("in 45 s");
    expect(screen.getByRole("status", { name: "Below the planned sample size" }).textContent).toContain("sequential engine");
    expect(screen.getByRole("status", { name: /metric of this experiment is not defined/ }).textContent).toContain("'gone'");
    expect(screen.getByRole("status", { name: "SOMETHING_NEW" }).textContent).toContain("does not know yet");
  });

  it("the SRM banner reads p < 0.001; the low-sample message as the server words it", () => {
    render(
      <WarningBanners
        results={results([
          { code: "SRM", message: "units per variant do not match" },
          { code: "LOW_SAMPLE", message: "fewer than 14,749 units in a variant" },
        ])}
        nextRun={null}
        now={0}
      />,
    );
    expect(screen.getByRole("alert", { name: /Sample ratio mismatch/ }).textContent).toContain("(p < 0.001, below 0.001)");
    expect(screen.getByRole("status", { name: "Below the planned sample size" }).textContent).toContain("fewer than 14,749 units");
  });

  it("no data: a next run and Refresh now only where they are true", () => {
    const now = Date.parse("2026-12-02T08:00:00Z");
    const warning = { code: "NO_DATA", message: "no exposures aggregated yet", next_aggregation_at: null };
    const { rerender } = render(<WarningBanners results={results([warning], "draft")} nextRun="2026-12-02T08:00:47Z" now={now} />);
    const draft = screen.getByRole("status", { name: "No data yet" }).textContent ?? "";
    expect(draft).toContain("is draft");
    expect(draft).not.toMatch(/next|Refresh now|in 47 s/);
    rerender(<WarningBanners results={results([warning], "archived")} nextRun={null} now={now} />);
    const archived = screen.getByRole("status", { name: "No data yet" }).textContent ?? "";
    expect(archived).toContain("no further run");
    expect(archived).not.toMatch(/Refresh now|in 47 s/);
    // completed: still aggregated for a while after the end (the page passes the next run then) ...
    rerender(<WarningBanners results={results([warning], "completed")} nextRun="2026-12-02T08:00:47Z" now={now} />);
    expect(screen.getByRole("status", { name: "No data yet" }).textContent).toContain("in 47 s (");
    // ... and after that, aggregated by hand up to its end
    rerender(<WarningBanners results={results([warning], "completed")} nextRun={null} now={now} canRefresh />);
    const completed = screen.getByRole("status", { name: "No data" }).textContent ?? "";
    expect(completed).toContain("no exposure from before its end has been aggregated");
    expect(completed).toContain("Refresh now aggregates its events up to the end");
    rerender(<WarningBanners results={results([warning], "running")} nextRun="2026-12-02T08:00:47Z" now={now} />);
    expect(screen.getByRole("status", { name: "No data yet" }).textContent).not.toContain("Refresh now");
    rerender(<WarningBanners results={results([warning], "running")} nextRun="2026-12-02T08:00:47Z" now={now} canRefresh />);
    expect(screen.getByRole("status", { name: "No data yet" }).textContent).toContain("in 47 s (");
    expect(screen.getByRole("status", { name: "No data yet" }).textContent).toContain("Refresh now runs it at once");
  });

  it("shows the automatic pause only while the experiment is paused by a breach", () => {
    const { rerender } = render(
      <MemoryRouter>
        <AutoPauseBanner status="paused" breaches={[breach]} experimentKey="exp" />
      </MemoryRouter>,
    );
    const banner = screen.getByRole("alert", { name: "Paused automatically by a guardrail" });
    expect(banner.textContent).toContain("'errors' is significantly worse in 'treatment' (+229.4%, always-valid p < 0.0001)");
    rerender(
      <MemoryRouter>
        <AutoPauseBanner status="paused" breaches={[breach]} experimentKey="exp" on="overview" />
      </MemoryRouter>,
    );
    expect(screen.getByRole("alert", { name: "Paused automatically by a guardrail" }).textContent).toContain("Resume is a person's decision and acknowledges this breach");
    rerender(
      <MemoryRouter>
        <AutoPauseBanner status="running" breaches={[breach]} experimentKey="exp" />
      </MemoryRouter>,
    );
    expect(screen.queryByRole("alert")).toBeNull();
    rerender(
      <MemoryRouter>
        <AutoPauseBanner status="paused" breaches={[{ ...breach, action: "notified" }]} experimentKey="exp" />
      </MemoryRouter>,
    );
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("tells the monitor's pause from a person's later one", () => {
    const automatic = { at: "2026-12-02T07:51:00.2Z", by: "system", automatic: true, reason: "guardrail 'errors' is significantly worse" };
    const { rerender } = render(
      <MemoryRouter>
        <AutoPauseBanner status="paused" breaches={[breach]} experimentKey="exp" pause={automatic} />
        <PausedBanner status="paused" pause={automatic} />
      </MemoryRouter>,
    );
    expect(screen.getByRole("alert", { name: "Paused automatically by a guardrail" }).textContent).toContain("'errors' is significantly worse in 'treatment'");
    expect(screen.queryByRole("status", { name: "Paused" })).toBeNull();
    expect(pausedByGuardrail("paused", [breach], automatic)).toBe("'errors' in 'treatment'");
    // resumed (acknowledged), then paused by a person a day later: the breach is not why it is paused
    const manual = { at: "2026-12-03T09:00:00Z", by: "alice@example.com", automatic: false, reason: "checkout incident" };
    rerender(
      <MemoryRouter>
        <AutoPauseBanner status="paused" breaches={[breach]} experimentKey="exp" pause={manual} />
        <PausedBanner status="paused" pause={manual} />
      </MemoryRouter>,
    );
    expect(screen.queryByRole("alert")).toBeNull();
    const paused = screen.getByRole("status", { name: "Paused" });
    expect(paused.textContent).toContain("alice@example.com paused the experiment on");
    expect(paused.textContent).toContain("“checkout incident”");
    expect(pausedByGuardrail("paused", [breach], manual)).toBeNull();
    // a second guardrail pause names only its own breach, not the acknowledged first one
    const second = { ...breach, metric_key: "latency", detected_at: "2026-12-04T10:00:00Z" };
    const again = { ...automatic, at: "2026-12-04T10:00:00.1Z" };
    rerender(
      <MemoryRouter>
        <AutoPauseBanner status="paused" breaches={[breach, second]} experimentKey="exp" pause={again} />
      </MemoryRouter>,
    );
    const banner = screen.getByRole("alert", { name: "Paused automatically by a guardrail" });
    expect(banner.textContent).toContain("'latency' is significantly worse");
    expect(banner.textContent).not.toContain("'errors'");
  });

  it("says what shipped, and links the experiment's page for the flags", () => {
    const shipped = {
      variant: "treatment",
      at: "2026-12-06T13:04:00Z",
      by: "alice@example.com",
      reason: "won on conversion",
      flags: [{ key: "green-button", version: 4, places: [{ rule: "checkout-test", variation: "on" }] }],
    };
    render(
      <MemoryRouter>
        <ShippedBanner shipped={shipped} experimentKey="exp" />
      </MemoryRouter>,
    );
    const banner = screen.getByRole("status", { name: "Shipped: treatment" });
    expect(banner.textContent).toContain("alice@example.com shipped treatment on");
    expect(banner.textContent).toContain("“won on conversion”. One flag serves it now");
    expect(screen.getByRole("link", { name: "the experiment's page" }).getAttribute("href")).toBe("/experiments/exp");
  });
});
