// The response cache as the dashboard shows it: the Overview's hit rate, the Live log's badge
// and filter, the detail's rows, and the settings form's values (TTL, size cap) both ways.
import type { CacheConfig, CacheFilter, CacheMode, LogEntry, UsageSummary } from "./api";
import { fmtCost, fmtPercent, plural } from "./format";

export const CACHE_MODES: CacheMode[] = ["off", "exact", "semantic"];

/** Hits over lookups ("67%"); "–" when nothing was looked up. */
export function fmtHitRate(hits: number, misses: number): string {
  return fmtPercent(hits, hits + misses);
}

/** The Overview's cache card from `/api/usage/summary`; null when the gateway has no cache fields. */
export function cacheCard(s: UsageSummary): { value: string; extra: string } | null {
  if (s.cache_hits === undefined && s.cache_misses === undefined) return null;
  const hits = s.cache_hits ?? 0;
  const lookups = hits + (s.cache_misses ?? 0);
  if (!lookups) return { value: "–", extra: "no cache lookups" };
  return { value: fmtHitRate(hits, lookups - hits), extra: `${fmtCost(s.cache_saved_usd ?? 0)} saved · ${hits} of ${plural(lookups, "lookup")}` };
}

/** A semantic hit's similarity, as the badge and the detail print it. */
function similarity(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "" : ` ${v.toFixed(digits)}`;
}

/** The Live log row's badge: "cache · exact", "cache · semantic 0.97"; null unless the cache answered. */
export function cacheBadge(e: LogEntry): string | null {
  if (e.cache === "hit-exact") return "cache · exact";
  if (e.cache === "hit-semantic") return `cache · semantic${similarity(e.cache_similarity, 2)}`;
  return null;
}

/** The Live log's cache filter: what the select offers, and the `?cache=` each choice sends. */
export type CacheChoice = "all" | "hits" | "misses";
export const CACHE_CHOICES: { id: CacheChoice; label: string }[] = [
  { id: "all", label: "All" },
  { id: "hits", label: "Hits" },
  { id: "misses", label: "Misses" },
];
export function cacheFilter(choice: CacheChoice): CacheFilter | undefined {
  return choice === "hits" ? "hit" : choice === "misses" ? "miss" : undefined;
}

/** Whether a row (from the live stream) passes `?cache=`, as the gateway filters the list. */
export function matchesCache(filter: CacheFilter | undefined, e: LogEntry): boolean {
  switch (filter) {
    case undefined:
      return true;
    case "hit":
      return e.cache === "hit-exact" || e.cache === "hit-semantic";
    case "exact":
      return e.cache === "hit-exact";
    case "semantic":
      return e.cache === "hit-semantic";
    case "miss":
      return e.cache === "miss";
  }
}

/** The detail's "Cache" rows; none for rows from gateways without the cache (no `cache` field). */
export function cacheDetailRows(e: LogEntry): [string, string][] {
  if (e.cache === undefined) return [];
  const outcome =
    e.cache === "hit-exact" ? "hit (exact)" : e.cache === "hit-semantic" ? "hit (semantic)" : e.cache === "miss" ? "miss" : "not consulted";
  const rows: [string, string][] = [["Cache", outcome]];
  if (e.cache === "hit-semantic") rows.push(["Similarity", similarity(e.cache_similarity, 4).trim() || "–"]);
  if (e.cache === "hit-exact" || e.cache === "hit-semantic") rows.push(["Saved by the cache", fmtCost(e.cache_saved_usd)]);
  return rows;
}

const UNITS: [suffix: string, secs: number][] = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]];

/** Seconds as the config writes them: "1h", "90m", "45s". */
export function fmtDuration(secs: number): string {
  for (const [suffix, size] of UNITS) if (secs >= size && secs % size === 0) return `${secs / size}${suffix}`;
  return `${secs}s`;
}

/** "1h", "30m", "2d", "45s" or plain seconds, as in `[cache] ttl`; null when it is none of these. */
export function parseDuration(text: string): number | null {
  const m = text.trim().match(/^(\d+)\s*([smhd]?)$/i);
  if (!m) return null;
  const size = UNITS.find(([suffix]) => suffix === (m[2].toLowerCase() || "s"))![1];
  return Number(m[1]) * size;
}

const MIB = 1024 * 1024;

/** The size cap in MiB, as the form shows it. */
export function fmtMiB(bytes: number): string {
  return String(Number((bytes / MIB).toFixed(2)));
}

/** The threshold as the form shows it: the gateway keeps an f32 (0.95 reads back 0.949999988…). */
export function fmtThreshold(t: number): string {
  return String(Number(t.toFixed(4)));
}

/** What the settings form holds, as typed. */
export interface CacheForm {
  mode: string;
  threshold: string;
  ttl: string;
  maxMiB: string;
  embedding: string;
}

/**
 * The partial update (`PUT /api/cache/config`) for what changed in the form. Only what cannot be
 * turned into the API's types is refused here; the gateway judges the values (its 400 names the
 * field).
 */
export function cacheChanges(current: CacheConfig, form: CacheForm): { body: Partial<CacheConfig> } | { error: string } {
  const body: Partial<CacheConfig> = {};
  if (form.mode !== current.mode) body.mode = form.mode as CacheMode;
  const threshold = Number(form.threshold);
  if (form.threshold.trim() === "" || !Number.isFinite(threshold)) return { error: "Similarity threshold: a number such as 0.95." };
  if (form.threshold.trim() !== fmtThreshold(current.threshold)) body.threshold = threshold;
  const ttl = parseDuration(form.ttl);
  if (ttl === null) return { error: "TTL: seconds, or a number with s, m, h or d (1h, 30m)." };
  if (ttl !== current.ttl_secs) body.ttl_secs = ttl;
  const mib = Number(form.maxMiB);
  if (form.maxMiB.trim() === "" || !Number.isFinite(mib)) return { error: "Size cap: a number of MiB such as 256." };
  const maxBytes = Math.round(mib * MIB);
  if (fmtMiB(maxBytes) !== fmtMiB(current.max_bytes)) body.max_bytes = maxBytes;
  const embedding = form.embedding.trim() || null;
  if (embedding !== (current.embedding_model ?? null)) body.embedding_model = embedding;
  return { body };
}

/** Catalog models that look like embedding models, to suggest for the semantic layer. */
export function looksLikeEmbedding(id: string): boolean {
  return /embed|(^|[/_-])(bge|e5|gte|minilm)([_-]|$)|nomic|arctic-embed|mxbai/i.test(id);
}
