import { describe, expect, it } from "vitest";
import { fmtBytes, fmtCost, fmtInt, fmtMs, fmtPercent, maskKey, plural, fmtCostTicks } from "./format";

describe("format", () => {
  it("abbreviates counts", () => {
    expect(fmtInt(0)).toBe("0");
    expect(fmtInt(9999)).toBe("9999");
    expect(fmtInt(12_345)).toBe("12.3k");
    expect(fmtInt(2_500_000)).toBe("2.5M");
    expect(fmtInt(3e9)).toBe("3B");
    expect(fmtInt(undefined)).toBe("–");
  });
  it("formats money, latency, shares and sizes", () => {
    expect(fmtCost(0)).toBe("$0");
    expect(fmtCost(0.00123)).toBe("$0.0012");
    expect(fmtCost(12.5)).toBe("$12.50");
    expect(fmtMs(85.4)).toBe("85 ms");
    expect(fmtMs(1.04)).toBe("1 ms");
    expect(fmtMs(0.45)).toBe("0.5 ms");
    expect(fmtMs(1234)).toBe("1.23 s");
    expect(fmtMs(null)).toBe("–");
    expect(fmtPercent(1, 4)).toBe("25%");
    expect(fmtPercent(0, 0)).toBe("–");
    expect(fmtBytes(512)).toBe("512 B");
    expect(fmtBytes(3 * 1024 * 1024)).toBe("3.0 MiB");
  });
  it("masks keys like the gateway", () => {
    expect(maskKey("sk-test-abcd")).toBe("****abcd");
    expect(maskKey("abc")).toBe("****");
  });
  it("counts in words", () => {
    expect(plural(1, "model")).toBe("1 model");
    expect(plural(0, "model")).toBe("0 models");
    expect(plural(3, "error")).toBe("3 errors");
  });
  it("labels cost ticks with the decimals their spacing needs", () => {
    expect(fmtCostTicks([0, 0.00002, 0.00004, 0.00006])).toEqual(["$0", "$0.00002", "$0.00004", "$0.00006"]);
    expect(fmtCostTicks([0, 0.25, 0.5, 0.75, 1])).toEqual(["$0", "$0.25", "$0.50", "$0.75", "$1.00"]);
    expect(fmtCostTicks([0, 5, 10])).toEqual(["$0", "$5.00", "$10.00"]);
    expect(fmtCostTicks([0, 0.0001, 0.0002])).toEqual(["$0", "$0.0001", "$0.0002"]);
  });
});
