import { describe, expect, it } from "vitest";
import { axisExtent, intervalGeometry, niceCeil } from "./interval";

describe("interval bar geometry", () => {
  it("puts zero in the middle and the interval at its place on a symmetric axis", () => {
    const g = intervalGeometry({ lower: 0.05, upper: 0.15 }, 0.1, 0.2);
    expect(g.zero).toBe(50);
    expect(g.left).toBeCloseTo(62.5, 10);
    expect(g.width).toBeCloseTo(25, 10);
    expect(g.point).toBeCloseTo(75, 10);
    expect(g.side).toBe("above");
    expect(g.clippedLeft || g.clippedRight).toBe(false);
  });

  it("says where the interval lies against zero", () => {
    expect(intervalGeometry({ lower: -0.1, upper: 0.05 }, -0.02, 0.2).side).toBe("across");
    expect(intervalGeometry({ lower: -0.1, upper: -0.05 }, -0.07, 0.2).side).toBe("below");
    expect(intervalGeometry({ lower: null, upper: null }, null, 0.2).side).toBe("unknown");
  });

  it("draws no bar for an interval the API did not compute, not one across the axis", () => {
    for (const none of [null, undefined, { lower: null, upper: null }]) {
      const g = intervalGeometry(none, 0.03, 0.1);
      expect(g.side).toBe("unknown");
      expect(g.width).toBe(0);
      expect(g.clippedLeft || g.clippedRight).toBe(false);
      // the estimate still has its place
      expect(g.point).toBeCloseTo(65, 10);
    }
  });

  it("runs a lower open end (one-sided, 'less') to the left edge", () => {
    const g = intervalGeometry({ lower: null, upper: -0.02 }, -0.05, 0.1);
    expect(g.left).toBe(0);
    expect(g.width).toBeCloseTo(40, 10);
    expect(g.clippedLeft).toBe(true);
    expect(g.clippedRight).toBe(false);
    expect(g.side).toBe("below");
  });

  it("clips an interval wider than the axis and marks the clipped side", () => {
    const g = intervalGeometry({ lower: -0.5, upper: 0.1 }, -0.2, 0.2);
    expect(g.left).toBe(0);
    expect(g.width).toBeCloseTo(75, 10);
    expect(g.clippedLeft).toBe(true);
    expect(g.clippedRight).toBe(false);
  });

  it("runs an open end (one-sided test) to the edge", () => {
    const g = intervalGeometry({ lower: 0.02, upper: null }, 0.08, 0.1);
    expect(g.left).toBeCloseTo(60, 10);
    expect(g.width).toBeCloseTo(40, 10);
    expect(g.clippedRight).toBe(true);
    expect(g.side).toBe("above");
  });

  it("survives a zero or broken extent", () => {
    const g = intervalGeometry({ lower: -0.1, upper: 0.1 }, 0, 0);
    expect(Number.isFinite(g.left) && Number.isFinite(g.width)).toBe(true);
  });

  it("shares one nice axis across the rows of a metric", () => {
    expect(niceCeil(0.137)).toBeCloseTo(0.2, 12);
    expect(niceCeil(0.21)).toBeCloseTo(0.25, 12);
    expect(niceCeil(3)).toBeCloseTo(5, 12);
    expect(niceCeil(0)).toBe(0);
    expect(axisExtent([{ lower: -0.04, upper: 0.12, point: 0.04 }, { lower: 0.01, upper: 0.3, point: 0.15 }])).toBeCloseTo(0.5, 12);
    expect(axisExtent([{ lower: null, upper: null, point: null }])).toBe(0.01);
    // every bar of the metric then fits the axis
    const extent = axisExtent([{ lower: -0.04, upper: 0.12 }]);
    const g = intervalGeometry({ lower: -0.04, upper: 0.12 }, 0.04, extent);
    expect(g.clippedLeft || g.clippedRight).toBe(false);
  });
});
