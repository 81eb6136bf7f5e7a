import { describe, expect, it } from "vitest";
import { currentFirst, describeDevice } from "./devices";

describe("describeDevice", () => {
  it("names the browser and the system of common user agents", () => {
    const cases: [string, string][] = [
      ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on macOS"],
      ["Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Windows"],
      ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Edge on Windows"],
      ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"],
      ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "Chrome on iPhone"],
      ["Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"],
      ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Headless Chrome on Linux"],
      ["Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on ChromeOS"],
      ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"],
    ];
    for (const [agent, expected] of cases) expect(describeDevice(agent)).toBe(expected);
  });

  it("names a script or tool by its first product token", () => {
    expect(describeDevice("curl/8.5.0")).toBe("curl 8.5.0");
    expect(describeDevice("python-httpx/0.27.0")).toBe("python-httpx 0.27.0");
    expect(describeDevice("node")).toBe("node");
    expect(describeDevice(`${"x".repeat(60)}/1.0`)).toHaveLength(40);
  });

  it("says when it cannot tell", () => {
    expect(describeDevice("")).toBe("Unknown device");
    expect(describeDevice("   ")).toBe("Unknown device");
    expect(describeDevice("Mozilla/5.0 (compatible; SomethingNew/1.0)")).toBe("Unknown browser");
  });
});

describe("currentFirst", () => {
  it("puts this device first and keeps the others' order", () => {
    const list = [
      { id: "a", current: false },
      { id: "b", current: true },
      { id: "c", current: false },
    ];
    expect(currentFirst(list).map((s) => s.id)).toEqual(["b", "a", "c"]);
    expect(currentFirst([]).length).toBe(0);
  });
});
