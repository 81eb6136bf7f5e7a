import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useDebounced } from "./useDebounced";

describe("useDebounced", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("gives the value only once it stopped changing for the delay", () => {
    const { result, rerender } = renderHook(({ value }) => useDebounced(value, 300), { initialProps: { value: "" } });
    for (const typed of ["b", "be", "bet", "beta"]) {
      rerender({ value: typed });
      act(() => void vi.advanceTimersByTime(100));
      expect(result.current).toBe("");
    }
    act(() => void vi.advanceTimersByTime(300));
    expect(result.current).toBe("beta");
  });
});
