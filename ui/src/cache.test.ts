import { describe, expect, it } from "vitest";
import type { CacheConfig, LogEntry, UsageSummary } from "./api";
import { cacheBadge, cacheCard, cacheChanges, cacheDetailRows, cacheFilter, fmtDuration, fmtHitRate, fmtMiB, fmtThreshold, looksLikeEmbedding, matchesCache, parseDuration } from "./cache";

const row = (extra: Partial<LogEntry> = {}): LogEntry => ({ id: 1, ts_ms: 0, local: false, status: 200, outcome: "success", latency_ms: 1, ...extra });
const summary = (extra: Partial<UsageSummary> = {}): UsageSummary => ({ since_ms: 0, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, ...extra });
const config: CacheConfig = { mode: "exact", ttl_secs: 3600, threshold: 0.95, max_bytes: 256 * 1024 * 1024, embedding_model: null };
const form = { mode: "exact", threshold: "0.95", ttl: "1h", maxMiB: "256", embedding: "" };

describe("cache", () => {
  it("hit rate: hits over lookups, a dash when nothing was looked up", () => {
    expect(fmtHitRate(1, 3)).toBe("25%");
    expect(fmtHitRate(2, 1)).toBe("67%");
    expect(fmtHitRate(0, 5)).toBe("0%");
    expect(fmtHitRate(4, 0)).toBe("100%");
    expect(fmtHitRate(0, 0)).toBe("–");
  });

  it("the Overview card: rate and money saved; none without the summary's cache fields", () => {
    expect(cacheCard(summary())).toBeNull();
    expect(cacheCard(summary({ cache_hits: 0, cache_misses: 0, cache_saved_usd: 0 }))).toEqual({ value: "–", extra: "no cache lookups" });
    expect(cacheCard(summary({ cache_hits: 2, cache_misses: 1, cache_saved_usd: 0.0042 }))).toEqual({ value: "67%", extra: "$0.0042 saved · 2 of 3 lookups" });
    expect(cacheCard(summary({ cache_hits: 1, cache_misses: 0 }))).toEqual({ value: "100%", extra: "$0 saved · 1 of 1 lookup" });
  });

  it("badges only the rows the cache answered", () => {
    expect(cacheBadge(row({ cache: "hit-exact" }))).toBe("cache · exact");
    expect(cacheBadge(row({ cache: "hit-semantic", cache_similarity: 0.9731 }))).toBe("cache · semantic 0.97");
    expect(cacheBadge(row({ cache: "hit-semantic", cache_similarity: null }))).toBe("cache · semantic");
    expect(cacheBadge(row({ cache: "miss" }))).toBeNull();
    expect(cacheBadge(row({ cache: null }))).toBeNull();
    expect(cacheBadge(row())).toBeNull();
  });

  it("maps the filter to ?cache= and filters streamed rows the same way", () => {
    expect(cacheFilter("all")).toBeUndefined();
    expect(cacheFilter("hits")).toBe("hit");
    expect(cacheFilter("misses")).toBe("miss");
    const exact = row({ cache: "hit-exact" });
    const semantic = row({ cache: "hit-semantic" });
    const miss = row({ cache: "miss" });
    const off = row({ cache: null });
    const rows = [exact, semantic, miss, off, row()];
    expect(rows.filter((r) => matchesCache(undefined, r))).toHaveLength(5);
    expect(rows.filter((r) => matchesCache("hit", r))).toEqual([exact, semantic]);
    expect(rows.filter((r) => matchesCache("exact", r))).toEqual([exact]);
    expect(rows.filter((r) => matchesCache("semantic", r))).toEqual([semantic]);
    expect(rows.filter((r) => matchesCache("miss", r))).toEqual([miss]);
  });

  it("detail rows: outcome, a semantic hit's similarity, and what a hit saved", () => {
    expect(cacheDetailRows(row())).toEqual([]);
    expect(cacheDetailRows(row({ cache: null }))).toEqual([["Cache", "not consulted"]]);
    expect(cacheDetailRows(row({ cache: "miss" }))).toEqual([["Cache", "miss"]]);
    expect(cacheDetailRows(row({ cache: "hit-exact", cache_saved_usd: 0.0042 }))).toEqual([["Cache", "hit (exact)"], ["Saved by the cache", "$0.0042"]]);
    expect(cacheDetailRows(row({ cache: "hit-semantic", cache_similarity: 0.97312, cache_saved_usd: null }))).toEqual([
      ["Cache", "hit (semantic)"],
      ["Similarity", "0.9731"],
      ["Saved by the cache", "–"],
    ]);
  });

  it("TTLs both ways, as the config writes them", () => {
    expect(fmtDuration(3600)).toBe("1h");
    expect(fmtDuration(86_400 * 2)).toBe("2d");
    expect(fmtDuration(5400)).toBe("90m");
    expect(fmtDuration(61)).toBe("61s");
    expect(fmtDuration(0)).toBe("0s");
    expect(parseDuration("1h")).toBe(3600);
    expect(parseDuration(" 30m ")).toBe(1800);
    expect(parseDuration("2D")).toBe(172_800);
    expect(parseDuration("45")).toBe(45);
    expect(parseDuration("45s")).toBe(45);
    expect(parseDuration("1.5h")).toBeNull();
    expect(parseDuration("soon")).toBeNull();
    expect(parseDuration("")).toBeNull();
  });

  it("the form sends only what changed, and refuses only what is not a value at all", () => {
    expect(cacheChanges(config, form)).toEqual({ body: {} });
    expect(cacheChanges(config, { ...form, mode: "semantic", embedding: " ollama/nomic-embed-text " })).toEqual({
      body: { mode: "semantic", embedding_model: "ollama/nomic-embed-text" },
    });
    expect(cacheChanges(config, { ...form, ttl: "30m", maxMiB: "64", threshold: "0.9" })).toEqual({ body: { ttl_secs: 1800, max_bytes: 64 * 1024 * 1024, threshold: 0.9 } });
    // Out of range is the gateway's call (its 400 names the field).
    expect(cacheChanges(config, { ...form, threshold: "1.5" })).toEqual({ body: { threshold: 1.5 } });
    expect(cacheChanges({ ...config, embedding_model: "ollama/nomic-embed-text" }, form)).toEqual({ body: { embedding_model: null } });
    expect(cacheChanges(config, { ...form, ttl: "soon" })).toHaveProperty("error");
    expect(cacheChanges(config, { ...form, threshold: "" })).toHaveProperty("error");
    expect(cacheChanges(config, { ...form, maxMiB: "lots" })).toHaveProperty("error");
    // The gateway's f32 threshold shows as typed and is not sent back unless edited.
    expect(fmtThreshold(0.949999988079071)).toBe("0.95");
    expect(cacheChanges({ ...config, threshold: 0.949999988079071 }, form)).toEqual({ body: {} });
    expect(cacheChanges({ ...config, threshold: 0.949999988079071 }, { ...form, threshold: "0.96" })).toEqual({ body: { threshold: 0.96 } });
    // A cap that is not whole MiB shows rounded and is not sent back unless edited.
    const odd = { ...config, max_bytes: 1_000_000 };
    expect(fmtMiB(odd.max_bytes)).toBe("0.95");
    expect(cacheChanges(odd, { ...form, maxMiB: fmtMiB(odd.max_bytes) })).toEqual({ body: {} });
  });

  it("suggests catalog models that look like embedding models", () => {
    for (const id of ["ollama/nomic-embed-text", "openai/text-embedding-3-small", "lmstudio/bge-m3", "local/multilingual-e5-large", "ollama/all-minilm", "ollama/mxbai-embed-large"]) {
      expect(looksLikeEmbedding(id), id).toBe(true);
    }
    for (const id of ["openai/gpt-4o", "mlx/qwen2.5-coder-7b", "anthropic/claude-sonnet-4", "ollama/gemma3"]) {
      expect(looksLikeEmbedding(id), id).toBe(false);
    }
  });
});
