import { describe, expect, it } from "vitest";
import type { UsagePoint } from "./api";
import { buildSeries, localSavings, localShare, rangeWindow, stack, stackable } from "./series";

const H = 3_600_000;
const point = (ts_ms: number, group: string | undefined, requests: number, extra: Partial<UsagePoint> = {}): UsagePoint => ({
  ts_ms,
  group,
  requests,
  errors: 0,
  input_tokens: 10 * requests,
  output_tokens: 5 * requests,
  cost_usd: 0.01 * requests,
  p50_latency_ms: 100,
  p95_latency_ms: 300,
  ...extra,
});

describe("rangeWindow", () => {
  it("aligns to whole buckets and picks a bucket per range", () => {
    const now = Date.UTC(2026, 10, 22, 5, 30, 15);
    const w = rangeWindow("24h", now);
    expect(w.bucket).toBe("hour");
    expect(w.to).toBe(Date.UTC(2026, 10, 22, 6));
    expect(w.to - w.from).toBe(24 * H);
    expect(rangeWindow("1h", now).bucket).toBe("minute");
    expect(rangeWindow("7d", now).bucket).toBe("hour");
    expect(rangeWindow("30d", now).bucket).toBe("day");
  });
});

describe("buildSeries", () => {
  const window = { from: 0, to: 4 * H, bucket: "hour" as const };
  const points = [point(0, "aider", 2), point(H, "claude-code", 5), point(H, "aider", 1), point(3 * H, "claude-code", 1)];

  it("fills empty buckets, sorts groups by total, x in seconds", () => {
    const s = buildSeries(points, "requests", window);
    expect(s.xs).toEqual([0, 3600, 7200, 10800]);
    expect(s.groups).toEqual(["claude-code", "aider"]);
    expect(s.values).toEqual([
      [0, 5, 0, 1],
      [2, 1, 0, 0],
    ]);
  });

  it("keeps a given group order, so colours match across charts", () => {
    expect(buildSeries(points, "cost", window, ["aider", "claude-code"]).groups).toEqual(["aider", "claude-code"]);
  });

  it("adds input and output tokens; ignores points outside the window", () => {
    const s = buildSeries([...points, point(10 * H, "aider", 100)], "tokens", window);
    expect(s.values[1]).toEqual([30, 15, 0, 0]);
  });

  it("calls an ungrouped series 'all'", () => {
    const s = buildSeries([point(0, undefined, 3)], "cost", window);
    expect(s.groups).toEqual(["all"]);
    expect(s.values[0][0]).toBeCloseTo(0.03);
    expect(buildSeries([point(0, undefined, 3)], "requests", window, undefined, "unknown").groups).toEqual(["unknown"]);
  });

  it("stacks cumulatively, never latencies", () => {
    expect(stack([[1, 2], [3, 4], [5, 6]])).toEqual([[1, 2], [4, 6], [9, 12]]);
    expect(stackable("requests")).toBe(true);
    expect(stackable("p95")).toBe(false);
  });
});

describe("localShare", () => {
  it("counts local and cloud requests", () => {
    expect(localShare([point(0, "local", 3), point(H, "cloud", 1), point(H, "local", 2)])).toEqual({ local: 5, cloud: 1 });
  });

  it("sums what the gateway priced the local requests at on their class's cloud model", () => {
    const p = (group: string, requests: number, saved?: number): UsagePoint => ({
      ts_ms: 0, group, requests, errors: 0, input_tokens: 1, output_tokens: 1, cost_usd: 0, saved_usd: saved, p50_latency_ms: 0, p95_latency_ms: 0,
    });
    expect(localSavings([p("cloud", 4, 0), p("local", 2, 0.01), p("local", 3, 0.02), p("local", 1)])).toEqual({ saved: 0.03, localRequests: 6 });
    expect(localSavings([p("cloud", 4, 0)])).toEqual({ saved: null, localRequests: 0 });
    expect(localSavings([p("local", 2, 0)])).toEqual({ saved: 0, localRequests: 2 });
  });
});
