// Turns `/api/usage` answers into chart data: one shared x axis (bucket starts, seconds, as
// uPlot wants) and one series per group, with empty buckets filled with 0.
import type { Bucket, UsagePoint } from "./api";

export type Metric = "requests" | "tokens" | "cost" | "p50" | "p95" | "errors";
export const METRICS: { id: Metric; label: string }[] = [
  { id: "requests", label: "Requests" },
  { id: "tokens", label: "Tokens" },
  { id: "cost", label: "Cost (USD)" },
  { id: "p50", label: "Latency p50 (ms)" },
  { id: "p95", label: "Latency p95 (ms)" },
  { id: "errors", label: "Errors" },
];

export type Range = "1h" | "24h" | "7d" | "30d";
export const RANGES: Range[] = ["1h", "24h", "7d", "30d"];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function bucketMs(bucket: Bucket): number {
  return bucket === "minute" ? MINUTE : bucket === "hour" ? HOUR : DAY;
}

/** The query window for a range, aligned to whole buckets, ending at the current bucket's end. */
export function rangeWindow(range: Range, now: number): { from: number; to: number; bucket: Bucket } {
  const [span, bucket]: [number, Bucket] =
    range === "1h" ? [HOUR, "minute"] : range === "24h" ? [DAY, "hour"] : range === "7d" ? [7 * DAY, "hour"] : [30 * DAY, "day"];
  const size = bucketMs(bucket);
  const to = Math.floor(now / size) * size + size;
  return { from: to - span, to, bucket };
}

export function metricValue(p: UsagePoint, metric: Metric): number {
  switch (metric) {
    case "requests":
      return p.requests;
    case "tokens":
      return (p.input_tokens ?? 0) + (p.output_tokens ?? 0);
    case "cost":
      return p.cost_usd ?? 0;
    case "p50":
      return p.p50_latency_ms ?? 0;
    case "p95":
      return p.p95_latency_ms ?? 0;
    case "errors":
      return p.errors ?? 0;
  }
}

export interface ChartData {
  /** Bucket starts, Unix seconds. */
  xs: number[];
  groups: string[];
  /** One array per group, aligned with `xs`. */
  values: number[][];
}

/** Latencies are not additive, so they are never stacked. */
export function stackable(metric: Metric): boolean {
  return metric !== "p50" && metric !== "p95";
}

export function buildSeries(
  points: UsagePoint[],
  metric: Metric,
  window: { from: number; to: number; bucket: Bucket },
  order?: string[],
  /** The name of points without a group: the whole series when ungrouped, else "unknown". */
  nullGroup = "all",
): ChartData {
  const size = bucketMs(window.bucket);
  const start = Math.floor(window.from / size) * size;
  const xsMs: number[] = [];
  for (let t = start; t < window.to; t += size) xsMs.push(t);
  const index = new Map(xsMs.map((t, i) => [t, i]));
  const totals = new Map<string, number>();
  const byGroup = new Map<string, number[]>();
  for (const p of points) {
    const group = p.group ?? nullGroup;
    const i = index.get(Math.floor(p.ts_ms / size) * size);
    if (i === undefined) continue;
    let row = byGroup.get(group);
    if (!row) {
      row = new Array(xsMs.length).fill(0);
      byGroup.set(group, row);
    }
    const v = metricValue(p, metric);
    row[i] += v;
    totals.set(group, (totals.get(group) ?? 0) + v);
  }
  // Biggest groups first, so the legend and the stack read top-down.
  // A given order (the requests chart's) keeps each group's place and colour the same on every chart.
  const rank = (g: string) => {
    const i = order?.indexOf(g) ?? -1;
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const groups = [...byGroup.keys()].sort(
    (a, b) => rank(a) - rank(b) || (totals.get(b) ?? 0) - (totals.get(a) ?? 0) || a.localeCompare(b),
  );
  return { xs: xsMs.map((t) => t / 1000), groups, values: groups.map((g) => byGroup.get(g)!) };
}

/** Cumulative sums for a stacked area chart: row k is groups 0..=k added up. */
export function stack(values: number[][]): number[][] {
  const out: number[][] = [];
  values.forEach((row, k) => out.push(row.map((v, i) => v + (k > 0 ? out[k - 1][i] : 0))));
  return out;
}

/** Local vs cloud share of requests from a `group_by=locality` answer. */
export function localShare(points: UsagePoint[]): { local: number; cloud: number } {
  let local = 0;
  let cloud = 0;
  for (const p of points) {
    if (p.group === "local") local += p.requests;
    else if (p.group === "cloud") cloud += p.requests;
  }
  return { local, cloud };
}

/**
 * What the local requests would have cost in the cloud: the gateway prices each request served
 * locally at its task class's first cloud model (`saved_usd`); requests without a class, or whose
 * class has no priced cloud model, add nothing. `null` when nothing was served locally.
 */
export function localSavings(points: UsagePoint[]): { saved: number | null; localRequests: number } {
  let saved = 0;
  let localRequests = 0;
  for (const p of points) {
    if (p.group !== "local") continue;
    localRequests += p.requests;
    saved += p.saved_usd ?? 0;
  }
  return { saved: localRequests === 0 ? null : saved, localRequests };
}
