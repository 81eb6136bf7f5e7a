import { describe, expect, it } from "vitest";
import { exportQuery } from "./exportAudit";

describe("audit export", () => {
  it("sends only the filters that are set, as CSV", () => {
    expect(exportQuery({ action: "api_key.*", resource_type: "", resource_id: undefined })).toEqual({ action: "api_key.*", format: "csv" });
    expect(exportQuery({})).toEqual({ format: "csv" });
  });
});
