import { describe, expect, it } from "vitest";
import type { LogEntry } from "./api";
import { detailGroups, fellBack } from "./logdetail";

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
});
