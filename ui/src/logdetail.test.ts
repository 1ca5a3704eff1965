import { describe, expect, it } from "vitest";
import type { LogEntry } from "./api";
import { ATTEMPT_COLUMNS, attemptRows, detailGroups, fellBack } from "./logdetail";

const entry = (extra: Partial<LogEntry> = {}): LogEntry => ({
  id: 7, ts_ms: Date.UTC(2026, 10, 22, 7, 12, 22), client: "aider", task_class: null, family: "openai", endpoint: "chat completions",
  requested_model: "cloud/gpt-4o", provider: "cloud", model: "gpt-4o", local: false, attempts: 1, status: 200, outcome: "success",
  error_type: null, latency_ms: 812.4, ttft_ms: 120.5, input_tokens: 1200, output_tokens: 340, cached_tokens: 0, reasoning_tokens: null,
  cost_usd: 0.0064, stream: true, user_agent: "aider/0.86", session_id: null, ...extra,
});

const value = (e: LogEntry, label: string) => detailGroups(e, "UTC").flatMap((g) => g.rows).find(([l]) => l === label)?.[1];

describe("log detail", () => {
  it("names the fallback when another model served the request", () => {
    const e = entry({ requested_model: "cloud/status-500", attempts: 2 });
    expect(fellBack(e)).toBe(true);
    expect(value(e, "Fallback")).toBe("yes: cloud/status-500 → cloud/gpt-4o");
    expect(value(e, "Attempts")).toBe("2");
  });

  it("tells a retry on the same model from a fallback", () => {
    const e = entry({ attempts: 2 });
    expect(fellBack(e)).toBe(false);
    expect(value(e, "Fallback")).toBe("retried on the same model");
    expect(value(entry(), "Fallback")).toBe("no");
  });

  it("a class request served by its model is no fallback", () => {
    const e = entry({ requested_model: "coding", task_class: "coding", attempts: 1 });
    expect(value(e, "Fallback")).toBe("no");
    expect(value(e, "Class")).toBe("coding");
  });

  it("formats timings, tokens and cost, with dashes for what is unknown", () => {
    const e = entry();
    expect(value(e, "Latency")).toBe("812 ms");
    expect(value(e, "First token")).toBe("121 ms");
    expect(value(e, "Input tokens")).toBe("1200");
    expect(value(e, "Reasoning tokens")).toBe("–");
    expect(value(e, "Cost")).toBe("$0.0064");
    expect(value(e, "Served by")).toBe("cloud/gpt-4o");
    expect(value(entry({ local: true, provider: "mlx", model: "q" }), "Served by")).toBe("mlx/q (local)");
    expect(value(entry({ status: 500, outcome: "error", provider: null, model: null, error_type: "upstream_status" }), "Served by")).toBe("–");
  });

  it("shows the request id, and the final error message only when the request failed", () => {
    expect(value(entry({ request_id: "req_0123456789abcdef01234567" }), "Request id")).toBe("req_0123456789abcdef01234567");
    expect(value(entry(), "Request id")).toBe("–");
    expect(value(entry(), "Error message")).toBeUndefined();
    const failed = entry({ status: 404, outcome: "error", error_type: "model_not_found", error_message: "no model nowhere/model" });
    expect(value(failed, "Error message")).toBe("no model nowhere/model");
  });

  it("lists each attempt in order: provider, model, key reference, status, error, duration", () => {
    const e = entry({
      attempts: 3,
      attempts_trail: [
        { provider: "dead", model: "any", key: null, status: null, error_type: "upstream_unreachable", error: "connection refused", duration_ms: 1.25 },
        { provider: "flaky", model: "status-503", key: "****0001", status: 503, error_type: "upstream_status", error: "upstream said 503", duration_ms: 42.4 },
        { provider: "cloud", model: "gpt-4o", key: "env.OPENAI_API_KEY", status: 200, error_type: null, error: null, duration_ms: 1520 },
      ],
    });
    expect(ATTEMPT_COLUMNS).toEqual(["#", "Provider", "Model", "Key", "Status", "Error", "Duration"]);
    expect(attemptRows(e)).toEqual([
      ["1", "dead", "any", "–", "–", "upstream_unreachable: connection refused", "1.3 ms"],
      ["2", "flaky", "status-503", "****0001", "503", "upstream_status: upstream said 503", "42 ms"],
      ["3", "cloud", "gpt-4o", "env.OPENAI_API_KEY", "200", "–", "1.52 s"],
    ]);
  });

  it("has no attempt rows when the request made none or the row predates the trail", () => {
    expect(attemptRows(entry({ attempts: 0, attempts_trail: [] }))).toEqual([]);
    expect(attemptRows(entry())).toEqual([]);
  });
});

describe("log detail: the cache", () => {
  it("has a Cache group for rows that carry the cache fields, none for older rows", () => {
    expect(detailGroups(entry()).map((g) => g.title)).not.toContain("Cache");
    const hit = entry({ cache: "hit-semantic", cache_similarity: 0.9731, cache_saved_usd: 0.0064, cost_usd: 0, attempts: 0 });
    expect(detailGroups(hit, "UTC").find((g) => g.title === "Cache")?.rows).toEqual([
      ["Cache", "hit (semantic)"],
      ["Similarity", "0.9731"],
      ["Saved by the cache", "$0.0064"],
    ]);
    expect(value(hit, "Fallback")).toBe("no");
  });
});
