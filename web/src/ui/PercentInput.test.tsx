import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { PercentInput } from "./Field";

afterEach(cleanup);

describe("PercentInput", () => {
  it("reads a number, and an emptied box as NaN (so the step's check says it is missing)", () => {
    const seen: number[] = [];
    render(<PercentInput aria-label="Traffic" value={50} onValue={(v) => seen.push(v)} />);
    const box = screen.getByLabelText<HTMLInputElement>("Traffic");
    expect([box.type, box.min, box.max, box.step, box.value]).toEqual(["number", "0", "100", "any", "50"]);
    fireEvent.change(box, { target: { value: "12.5" } });
    fireEvent.change(box, { target: { value: "" } });
    expect(seen[0]).toBe(12.5);
    expect(seen[1]).toBeNaN();
  });

  it("shows NaN as an empty box and takes its own step", () => {
    render(<PercentInput aria-label="Weight" step="0.01" value={NaN} onValue={() => undefined} />);
    const box = screen.getByLabelText<HTMLInputElement>("Weight");
    expect([box.value, box.step]).toEqual(["", "0.01"]);
  });
});
