import { describe, expect, it } from "vitest";
import { gpuLine } from "./pages/local";

describe("the local server's GPU line", () => {
  it("shows what macOS reports", () => {
    expect(gpuLine({ device_utilization_percent: 37, in_use_memory_bytes: 5 * 1024 ** 3, note: "whole GPU" })).toBe("GPU 37% · 5.0 GiB");
    expect(gpuLine({ device_utilization_percent: 0, in_use_memory_bytes: null, note: "" })).toBe("GPU 0%");
  });
  it("says why there is no figure", () => {
    expect(gpuLine({ note: "no GPU reading on Linux" })).toBe("GPU: no GPU reading on Linux");
    expect(gpuLine(null)).toBe("GPU: not measured here");
  });
});
