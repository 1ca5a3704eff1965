// The Live log's detail view of one request, as labelled groups of fields: what was asked and
// what served it (attempts, fallback), the outcome, timings, tokens and cost, and the caller.
import type { AttemptTrail, LogEntry } from "./api";
import { cacheDetailRows } from "./cache";
import { fmtCost, fmtMs } from "./format";

export interface DetailGroup {
  title: string;
  rows: [label: string, value: string][];
}

const dash = (v: unknown) => (v === null || v === undefined || v === "" ? "–" : String(v));
const count = (v: number | null | undefined) => (v === null || v === undefined ? "–" : String(v));

/** `provider/model`, or what was asked for when nothing served it. */
export function servedBy(e: LogEntry): string {
  return e.provider && e.model ? `${e.provider}/${e.model}` : "–";
}

/** A request fell back when it took more than one attempt and another model served it. */
export function fellBack(e: LogEntry): boolean {
  const served = servedBy(e);
  return (e.attempts ?? 1) > 1 && served !== "–" && e.requested_model !== served && e.requested_model !== e.model;
}

export function detailGroups(e: LogEntry, timeZone?: string): DetailGroup[] {
  const attempts = e.attempts ?? 1;
  const cache = cacheDetailRows(e);
  return [
    {
      title: "Routing",
      rows: [
        ["Request id", dash(e.request_id)],
        ["Requested model", dash(e.requested_model)],
        ["Served by", servedBy(e) + (e.local ? " (local)" : "")],
        ["Class", dash(e.task_class)],
        ["Attempts", String(attempts)],
        ["Fallback", fellBack(e) ? `yes: ${dash(e.requested_model)} → ${servedBy(e)}` : attempts > 1 ? "retried on the same model" : "no"],
      ],
    },
    {
      title: "Outcome",
      rows: [
        ["Status", String(e.status)],
        ["Outcome", e.outcome],
        ["Error", dash(e.error_type)],
        ...(e.error_message ? ([["Error message", e.error_message]] as [string, string][]) : []),
      ],
    },
    {
      title: "Timings",
      rows: [
        ["Started", new Date(e.ts_ms).toLocaleString(undefined, timeZone ? { timeZone } : undefined)],
        ["Latency", fmtMs(e.latency_ms)],
        ["First token", fmtMs(e.ttft_ms)],
        ["Streamed", e.stream ? "yes" : "no"],
      ],
    },
    {
      title: "Tokens and cost",
      rows: [
        ["Input tokens", count(e.input_tokens)],
        ["Output tokens", count(e.output_tokens)],
        ["Cached input tokens", count(e.cached_tokens as number | null | undefined)],
        ["Reasoning tokens", count(e.reasoning_tokens as number | null | undefined)],
        ["Cost", fmtCost(e.cost_usd)],
        ...(e.saved_usd != null ? ([["Saved vs. cloud", fmtCost(e.saved_usd)]] as [string, string][]) : []),
      ],
    },
    ...(cache.length ? [{ title: "Cache", rows: cache }] : []),
    {
      title: "Caller",
      rows: [
        ["Tool", dash(e.client)],
        ["User-Agent", dash(e.user_agent)],
        ["Session", dash(e.session_id)],
        ["API", `${dash(e.family)} ${dash(e.endpoint)}`],
      ],
    },
  ];
}

/** The columns of the detail's "Attempts" table. */
export const ATTEMPT_COLUMNS = ["#", "Provider", "Model", "Key", "Status", "Error", "Duration"];

/** An attempt's error: its kind and message (`upstream_status: …`), or a dash for the one that served. */
function attemptError(a: AttemptTrail): string {
  if (a.error_type && a.error) return `${a.error_type}: ${a.error}`;
  return dash(a.error_type ?? a.error);
}

/** The rows of the "Attempts" table, one per upstream attempt in order; none when the request made none. */
export function attemptRows(e: LogEntry): string[][] {
  return (e.attempts_trail ?? []).map((a, i) => [
    String(i + 1),
    dash(a.provider),
    dash(a.model),
    dash(a.key),
    count(a.status),
    attemptError(a),
    fmtMs(a.duration_ms),
  ]);
}
